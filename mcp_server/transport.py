"""Run the MCP server over stdio or streamable HTTP.

stdio is the default (desktop clients launch the server). Streamable HTTP serves ``/mcp``
with three guards, outermost first:

1. the ``Host`` and ``Origin`` headers must name this server (DNS-rebinding protection),
   checked before anything else so a page in a browser learns nothing, not even whether
   a token is needed;
2. a bearer token from the configuration or ``AIPOSTURE_MCP_TOKENS`` (never from a tool
   argument) must be presented; it names the principal of every call on the session;
3. the ``mcp`` package's own transport security (the same host/origin lists, content type).

The server refuses to start over HTTP without a token, and on an address other than
loopback unless ``allow_remote`` is set.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aiposture.errors import ConfigError
from aiposture.mcp_server.auth import SCOPE, StaticTokenVerifier, load_tokens

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from aiposture.mcp_server.server import ServerConfig

__all__ = [
    "DEFAULT_PORT",
    "MCP_PATH",
    "HostOriginGuard",
    "Transport",
    "check_http",
    "http_app",
    "is_loopback",
    "security_settings",
    "serve",
]

log = logging.getLogger(__name__)

Transport = Literal["stdio", "http"]
#: Port of the HTTP transport unless told otherwise.
DEFAULT_PORT = 8765
#: Path of the streamable HTTP endpoint.
MCP_PATH = "/mcp"
#: Listening addresses that are not names a client can use in a Host header.
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http(host: str, *, allow_remote: bool, tokens: Mapping[str, str]) -> None:
    """Refuse an unsafe HTTP set-up before anything listens.

    Raises:
        ConfigError: No token is configured, or ``host`` is not loopback and
            ``allow_remote`` is not set.
    """
    if not tokens:
        raise ConfigError(
            "the HTTP transport needs at least one bearer token: set [mcp] tokens in the "
            "configuration (SHA-256 digests) or AIPOSTURE_MCP_TOKENS=principal:token"
        )
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host!r}, which is not a loopback address; "
            "pass --allow-remote to serve other machines (behind TLS)"
        )


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def security_settings(
    host: str, port: int, *, extra_hosts: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The Host and Origin values accepted: loopback names on ``port``, plus the others named.

    Args:
        host: The address listened on (added when it is not a wildcard).
        port: The port listened on.
        extra_hosts: Further host names clients use to reach the server (remote set-ups).
    """
    names = ["127.0.0.1", "localhost", "[::1]"]
    for name in (host, *extra_hosts):
        if name not in _WILDCARDS and name not in names:
            names.append(name)
    hosts = [_authority(n, port) for n in names]
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class HostOriginGuard:
    """ASGI middleware refusing HTTP requests whose Host or Origin is not this server's.

    A foreign Host gets 421 (misdirected request), a foreign Origin 403, before the
    request reaches authentication or the MCP endpoint. Lifespan events pass through.

    Args:
        app: The application guarded.
        settings: The accepted hosts and origins (exact ``name:port`` values).
    """

    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in settings.allowed_hosts)
        self.origins = frozenset(o.lower() for o in settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            host = headers.get("host", "").lower()
            origin = headers.get("origin")
            if host not in self.hosts:
                log.warning("refused a request with Host %r", host[:100])
                refusal = PlainTextResponse("Invalid Host header", status_code=421)
                await refusal(scope, receive, send)
                return
            if origin is not None and origin.lower() not in self.origins:
                log.warning("refused a request with Origin %r", origin[:100])
                await PlainTextResponse("Invalid Origin header", status_code=403)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def auth_settings(host: str, port: int) -> AuthSettings:
    """The ``mcp`` auth settings of a resource server checking static bearer tokens."""
    return AuthSettings(
        issuer_url=f"http://{_authority(host if is_loopback(host) else '127.0.0.1', port)}",
        resource_server_url=None,
        required_scopes=[SCOPE],
    )


def http_app(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    extra_hosts: Sequence[str] = (),
) -> ASGIApp:
    """The streamable HTTP application of ``server`` at ``/mcp``, behind the Host/Origin guard.

    ``server`` must have been built with a token verifier and auth settings (see
    :func:`serve`); this function adds transport security only.
    """
    security = security_settings(host, port, extra_hosts=extra_hosts)
    inner = server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=security, host=host
    )
    return HostOriginGuard(inner, security)


def serve(
    config: ServerConfig,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    tokens: Mapping[str, str] | None = None,
    allow_remote: bool = False,
    extra_hosts: Sequence[str] = (),
) -> None:
    """Run the aiposture MCP server until it is stopped (stdin closes, or SIGINT/SIGTERM).

    Args:
        config: What the server serves and to whom (see ``ServerConfig``).
        transport: ``"stdio"`` (desktop clients) or ``"http"`` (streamable HTTP at ``/mcp``).
        host: Address to listen on (HTTP); loopback unless ``allow_remote``.
        port: Port to listen on (HTTP).
        tokens: SHA-256 hex digest of a bearer token -> principal (HTTP); None reads them
            with :func:`~aiposture.mcp_server.auth.load_tokens` from ``config.config`` and
            ``AIPOSTURE_MCP_TOKENS``.
        allow_remote: Allow a non-loopback ``host``.
        extra_hosts: Host names (besides loopback and ``host``) clients may use in the
            Host header.

    Raises:
        ConfigError: HTTP without tokens, a non-loopback host without ``allow_remote``,
            an unknown transport, or a bad configuration.
    """
    from aiposture.mcp_server.server import build_server

    if transport == "stdio":
        build_server(config).run("stdio")
        return
    if transport != "http":
        raise ConfigError(f"unknown transport {transport!r}: use stdio or http")
    digests = dict(tokens) if tokens is not None else load_tokens(config.config)
    check_http(host, allow_remote=allow_remote, tokens=digests)
    verifier = StaticTokenVerifier(digests, hashed=True)
    server = build_server(config, token_verifier=verifier, auth=auth_settings(host, port))
    app = http_app(server, host=host, port=port, extra_hosts=extra_hosts)

    import uvicorn

    log.info("aiposture MCP server on http://%s%s", _authority(host, port), MCP_PATH)
    uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False)
    ).run()
