"""``aiposture mcp``: run the MCP server and add it to AI assistants' configuration.

``aiposture mcp serve`` runs the server (stdio by default, ``--http`` for streamable
HTTP on loopback with bearer tokens); ``aiposture mcp install CLIENT`` prints the entry
that launches it from Claude Desktop, Cursor or VS Code, and with ``--write`` merges the
entry into the client's configuration file (keeping every other server, after a backup).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from aiposture.errors import ConfigError

__all__ = ["Client", "client_config_path", "install_entry", "mcp_app", "merge_entry"]

mcp_app = typer.Typer(
    help="The MCP server: let AI assistants query posture and request approvals.",
    no_args_is_help=True,
)

TOOLSETS = ("inventory", "risk", "monitor", "approvals")
#: Name of the server entry in the clients' configuration.
ENTRY_NAME = "aiposture"


class Client(StrEnum):
    """AI assistants whose MCP configuration ``install`` writes."""

    CLAUDE_DESKTOP = "claude-desktop"
    CURSOR = "cursor"
    VSCODE = "vscode"


def _config_option(ctx: typer.Context, given: Path | None) -> Path | None:
    if given is not None:
        return given
    root = ctx.find_root()
    value = root.params.get("config")
    return value if isinstance(value, Path) else None


def _toolsets(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - set(TOOLSETS))
    if unknown or not names:
        raise ConfigError(
            f"unknown toolset(s) {', '.join(unknown) or '(none given)'}: "
            f"choose from {', '.join(TOOLSETS)}"
        )
    return names


def _indexes(raw: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw:
        name, sep, folder = item.partition("=")
        name, folder = name.strip(), folder.strip()
        if not sep or not name or not folder:
            raise ConfigError(f"--index {item!r}: expected NAME=FOLDER")
        path = Path(os.path.expanduser(folder)).resolve()
        if not path.is_dir():
            raise ConfigError(f"--index {name}: no such folder {path}")
        out[name] = str(path)
    return out


@mcp_app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP at /mcp instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on (HTTP).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port (HTTP).")] = 8765,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="AIPOSTURE_DB",
            help="Store URL (sqlite:///path, a file path, or postgresql+psycopg://...).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="aiposture configuration (TOML); HTTP tokens in mcp.tokens."),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(help="Identity of a stdio session (default user@host)."),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="No tool that writes (no request_approval).")
    ] = False,
    toolsets: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated toolsets to offer ({','.join(TOOLSETS)}; all)."),
    ] = None,
    index: Annotated[
        list[str] | None,
        typer.Option("--index", help="A leakage index the tools may use, as NAME=FOLDER."),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow listening on a non-loopback address."),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", help="Another host name clients use (remote set-ups)."),
    ] = None,
) -> None:
    """Run the MCP server (stdio by default; --http for streamable HTTP on loopback).

    Over HTTP every request needs a bearer token: the configuration's mcp.tokens table
    (SHA-256 digests of the tokens) or AIPOSTURE_MCP_TOKENS=principal:token,...
    """
    from aiposture.mcp_server.server import ServerConfig
    from aiposture.mcp_server.transport import serve
    from aiposture.settings import Settings

    cfg_path = _config_option(ctx, config)
    settings = Settings.load(cfg_path)
    limits = settings.mcp
    fields: dict[str, Any] = {
        "db": db,
        "config": str(cfg_path) if cfg_path is not None else None,
        "read_only": read_only,
        "calls_per_minute": limits.calls_per_minute,
        "max_items": limits.max_items,
        "excerpt_chars": limits.excerpt_chars,
    }
    base = Path(settings.source).parent if settings.source else Path.cwd()
    configured = {name: str(base / folder) for name, folder in limits.indexes.items()}
    if principal is not None:
        if not principal.strip():
            raise ConfigError("--principal must not be empty")
        fields["principal"] = principal.strip()
    sets = _toolsets(toolsets)
    if sets is not None:
        fields["toolsets"] = sets
    fields["indexes"] = {**configured, **(_indexes(index) if index else {})}
    serve(
        ServerConfig(**fields),
        transport="http" if http else "stdio",
        host=host,
        port=port,
        allow_remote=allow_remote,
        extra_hosts=tuple(allowed_host or ()),
    )


def client_config_path(
    client: Client,
    *,
    home: Path | None = None,
    platform: str = sys.platform,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The user-level MCP configuration file of ``client``.

    Args:
        client: The assistant.
        home: The user's home folder (default: the current user's).
        platform: ``linux``, ``darwin`` or ``win32``, as :data:`sys.platform` names them.
        env: Environment (``APPDATA`` on Windows, ``XDG_CONFIG_HOME`` elsewhere).
    """
    from aiposture.discovery.mcp_clients import app_data_dir

    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    appdata = app_data_dir(home, platform, env)
    if client is Client.CLAUDE_DESKTOP:
        return appdata / "Claude" / "claude_desktop_config.json"
    if client is Client.CURSOR:
        return home / ".cursor" / "mcp.json"
    return appdata / "Code" / "User" / "mcp.json"


