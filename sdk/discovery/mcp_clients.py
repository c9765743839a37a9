"""Where MCP clients keep their server configurations, and in which shape.

Six clients are known, each with user-level files (in the user's home or
application-data folder) and most with project-level files (in a workspace):

* **Claude Desktop**: ``claude_desktop_config.json`` in its ``Claude`` folder
  (macOS ``~/Library/Application Support/Claude``, Windows ``%APPDATA%\\Claude``;
  Linux builds use ``~/.config/Claude``); servers under ``mcpServers.<name>``.
* **Cursor**: ``~/.cursor/mcp.json`` (user) and ``.cursor/mcp.json`` (project);
  ``mcpServers.<name>``.
* **VS Code**: ``.vscode/mcp.json`` (workspace) and ``mcp.json`` in the user
  profile folder (``Code/User``, ``Code/User/profiles/<id>``), servers under
  ``servers.<name>``; older ``settings.json`` files (user or ``.vscode``) under
  ``mcp.servers.<name>``.
* **Windsurf**: ``~/.codeium/windsurf/mcp_config.json``; ``mcpServers.<name>``,
  remote servers with ``serverUrl``.
* **Continue**: ``~/.continue/config.json`` (deprecated) under
  ``experimental.modelContextProtocolServers`` (a list, each with a
  ``transport``); ``~/.continue/config.yaml`` under ``mcpServers`` (a list);
  block files ``.continue/mcpServers/*.yaml|*.yml|*.json`` in a workspace or in
  ``~/.continue`` (a YAML ``mcpServers`` list, a Claude-style JSON map, or one
  server per JSON file).
* **Claude Code**: ``.mcp.json`` (project); ``~/.claude.json`` with user-scope
  servers under top-level ``mcpServers`` and local-scope ones under
  ``projects.<path>.mcpServers``; ``managed-mcp.json`` (machine-wide, deployed
  by IT in a ``ClaudeCode``/``claude-code`` system folder).

Checked (2025-26) against the VS Code "MCP configuration reference", Claude
Code's MCP and managed-MCP pages and Continue's MCP and config.yaml pages, and
for Cursor, Windsurf and Claude Desktop against vendors' setup guides that cite
the clients' MCP pages. Claude Desktop has no official Linux build; the Linux
path is the one community builds use.

:func:`classify` says which client, scope and format a path is (by its name
and folders only, never its content); :func:`user_config_paths` lists the
user-level files of every client for a home folder on Linux, macOS or Windows.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePath

__all__ = [
    "CLIENTS",
    "VSCODE_APP_FOLDERS",
    "ConfigFile",
    "ConfigFormat",
    "ConfigScope",
    "McpClient",
    "app_data_dir",
    "classify",
    "looks_like_home",
    "user_config_paths",
]


@dataclass(frozen=True)
class McpClient:
    """An MCP client application.

    Attributes:
        id: Short stable identifier (``vscode``, ``claude-desktop``).
        name: Display name.
    """

    id: str
    name: str


#: The clients whose configurations are read, by id.
CLIENTS: dict[str, McpClient] = {
    c.id: c
    for c in (
        McpClient("claude-desktop", "Claude Desktop"),
        McpClient("claude-code", "Claude Code"),
        McpClient("cursor", "Cursor"),
        McpClient("vscode", "VS Code"),
        McpClient("windsurf", "Windsurf"),
        McpClient("continue", "Continue"),
    )
}


class ConfigScope(StrEnum):
    """Who a configuration file applies to."""

    USER = "user"  # one user, every project
    PROJECT = "project"  # one workspace (often committed to its repository)
    MANAGED = "managed"  # every user of a machine, deployed by IT


class ConfigFormat(StrEnum):
    """The shape of a configuration file: where its servers are."""

    MCP_SERVERS = "mcpServers"  # {"mcpServers": {"<name>": {...}}}
    VSCODE_MCP = "vscode-mcp"  # {"servers": {"<name>": {...}}, "inputs": [...]}
    VSCODE_SETTINGS = "vscode-settings"  # {"mcp": {"servers": {...}}} in settings.json
    CLAUDE_CODE_STATE = "claude-code-state"  # ~/.claude.json: mcpServers + projects.*.mcpServers
    CONTINUE_JSON = "continue-json"  # {"experimental": {"modelContextProtocolServers": [...]}}
    CONTINUE_YAML = "continue-yaml"  # config.yaml: mcpServers: [{name: ...}]
    CONTINUE_BLOCK = "continue-block"  # .continue/mcpServers/<file>: YAML list, JSON map or one


@dataclass(frozen=True)
class ConfigFile:
    """What a path is, as an MCP client configuration.

    Attributes:
        path: The file.
        client: The client that reads it.
        scope: User, project or managed.
        fmt: Where its servers are.
        workspace: The project folder it configures (project scope only).
        home: The home folder it lives in (user scope, when recognisable).
    """

    path: Path
    client: McpClient
    scope: ConfigScope
    fmt: ConfigFormat
    workspace: Path | None = None
    home: Path | None = None

    @property
    def is_yaml(self) -> bool:
        """Whether the file is YAML (else JSON with comments)."""
        return self.path.suffix.lower() in (".yaml", ".yml")


#: Folders (under the platform's application-data folder) of VS Code builds.
VSCODE_APP_FOLDERS: tuple[str, ...] = ("Code", "Code - Insiders", "VSCodium")
_VSCODE_APPS = frozenset(n.lower() for n in VSCODE_APP_FOLDERS)
_NAMES = frozenset(
    {
        "claude_desktop_config.json",
        ".claude.json",
        ".mcp.json",
        "managed-mcp.json",
        "mcp.json",
        "settings.json",
        "mcp_config.json",
        "config.json",
        "config.yaml",
        "config.yml",
    }
)
_BLOCK_SUFFIXES = (".yaml", ".yml", ".json")


def looks_like_home(folder: PurePath, homes: Iterable[PurePath] = ()) -> bool:
    """Whether ``folder`` is a user's home folder.

    True for any of ``homes`` and the current user's home, and by shape for
    ``/home/<user>``, ``/Users/<user>``, ``C:\\Users\\<user>``, ``/root`` and
    ``/var/root`` (so scanning a copy of several homes works too).
    """
    if any(_same(folder, h) for h in (*homes, *_current_home())):
        return True
    parent = folder.parent.name.lower()
    if parent in ("home", "users") and folder.name:
        return True
    return folder.name == "root" and folder.parent.name in ("", "var")


def _current_home() -> tuple[Path, ...]:
    try:
        return (Path.home(),)
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return ()


def _same(a: PurePath, b: PurePath) -> bool:
    return os.path.normcase(str(a)) == os.path.normcase(str(b))


def _home_of(path: Path, homes: Iterable[PurePath]) -> Path | None:
    homes = tuple(homes)
    for folder in path.parents:
        if looks_like_home(folder, homes):
            return folder
    return None


def classify(path: Path, *, homes: Iterable[PurePath] = ()) -> ConfigFile | None:
    """The client, scope and format of ``path``, or None if no client reads it.

    Decided by the file's name and its folders only: a ``settings.json`` is a
    VS Code file only in a ``.vscode`` folder or a VS Code user folder, a
    ``config.json`` only in a ``.continue`` folder, and so on.

    Args:
        path: The file.
        homes: Home folders to recognise besides the current user's (a
            ``.cursor/mcp.json`` directly in a home folder is user-level,
            elsewhere it belongs to a project).
    """
    name = path.name
    parent = path.parent
    pname = parent.name
    if name not in _NAMES and pname != "mcpServers":
        return None
    homes = tuple(homes)
    lp = pname.lower()

    def user(client: str, fmt: ConfigFormat) -> ConfigFile:
        return ConfigFile(path, CLIENTS[client], ConfigScope.USER, fmt, home=_home_of(path, homes))

    def by_place(client: str, fmt: ConfigFormat, workspace: Path) -> ConfigFile:
        if looks_like_home(workspace, homes):
            return ConfigFile(path, CLIENTS[client], ConfigScope.USER, fmt, home=workspace)
        return ConfigFile(path, CLIENTS[client], ConfigScope.PROJECT, fmt, workspace=workspace)

    if name == "claude_desktop_config.json":
        return user("claude-desktop", ConfigFormat.MCP_SERVERS)
    if name == ".claude.json":
        return user("claude-code", ConfigFormat.CLAUDE_CODE_STATE)
    if name == ".mcp.json":
        return ConfigFile(
            path, CLIENTS["claude-code"], ConfigScope.PROJECT, ConfigFormat.MCP_SERVERS, parent
        )
    if name == "managed-mcp.json":
        if lp in ("claudecode", "claude-code"):
            return ConfigFile(
                path, CLIENTS["claude-code"], ConfigScope.MANAGED, ConfigFormat.MCP_SERVERS
            )
        return None
    if name == "mcp_config.json":
        if lp == "windsurf" and parent.parent.name == ".codeium":
            return user("windsurf", ConfigFormat.MCP_SERVERS)
        return None
    if lp == ".cursor" and name == "mcp.json":
        return by_place("cursor", ConfigFormat.MCP_SERVERS, parent.parent)
    if lp == ".vscode" and name in ("mcp.json", "settings.json"):
        fmt = ConfigFormat.VSCODE_MCP if name == "mcp.json" else ConfigFormat.VSCODE_SETTINGS
        return ConfigFile(path, CLIENTS["vscode"], ConfigScope.PROJECT, fmt, parent.parent)
    if name in ("mcp.json", "settings.json") and _vscode_user_folder(parent):
        fmt = ConfigFormat.VSCODE_MCP if name == "mcp.json" else ConfigFormat.VSCODE_SETTINGS
        return user("vscode", fmt)
    if lp == ".continue":
        if name == "config.json":
            return by_place("continue", ConfigFormat.CONTINUE_JSON, parent.parent)
        if name in ("config.yaml", "config.yml"):
            return by_place("continue", ConfigFormat.CONTINUE_YAML, parent.parent)
        return None
    if (
        pname == "mcpServers"
        and parent.parent.name.lower() == ".continue"
        and path.suffix.lower() in _BLOCK_SUFFIXES
    ):
        return by_place("continue", ConfigFormat.CONTINUE_BLOCK, parent.parent.parent)
    return None


def _vscode_user_folder(folder: Path) -> bool:
    """``<app>/User`` or ``<app>/User/profiles/<id>`` of a VS Code build."""
    if folder.name == "User":
        return folder.parent.name.lower() in _VSCODE_APPS
    return (
        folder.parent.name == "profiles"
        and folder.parent.parent.name == "User"
        and folder.parent.parent.parent.name.lower() in _VSCODE_APPS
    )


def app_data_dir(home: Path, platform: str, env: Mapping[str, str]) -> Path:
    """Where desktop applications keep a user's settings on ``platform``
    (``%APPDATA%``, ``~/Library/Application Support`` or ``$XDG_CONFIG_HOME``)."""
    if platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    if platform == "darwin":
        return home / "Library" / "Application Support"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def user_config_paths(
    home: Path,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    include_missing: bool = False,
) -> list[Path]:
    """The user-level MCP configuration files of every known client, for one user.

    Args:
        home: The user's home folder.
        platform: ``linux`` (and other Unix), ``darwin`` or ``win32``, as
            :data:`sys.platform` names them.
        env: Environment variables to honour: ``XDG_CONFIG_HOME`` on Linux,
            ``APPDATA`` on Windows (default ``<home>\\AppData\\Roaming``).
        include_missing: Also list the fixed candidate paths that do not exist
            (files found by listing a folder, such as VS Code profiles and
            Continue's ``mcpServers`` blocks, are only listed when present).

    Returns:
        Paths in a stable order (by client), existing files only unless
        ``include_missing``; each one is accepted by :func:`classify` as a
        user-level file when ``home`` is recognised as a home folder.
    """
    appdata = app_data_dir(home, platform, env)

    fixed: list[Path] = [
        appdata / "Claude" / "claude_desktop_config.json",
        home / ".claude.json",
        home / ".cursor" / "mcp.json",
    ]
    listed: list[Path] = []
    for app in VSCODE_APP_FOLDERS:
        user_dir = appdata / app / "User"
        fixed += [user_dir / "mcp.json", user_dir / "settings.json"]
        listed += _children(user_dir / "profiles", ("mcp.json", "settings.json"))
    fixed.append(home / ".codeium" / "windsurf" / "mcp_config.json")
    continue_dir = home / ".continue"
    fixed += [continue_dir / "config.yaml", continue_dir / "config.json"]
    listed += sorted(
        p for p in _files(continue_dir / "mcpServers") if p.suffix.lower() in _BLOCK_SUFFIXES
    )

    out = [p for p in fixed if include_missing or p.is_file()]
    return out + listed


def _files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []


def _children(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """``folder/<sub>/<name>`` for each existing file, sorted."""
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [s / n for s in subs for n in names if (s / n).is_file()]
