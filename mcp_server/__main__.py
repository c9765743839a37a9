"""``python -m aiposture.mcp_server [options]``: the same as ``aiposture mcp serve [options]``.

Desktop assistants launch this (see ``aiposture mcp install``); it speaks MCP over stdio
unless ``--http`` is given. ``--help`` lists the options.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the server with ``argv`` (default: the process's arguments); the exit code."""
    from aiposture.cli import main as cli_main

    return cli_main(["mcp", "serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