def _servers_key(client: Client) -> str:
    return "servers" if client is Client.VSCODE else "mcpServers"


def install_entry(
    client: Client,
    *,
    db: str | None = None,
    config: Path | None = None,
    principal: str | None = None,
    read_only: bool = False,
    toolsets: frozenset[str] | None = None,
    python: str | None = None,
) -> dict[str, Any]:
    """The server entry that launches ``python -m aiposture.mcp_server`` over stdio.

    The interpreter is this one (absolute path), so the assistant need not find aiposture
    on its PATH; a store given as a file path and the configuration are made absolute.
    """
    args = ["-m", "aiposture.mcp_server"]
    if db is not None:
        is_url = "://" in db
        args += ["--db", db if is_url else str(Path(os.path.expanduser(db)).resolve())]
    if config is not None:
        args += ["--config", str(Path(os.path.expanduser(config)).resolve())]
    if principal is not None:
        args += ["--principal", principal]
    if read_only:
        args.append("--read-only")
    if toolsets is not None:
        args += ["--toolsets", ",".join(t for t in TOOLSETS if t in toolsets)]
    entry: dict[str, Any] = {"command": python or sys.executable, "args": args}
    if client is Client.VSCODE:
        entry = {"type": "stdio", **entry}
    return entry


def _read_json(path: Path) -> dict[str, Any]:
    from aiposture.discovery.jsonc import JSONCError
    from aiposture.discovery.jsonc import parse as parse_jsonc

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; not changed") from None
    if not text.strip():
        return {}
    try:
        value, _ = parse_jsonc(text, max_depth=0)
    except JSONCError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc.reason} at line {exc.line}); not changed"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{path} does not hold a JSON object; not changed")
    return value


def merge_entry(
    document: Mapping[str, Any], client: Client, entry: Mapping[str, Any], name: str = ENTRY_NAME
) -> dict[str, Any]:
    """``document`` with ``entry`` set as server ``name``; everything else kept as it is.

    Raises:
        ConfigError: The servers member exists but is not a JSON object.
    """
    key = _servers_key(client)
    servers = document.get(key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{key!r} in the configuration is not a JSON object; not changed")
    return {**document, key: {**servers, name: dict(entry)}}


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _backup(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    shutil.copy2(path, backup)
    return backup


@mcp_app.command("install")
def install_cmd(
    ctx: typer.Context,
    client: Annotated[Client, typer.Argument(help="The assistant to configure.")],
    write: Annotated[
        bool,
        typer.Option("--write", help="Merge the entry into the client's configuration file."),
    ] = False,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="The configuration file to write (default: the client's user-level file; "
            "for a VS Code workspace, .vscode/mcp.json).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="AIPOSTURE_DB", help="Store the server reads."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="aiposture configuration (TOML).")
    ] = None,
    principal: Annotated[
        str | None, typer.Option(help="Identity of the assistant's session.")
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="No tool that writes (no request_approval).")
    ] = False,
    toolsets: Annotated[
        str | None, typer.Option(help=f"Comma-separated toolsets ({','.join(TOOLSETS)}).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the server entry.")] = ENTRY_NAME,
) -> None:
    """Print the configuration entry that runs the aiposture MCP server from CLIENT.

    With --write, merge it into the client's configuration file: other servers and
    settings are kept, the previous file is copied to FILE.<time>.bak first, and running
    it again changes nothing.
    """
    entry = install_entry(
        client,
        db=db,
        config=_config_option(ctx, config),
        principal=principal,
        read_only=read_only,
        toolsets=_toolsets(toolsets),
    )
    snippet = {_servers_key(client): {name: entry}}
    if not write:
        typer.echo(json.dumps(snippet, indent=2))
        return
    target = path if path is not None else client_config_path(client)
    current = _read_json(target) if target.exists() else {}
    merged = merge_entry(current, client, entry, name)
    if target.exists() and merged == current:
        typer.echo(f"{target}: already configured, not changed", err=True)
        return
    backup = _backup(target) if target.exists() else None
    _write_atomic(target, json.dumps(merged, indent=2) + "\n")
    typer.echo(json.dumps(snippet, indent=2))
    where = f" (previous file kept as {backup})" if backup is not None else ""
    typer.echo(f"wrote {name!r} to {target}{where}; restart {client.value} to use it", err=True)
