"""``--user-locations``: a workstation's MCP client files and Hugging Face cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiposture import AssetKind, Posture
from aiposture.cli import main
from aiposture.discovery.locations import hf_cache_dir, user_locations


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home" / "alice"
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir(parents=True)
    cursor.write_text(
        json.dumps({"mcpServers": {"fs": {"command": "npx", "args": ["-y", "mcp-fs@1.0.0"]}}})
    )
    snap = home / ".cache" / "huggingface" / "hub" / "models--acme--tiny"
    (snap / "refs").mkdir(parents=True)
    commit = "c" * 40
    (snap / "refs" / "main").write_text(commit)
    files = snap / "snapshots" / commit
    files.mkdir(parents=True)
    (files / "config.json").write_text(json.dumps({"model_type": "bert"}))
    return home


def test_hf_cache_dir_honours_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert hf_cache_dir(home, {}) == home / ".cache" / "huggingface" / "hub"
    assert hf_cache_dir(home, {"XDG_CACHE_HOME": "/x"}) == Path("/x/huggingface/hub")
    assert hf_cache_dir(home, {"HF_HOME": "/hf"}) == Path("/hf/hub")
    assert hf_cache_dir(home, {"HF_HOME": "/hf", "HF_HUB_CACHE": "/c"}) == Path("/c")


def test_user_locations_lists_what_exists(tmp_path: Path) -> None:
    home = _home(tmp_path)
    found = user_locations(home, platform="linux", env={})
    assert found == [home / ".cursor" / "mcp.json", home / ".cache" / "huggingface" / "hub"]
    assert user_locations(tmp_path / "nobody", platform="linux", env={}) == []


def test_scan_with_user_locations_finds_the_users_mcp_servers_and_cached_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "p.db"
    assert main(["scan", "--user-locations", "--db", str(db), "--no-progress"]) == 0
    with Posture.open(db) as p:
        names = {(a.kind, a.name) for a in p.assets}
    assert (AssetKind.MCP_SERVER, "fs") in names
    assert (AssetKind.MODEL, "acme/tiny") in names
