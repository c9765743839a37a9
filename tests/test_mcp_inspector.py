"""The server as a new user meets it: driven by the official MCP Inspector in CLI mode (a
client nobody here wrote), over stdio and over streamable HTTP with a bearer token.

The Inspector is installed from the npm registry once into ``build/npm`` (reused by later
runs); the tests skip, saying why, only when npm is missing or the registry cannot be
reached.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from aiposture import Posture
from conftest import DemoStore
from mcp_helpers import (
    INDEX_NAME,
    LEAKING_OUTPUT,
    LOCAL,
    PRINCIPAL_A,
    SECRET_RECORD,
    TOKEN_A,
    Setup,
    free_port,
    http_server,
    leakage_index,
    make_setup,
    server_env,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PREFIX = ROOT / "build" / "npm"
PACKAGE = "@modelcontextprotocol/inspector"
#: The last Inspector line whose CLI runs on Node 20 (2.x needs Node >= 22.19).
VERSION = "0.22.0"
NPM_FLAGS = ("--no-audit", "--no-fund", "--loglevel=error")
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "network")


def _installed_version() -> str | None:
    manifest = PREFIX / "node_modules" / PACKAGE / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector's ``mcp-inspector`` executable, installed if needed."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed: cannot fetch the MCP Inspector")
    if _installed_version() != VERSION:
        PREFIX.mkdir(parents=True, exist_ok=True)
        try:
            result = subprocess.run(
                [npm, "install", "--prefix", str(PREFIX), f"{PACKAGE}@{VERSION}", *NPM_FLAGS],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm install of the MCP Inspector timed out (no network?)")
        if result.returncode != 0:
            if any(e in result.stderr for e in NETWORK_ERRORS):
                pytest.skip(f"the npm registry cannot be reached: {result.stderr.strip()[-300:]}")
            pytest.fail(f"npm install {PACKAGE}@{VERSION} failed:\n{result.stderr[-2000:]}")
    exe = PREFIX / "node_modules" / ".bin" / "mcp-inspector"
    assert exe.exists(), f"{exe} missing after npm install"
    return exe


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, demo_store: DemoStore) -> Setup:
    index = leakage_index(tmp_path_factory)
    return make_setup(
        tmp_path_factory.mktemp("mcp-inspector"), demo_store.db, demo_store.estate.sanctioned, index
    )


def _inspect(inspector: Path, target: Sequence[str], *method: str) -> dict[str, Any]:
    """Run the Inspector CLI on ``target`` (a server named in a configuration file, or a
    URL and its options) with ``method`` options; its JSON answer."""
    result = subprocess.run(
        [str(inspector), "--cli", *target, *method],
        capture_output=True,
        text=True,
        timeout=180,
        env=server_env(),
    )
    assert result.returncode == 0, f"inspector failed ({result.returncode}):\n{result.stderr}"
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _stdio(setup: Setup) -> list[str]:
    """The Inspector's options for the server launched over stdio from a configuration
    file in the format every desktop client uses (``mcpServers``)."""
    config = setup.folder / "inspector.json"
    entry = {
        "command": sys.executable,
        "args": ["-m", "aiposture.mcp_server", *setup.serve_args("--principal", LOCAL)],
    }
    config.write_text(json.dumps({"mcpServers": {"aiposture": entry}}), encoding="utf-8")
    return ["--config", str(config), "--server", "aiposture"]


@pytest.fixture(scope="module")
def http_target(setup: Setup) -> Iterator[list[str]]:
    port = free_port()
    with http_server(setup, port):
        yield [
            f"http://127.0.0.1:{port}/mcp",
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {TOKEN_A}",
        ]


def _structured(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("isError") is False, answer
    data: dict[str, Any] = answer["structuredContent"]
    # the text block carries the same JSON for clients that ignore structured content
    text = next(c["text"] for c in answer["content"] if c["type"] == "text")
    assert json.loads(text) == data
    return data


def _check_everything(inspector: Path, target: list[str], setup: Setup, key: str) -> str:
    """List the tools and call the three tools of the acceptance; the requester of the
    approval filed."""
    tools = _inspect(inspector, target, "--method", "tools/list")["tools"]
    by_name = {t["name"]: t for t in tools}
    assert {"get_posture_summary", "check_output_leakage", "request_approval"} <= set(by_name)
    assert by_name["get_posture_summary"]["annotations"]["readOnlyHint"] is True
    assert by_name["request_approval"]["annotations"]["readOnlyHint"] is False
    assert all(t["annotations"].get("openWorldHint") is False for t in tools)
    assert "outputSchema" in by_name["check_output_leakage"]

    call = ["--method", "tools/call", "--tool-name"]
    summary = _structured(_inspect(inspector, target, *call, "get_posture_summary"))
    with Posture.open(setup.db, actor="test", config=setup.config) as p:
        assert summary["assets"] == len(list(p.assets))

    leak = _structured(
        _inspect(
            inspector,
            target,
            *call,
            "check_output_leakage",
            "--tool-arg",
            f"text={LEAKING_OUTPUT}",
            f"index={INDEX_NAME}",
        )
    )
    assert leak["worst"] != "none" and leak["outputs"][0]["matches"]
    assert SECRET_RECORD not in json.dumps(leak)

    ticket = _structured(
        _inspect(
            inspector,
            target,
            *call,
            "request_approval",
            "--tool-arg",
            "action=deploy",
            f"resource={setup.model}",
            "justification=roll out the fix reviewed in the change board",
            f"idempotency_key={key}",
        )
    )
    assert ticket["status"] == "pending" and ticket["decide_at"]
    with Posture.open(setup.db, actor="test", config=setup.config) as p:
        stored = p.approvals.get(ticket["id"])
    assert stored.requester == ticket["requester"]
    return str(ticket["requester"])


def test_inspector_over_stdio_lists_tools_and_calls_them(inspector: Path, setup: Setup) -> None:
    assert _check_everything(inspector, _stdio(setup), setup, "inspector-stdio") == LOCAL


def test_inspector_over_http_with_a_bearer_token(
    inspector: Path, setup: Setup, http_target: list[str]
) -> None:
    requester = _check_everything(inspector, http_target, setup, "inspector-http")
    assert requester == PRINCIPAL_A


def test_inspector_without_the_token_is_turned_away(
    inspector: Path, setup: Setup, http_target: list[str]
) -> None:
    no_token = http_target[:3]
    result = subprocess.run(
        [str(inspector), "--cli", *no_token, "--method", "tools/list"],
        capture_output=True,
        text=True,
        timeout=180,
        env=server_env(),
    )
    assert result.returncode != 0
    assert "get_posture_summary" not in result.stdout
