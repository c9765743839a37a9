"""``aiposture mcp install``: the entry printed for each assistant, and ``--write`` merging
it into the assistant's configuration file in a temporary home folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcp_helpers import server_env

EXE = shutil.which("aiposture", path=str(Path(sys.executable).parent)) or "aiposture"

#: Where each client's user-level file is on Linux, relative to the home folder.
FILES = {
    "claude-desktop": Path(".config/Claude/claude_desktop_config.json"),
    "cursor": Path(".cursor/mcp.json"),
    "vscode": Path(".config/Code/User/mcp.json"),
}
KEYS = {"claude-desktop": "mcpServers", "cursor": "mcpServers", "vscode": "servers"}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(HOME=str(home))
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("APPDATA", None)
    return subprocess.run(
        [EXE, "mcp", "install", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("client", sorted(FILES))
def test_install_prints_an_entry_that_launches_the_server(client: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(home, client, "--db", "posture.db", "--read-only", "--toolsets", "risk")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    entry = doc[KEYS[client]]["aiposture"]
    assert Path(entry["command"]).is_file() and os.access(entry["command"], os.X_OK)
    args: list[str] = entry["args"]
    assert args[:2] == ["-m", "aiposture.mcp_server"]
    db = args[args.index("--db") + 1]
    assert Path(db).is_absolute() and db.endswith("posture.db")
    assert "--read-only" in args and args[args.index("--toolsets") + 1] == "risk"
    if client == "vscode":
        assert entry["type"] == "stdio"
    assert _files(home) == []  # printing writes nothing


def test_printed_entry_runs_a_working_stdio_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(home, "cursor", "--db", str(tmp_path / "fresh.db"), "--principal", "me-test")
    entry = json.loads(result.stdout)["mcpServers"]["aiposture"]

    async def go() -> list[str]:
        params = StdioServerParameters(
            command=entry["command"], args=entry["args"], env=server_env(HOME=str(home))
        )
        async with Client(params, read_timeout_seconds=120) as client:
            return [t.name for t in (await client.list_tools()).tools]

    tools = anyio.run(go)
    assert "get_posture_summary" in tools and "request_approval" in tools


OTHER: dict[str, Any] = {"command": "npx", "args": ["-y", "@example/other-server"]}


@pytest.mark.parametrize("client", sorted(FILES))
def test_write_merges_keeps_other_servers_backs_up_and_is_idempotent(
    client: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    target = home / FILES[client]
    target.parent.mkdir(parents=True)
    original = {KEYS[client]: {"other": OTHER}, "theme": "dark"}
    original_text = json.dumps(original, indent=4)
    target.write_text(original_text, encoding="utf-8")
    target.chmod(0o640)

    first = run(home, client, "--write", "--db", str(tmp_path / "p.db"))
    assert first.returncode == 0, first.stderr
    merged = json.loads(target.read_text(encoding="utf-8"))
    assert merged["theme"] == "dark"
    assert merged[KEYS[client]]["other"] == OTHER
    assert merged[KEYS[client]]["aiposture"]["args"][:2] == ["-m", "aiposture.mcp_server"]
    backups = sorted(target.parent.glob(f"{target.name}.*.bak"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == original_text
    assert target.stat().st_mode & 0o777 == 0o640

    after_first = target.read_bytes()
    second = run(home, client, "--write", "--db", str(tmp_path / "p.db"))
    assert second.returncode == 0, second.stderr
    assert target.read_bytes() == after_first
    assert len(sorted(target.parent.glob(f"{target.name}.*.bak"))) == 1
    assert "already configured" in second.stderr


def test_write_replaces_an_outdated_aiposture_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = home / FILES["cursor"]
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"mcpServers": {"aiposture": {"command": "old"}, "x": OTHER}}))
    result = run(home, "cursor", "--write", "--read-only")
    assert result.returncode == 0, result.stderr
    servers = json.loads(target.read_text())["mcpServers"]
    assert servers["x"] == OTHER
    assert (
        servers["aiposture"]["command"] != "old" and "--read-only" in servers["aiposture"]["args"]
    )


def test_write_creates_a_missing_file_private_to_the_user(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(home, "claude-desktop", "--write")
    assert result.returncode == 0, result.stderr
    target = home / FILES["claude-desktop"]
    assert "aiposture" in json.loads(target.read_text())["mcpServers"]
    assert target.stat().st_mode & 0o777 == 0o600
    assert list(target.parent.glob("*.bak")) == []


def test_write_reads_a_vscode_file_with_comments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = home / FILES["vscode"]
    target.parent.mkdir(parents=True)
    text = '// my servers\n{\n  "servers": {"other": {"command": "npx", "args": []},},\n}\n'
    target.write_text(text)
    result = run(home, "vscode", "--write")
    assert result.returncode == 0, result.stderr
    servers = json.loads(target.read_text())["servers"]
    assert set(servers) == {"other", "aiposture"}
    (backup,) = target.parent.glob("mcp.json.*.bak")
    assert backup.read_text() == text


def test_write_to_an_explicit_path_for_a_workspace(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "project" / ".vscode" / "mcp.json"
    result = run(home, "vscode", "--write", "--path", str(target))
    assert result.returncode == 0, result.stderr
    assert "aiposture" in json.loads(target.read_text())["servers"]
    assert _files(home) == []


@pytest.mark.parametrize(
    "content", ["{not json", '["a list"]', '{"mcpServers": ["not", "an", "object"]}']
)
def test_write_leaves_an_unreadable_config_untouched(content: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = home / FILES["cursor"]
    target.parent.mkdir(parents=True)
    target.write_text(content)
    result = run(home, "cursor", "--write")
    assert result.returncode == 2
    assert "not changed" in result.stderr
    assert target.read_text() == content
    assert list(target.parent.glob("*.bak")) == []


def test_install_refuses_an_unknown_client_or_toolset(tmp_path: Path) -> None:
    assert run(tmp_path, "notepad").returncode == 2
    bad = run(tmp_path, "cursor", "--toolsets", "risk,admin")
    assert bad.returncode == 2 and "admin" in bad.stderr
