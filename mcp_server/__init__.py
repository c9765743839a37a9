"""The aiposture MCP server (``aiposture.mcp_server``): a thin adapter over the SDK."""
