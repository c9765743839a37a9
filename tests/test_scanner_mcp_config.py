"""The MCP client configuration scanner, over real-looking configuration files of six clients."""

from __future__ import annotations

import json
import random
import sqlite3
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.engine import Discovery
from aiposture.discovery.mcp_clients import ConfigFormat, ConfigScope, classify, user_config_paths
from aiposture.discovery.registry import ScannerRegistry
from aiposture.discovery.scanners.mcp_config import McpConfigScanner
from aiposture.export.cyclonedx import to_cyclonedx_json
from aiposture.models import (
    Asset,
    AssetKind,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    ScanRun,
    Severity,
)
from aiposture.store import Store, open_store


def _token(prefix: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return prefix + "".join(rng.choices(string.ascii_letters + string.digits, k=n))


GH_TOKEN = _token("ghp_", 36, 1)
DB_PASSWORD = "Tr0ub4dor-" + _token("", 14, 2)
GITHUB_PKG = "mcp|package|npm:@modelcontextprotocol/server-github"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Estate:
    root: Path
    home: Path
    project: Path
    cursor: Path
    claude_desktop: Path
    vscode_workspace: Path
    claude_state: Path
    broken: Path
    lookalikes: list[Path]


def build_estate(root: Path) -> Estate:
    home = root / "home" / "alice"
    project = root / "work" / "support-bot"
    write(project / "pyproject.toml", '[project]\nname = "support-bot"\nversion = "0.1.0"\n')

    cursor = write(
        home / ".cursor" / "mcp.json",
        f"""\
{{
  // Cursor: my personal servers
  "mcpServers": {{
    "github": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {{
        "GITHUB_PERSONAL_ACCESS_TOKEN": "{GH_TOKEN}", // pasted while testing
      }},
    }},
    /* a pinned Python server */
    "fetch": {{"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]}},
  }},
}}
""",
    )
    claude_desktop = write(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        json.dumps(
            {
                "mcpServers": {
                    "github": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github"],
                    },
                    "filesystem": {
                        "command": "npx",
                        "args": [
                            "-y",
                            "@modelcontextprotocol/server-filesystem@2025.3.28",
                            "/home/alice/notes",
                        ],
                    },
                },
                "globalShortcut": "Ctrl+Space",
            },
            indent=2,
        ),
    )
    vscode_workspace = write(
        project / ".vscode" / "mcp.json",
        """\
{
  "inputs": [
    {"type": "promptString", "id": "github-pat", "description": "GitHub token", "password": true},
  ],
  "servers": {
    // the same GitHub server, its token asked for at start
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${input:github-pat}"},
    },
    "copilot": {
      "type": "http",
      "url": "https://api.githubcopilot.com/mcp/",
      "headers": {"Authorization": "Bearer ${input:github-pat}"},
    },
    "tickets": {"type": "sse", "url": "https://mcp.tickets.example.com/sse"},
  },
}
""",
    )
    write(
        home / ".config" / "Code" / "User" / "settings.json",
        """\
{
  "editor.fontSize": 14,
  // servers from before mcp.json existed
  "mcp": {"servers": {"time": {"command": "uvx", "args": ["mcp-server-time==0.6.2"]}}},
}
""",
    )
    write(
        home / ".codeium" / "windsurf" / "mcp_config.json",
        json.dumps(
            {
                "mcpServers": {
                    "analytics": {
                        "serverUrl": "https://mcp.analytics.example.com/mcp",
                        "headers": {"Authorization": "Bearer ${env:ANALYTICS_TOKEN}"},
                    }
                }
            }
        ),
    )
    write(
        home / ".continue" / "config.yaml",
        """\
name: Local config
version: 1.0.0
schema: v1
mcpServers:
  - name: SQLite MCP
    command: npx
    args: ["-y", "mcp-sqlite", "/home/alice/db.sqlite"]
  - name: Docs
    type: streamable-http
    url: https://docs-mcp.example.org/mcp
    requestOptions:
      headers:
        X-API-Key: ${{ secrets.DOCS_KEY }}
""",
    )
    write(
        home / ".continue" / "config.json",
        json.dumps(
            {
                "models": [],
                "experimental": {
                    "modelContextProtocolServers": [
                        {
                            "name": "memory",
                            "transport": {
                                "type": "stdio",
                                "command": "npx",
                                "args": ["-y", "@modelcontextprotocol/server-memory@2025.4.25"],
                            },
                        }
                    ]
                },
            },
            indent=2,
        ),
    )
    write(
        project / ".continue" / "mcpServers" / "playwright.yaml",
        """\
name: Playwright mcpServer
version: 0.0.1
schema: v1
mcpServers:
  - name: Browser search
    command: npx
    args:
      - "@playwright/mcp@latest"
""",
    )
    write(
        project / ".continue" / "mcpServers" / "time.json",
        '{"command": "uvx", "args": ["mcp-server-time"]}',
    )
    claude_state = write(
        home / ".claude.json",
        json.dumps(
            {
                "numStartups": 12,
                "mcpServers": {
                    "sentry": {
                        "type": "http",
                        "url": "https://mcp.sentry.dev/mcp",
                        "headers": {"Authorization": "Bearer ${SENTRY_TOKEN}"},
                    }
                },
                "projects": {
                    str(project): {
                        "allowedTools": [],
                        "mcpServers": {
                            "db": {
                                "command": "node",
                                "args": ["scripts/db-mcp.js"],
                                "env": {"DB_PASSWORD": DB_PASSWORD, "DB_HOST": "localhost"},
                            }
                        },
                    },
                    str(root / "work" / "other"): {"mcpServers": {}},
                },
            },
            indent=2,
        ),
    )
    digest = "sha256:" + "ab" * 32
    write(
        project / ".mcp.json",
        json.dumps(
            {
                "mcpServers": {
                    "search": {
                        "command": "docker",
                        "args": ["run", "-i", "--rm", "-e", "BRAVE_API_KEY", f"mcp/brave@{digest}"],
                        "env": {"BRAVE_API_KEY": "${BRAVE_API_KEY}"},
                    }
                }
            }
        ),
    )
    legacy = root / "work" / "legacy"
    broken = write(
        legacy / ".vscode" / "mcp.json",
        '{\n  "servers": {\n    "a": {"command": "x"}\n    "b": {}\n  }\n}\n',
    )
    evil = {"mcpServers": {"lookalike": {"command": "npx", "args": ["-y", "evil-pkg"]}}}
    lookalikes = [
        write(legacy / "config.json", json.dumps(evil)),
        write(legacy / "mcp.json", json.dumps(evil)),
        write(legacy / "settings.json", json.dumps({"mcp": {"servers": evil["mcpServers"]}})),
        write(
            legacy / "conf" / "config.yaml", "mcpServers:\n  - name: lookalike\n    command: x\n"
        ),
        write(legacy / "mcpServers" / "lookalike.yaml", "mcpServers:\n  - name: lookalike\n"),
        write(legacy / "User" / "mcp.json", json.dumps(evil)),
        write(legacy / "windsurf" / "mcp_config.json", json.dumps(evil)),
        write(legacy / ".claude" / "settings.json", json.dumps(evil)),
    ]
    return Estate(
        root=root,
        home=home,
        project=project,
        cursor=cursor,
        claude_desktop=claude_desktop,
        vscode_workspace=vscode_workspace,
        claude_state=claude_state,
        broken=broken,
        lookalikes=lookalikes,
    )


@dataclass
class Scanned:
    estate: Estate
    store: Store
    db: Path
    run: ScanRun


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    base = tmp_path_factory.mktemp("mcp")
    estate = build_estate(base / "estate")
    db = base / "posture.db"
    reg = ScannerRegistry()
    reg.register(McpConfigScanner)
    store = open_store(f"sqlite:///{db}")
    try:
        run = Discovery(store, registry=reg).run([estate.root], progress=False)
        yield Scanned(estate, store, db, run)
    finally:
        store.close()


def _servers(store: Store) -> dict[str, Asset]:
    return {a.name: a for a in store.assets(kind=AssetKind.MCP_SERVER)}


def _findings(store: Store, rule: str) -> list[Finding]:
    return [f for f in store.findings() if f.rule_id == rule]


# --------------------------------------------------------------------------
# The estate, through discovery and a real SQLite store


def test_same_server_in_three_clients_is_one_asset_with_three_pieces_of_evidence(
    scanned: Scanned,
) -> None:
    est = scanned.estate
    github = [a for a in scanned.store.assets(kind=AssetKind.MCP_SERVER) if a.key == GITHUB_PKG]
    assert len(github) == 1
    [asset] = github
    paths = {e.path for e in asset.evidence}
    assert paths == {str(est.cursor), str(est.claude_desktop), str(est.vscode_workspace)}
    assert all(e.kind is EvidenceKind.CONFIG for e in asset.evidence)
    assert {e.key for e in asset.evidence} == {"mcpServers.github", "servers.github"}
    by_path = {e.path: e for e in asset.evidence}
    assert by_path[str(est.cursor)].line == 4
    assert by_path[str(est.vscode_workspace)].line == 7
    assert "Cursor, user scope" in (by_path[str(est.cursor)].detail or "")
    assert "VS Code, project scope" in (by_path[str(est.vscode_workspace)].detail or "")
    assert {"mcp-client:cursor", "mcp-client:claude-desktop", "mcp-client:vscode"} <= set(
        asset.tags
    )
    assert {"mcp-scope:user", "mcp-scope:project"} <= set(asset.tags)
    assert set(asset.locations) == paths
    assert asset.attributes["transport"] == "stdio"
    assert asset.attributes["package"] == "npm:@modelcontextprotocol/server-github"
    assert asset.attributes["package_specs"] == ["@modelcontextprotocol/server-github"]
    assert asset.attributes["pinned"] is False


def test_every_client_format_is_read(scanned: Scanned) -> None:
    servers = _servers(scanned.store)
    assert set(servers) == {
        "github",
        "fetch",
        "filesystem",
        "copilot",
        "tickets",
        "time",  # VS Code user settings.json and a Continue JSON block: one package
        "analytics",
        "SQLite MCP",
        "Docs",
        "memory",
        "Browser search",
        "sentry",
        "db",
        "search",
    }
    assert servers["analytics"].attributes["transport"] == "http"  # Windsurf serverUrl
    assert servers["analytics"].attributes["url"] == "https://mcp.analytics.example.com/mcp"
    assert servers["Docs"].attributes["transport"] == "streamable-http"
    assert servers["Docs"].attributes["headers"] == ["X-API-Key"]
    assert servers["tickets"].attributes["transport"] == "sse"
    assert servers["memory"].attributes["package"] == "npm:@modelcontextprotocol/server-memory"
    assert servers["memory"].attributes["pinned"] is True
    assert servers["search"].attributes["package"] == "oci:mcp/brave"
    assert servers["search"].attributes["pinned"] is True
    assert servers["search"].attributes["env"] == ["BRAVE_API_KEY"]
    time = servers["time"]
    assert time.key == "mcp|package|pypi:mcp-server-time"
    assert {e.key for e in time.evidence} == {"mcp.servers.time", "time"}
    assert servers["db"].key.startswith("mcp|")  # a local script: known by name in its project
    assert str(scanned.estate.project) in servers["db"].key
    assert servers["db"].attributes["env"] == ["DB_HOST", "DB_PASSWORD"]
    assert servers["db"].attributes["scopes"] == ["local"]


def test_project_files_relate_the_application_and_user_files_a_client_agent(
    scanned: Scanned,
) -> None:
    store = scanned.store
    by_id = {a.id: a for a in store.assets()}
    edges = {
        (by_id[r.source_id].name, by_id[r.target_id].name)
        for r in store.relations()
        if r.kind is RelationKind.CALLS_SERVICE
    }
    assert ("support-bot", "github") in edges
    assert ("support-bot", "db") in edges  # a project entry of ~/.claude.json
    assert ("support-bot", "Browser search") in edges
    assert ("support-bot", "search") in edges
    assert ("Cursor (alice)", "github") in edges
    assert ("Claude Desktop (alice)", "github") in edges
    assert ("Claude Code (alice)", "sentry") in edges
    assert ("Windsurf (alice)", "analytics") in edges
    assert ("Continue (alice)", "SQLite MCP") in edges
    agents = {a.name: a for a in store.assets(kind=AssetKind.AGENT)}
    assert agents["VS Code (alice)"].attributes["client"] == "vscode"
    apps = store.assets(kind=AssetKind.APPLICATION)
    assert [a.attributes["path"] for a in apps] == [str(scanned.estate.project)]


def test_pasted_token_is_a_high_finding_and_a_credential(scanned: Scanned) -> None:
    est = scanned.estate
    secret_findings = _findings(scanned.store, "AIP-MCP-001")
    assert len(secret_findings) == 2
    gh = next(f for f in secret_findings if "GitHub Token" in f.title)
    assert gh.severity is Severity.HIGH
    assert "owasp-llm:LLM02" in gh.tags and "cwe:798" in gh.tags
    [ev] = gh.evidence
    assert ev.path == str(est.cursor)
    assert ev.key == "mcpServers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN"
    assert ev.line == 4
    assert "Remediation" in (gh.description or "")
    github = next(a for a in scanned.store.assets() if a.key == GITHUB_PKG)
    creds = {
        a.attributes["secret_type"]: a for a in scanned.store.assets(kind=AssetKind.CREDENTIAL)
    }
    assert set(creds) == {"GitHub Token", "Secret Keyword"}
    assert gh.asset_id == creds["GitHub Token"].id  # on the credential, linked to the server
    rels = {(r.source_id, r.kind, r.target_id) for r in scanned.store.relations()}
    assert (creds["GitHub Token"].id, RelationKind.DECLARED_IN, github.id) in rels
    db = next(f for f in secret_findings if f is not gh)
    assert db.evidence[0].key == f"projects.{est.project}.mcpServers.db.env.DB_PASSWORD"


def test_planted_secrets_appear_nowhere_in_the_database_or_the_export(scanned: Scanned) -> None:
    store = scanned.store
    bom = to_cyclonedx_json(store.assets(), store.relations(), store.findings())
    dump = json.dumps(
        [o.to_dict() for o in [*store.assets(), *store.relations(), *store.findings()]]
    )
    with sqlite3.connect(scanned.db) as conn:  # fold the WAL into the main file first
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blobs = [scanned.db.read_bytes(), bom.encode(), dump.encode()]
    wal = scanned.db.with_name(scanned.db.name + "-wal")
    if wal.exists():
        blobs.append(wal.read_bytes())
    for secret in (GH_TOKEN, DB_PASSWORD):
        for needle in (secret, secret[6:26]):
            for blob in blobs:
                assert needle.encode() not in blob
    assert b"GITHUB_PERSONAL_ACCESS_TOKEN" in blobs[0]  # the variable's name is kept


def test_unpinned_packages_are_medium_findings_and_pinned_ones_are_not(
    scanned: Scanned,
) -> None:
    unpinned = _findings(scanned.store, "AIP-MCP-002")
    titles = sorted(f.title.split(": ", 1)[1] for f in unpinned)
    assert titles == [
        "@modelcontextprotocol/server-github",  # Cursor
        "@modelcontextprotocol/server-github",  # Claude Desktop
        "@modelcontextprotocol/server-github",  # VS Code
        "@playwright/mcp@latest",
        "mcp-server-time",  # the Continue block; VS Code's settings pin it
        "mcp-sqlite",
    ]
    assert all(f.severity is Severity.MEDIUM for f in unpinned)
    assert all("owasp-llm:LLM03" in f.tags for f in unpinned)
    assert len({f.id for f in unpinned}) == 6  # one per configuration that needs fixing
    assert all("pin" in (f.description or "") for f in unpinned)


def test_remote_server_without_auth_is_flagged_and_those_with_a_header_are_not(
    scanned: Scanned,
) -> None:
    no_auth = _findings(scanned.store, "AIP-MCP-003")
    assert [f.title for f in no_auth] == [
        "Remote MCP server 'tickets' has no authentication configured"
    ]
    assert no_auth[0].severity is Severity.HIGH
    assert no_auth[0].evidence[0].key == "servers.tickets"
    assert "owasp-llm:LLM06" in no_auth[0].tags


def test_broken_json_is_a_recorded_error_naming_the_file_and_line(scanned: Scanned) -> None:
    errors = [e for e in scanned.run.errors if e.path == str(scanned.estate.broken)]
    assert len(errors) == 1
    [err] = errors
    assert err.scanner == "mcp_config"
    assert err.line == 4
    assert "mcp.json" in err.reason and "line 4, column 5" in err.reason
    assert len(scanned.run.errors) == 1  # nothing else failed
    stored = scanned.store.scans()[0]
    assert [e.path for e in stored.errors] == [str(scanned.estate.broken)]


def test_files_that_merely_share_a_name_are_not_read(scanned: Scanned) -> None:
    scanner = McpConfigScanner()
    for path in scanned.estate.lookalikes:
        assert not scanner.accepts(path), path
    assert "lookalike" not in _servers(scanned.store)
    for a in scanned.store.assets():
        for e in a.evidence:
            assert "legacy" not in (e.path or "")


# --------------------------------------------------------------------------
# One file at a time


def scan_text(tmp_path: Path, rel: str, text: str) -> list[Asset | Relation | Finding]:
    path = write(tmp_path / rel, text)
    target = Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=tmp_path,
        data=path.read_bytes(),
        project=tmp_path,
    )
    return list(McpConfigScanner().scan(target))


def servers_in(out: list[Asset | Relation | Finding]) -> dict[str, Asset]:
    return {o.name: o for o in out if isinstance(o, Asset) and o.kind is AssetKind.MCP_SERVER}


def rules_in(out: list[Asset | Relation | Finding]) -> list[tuple[str, str]]:
    return sorted(
        (o.rule_id, o.fingerprint.rsplit("|", 1)[-1]) for o in out if isinstance(o, Finding)
    )


LAUNCHES: list[tuple[str, list[str], str | None, bool | None]] = [
    ("npx", ["-y", "@scope/pkg"], "npm:@scope/pkg", False),
    ("npx", ["--yes", "Plain-Pkg@1.2.3", "--port", "1"], "npm:plain-pkg", True),
    ("npx", ["-p", "@scope/tools@2.0.0", "tools-mcp"], "npm:@scope/tools", True),
    ("npx", ["--package=@scope/tools@^2.0.0", "tools-mcp"], "npm:@scope/tools", False),
    ("npx", ["pkg@~1.2.0"], "npm:pkg", False),
    ("C:\\Program Files\\nodejs\\npx.cmd", ["-y", "winpkg@1.0.0"], "npm:winpkg", True),
    ("cmd", ["/c", "npx", "-y", "cmdpkg@1.0.0"], "npm:cmdpkg", True),
    ("bunx", ["bunpkg@latest"], "npm:bunpkg", False),
    ("pnpm", ["dlx", "pnpmpkg@3.1.4"], "npm:pnpmpkg", True),
    ("yarn", ["dlx", "-p", "yarnpkg@1.0.0", "bin"], "npm:yarnpkg", True),
    ("npm", ["exec", "-y", "--", "execpkg"], "npm:execpkg", False),
    ("uvx", ["mcp-server-fetch"], "pypi:mcp-server-fetch", False),
    ("uvx", ["mcp-server-fetch@2025.4.7"], "pypi:mcp-server-fetch", True),
    ("uvx", ["mcp-server-fetch@latest"], "pypi:mcp-server-fetch", False),
    ("uvx", ["--from", "mcp-server-git==0.6.2", "mcp-server-git"], "pypi:mcp-server-git", True),
    (
        "uvx",
        ["--python", "3.12", "--from", "Mcp_Server.Git>=0.6", "x"],
        "pypi:mcp-server-git",
        False,
    ),
    (
        "uv",
        ["tool", "run", "awslabs.core-mcp-server@latest"],
        "pypi:awslabs-core-mcp-server",
        False,
    ),
    ("pipx", ["run", "--spec", "pipxpkg==1.0", "pipx-cmd"], "pypi:pipxpkg", True),
    (
        "docker",
        ["run", "-i", "--rm", "-e", "TOKEN", "-v", "/a:/b", "--name", "x", "ghcr.io/o/img:1.2"],
        "oci:ghcr.io/o/img",
        False,
    ),
    (
        "podman",
        ["run", "--rm", "-i", "quay.io/o/img@sha256:" + "0f" * 32],
        "oci:quay.io/o/img",
        True,
    ),
    ("docker", ["run", "-i", "--rm", "mcp/fetch:latest"], "oci:mcp/fetch", False),
    ("docker", ["container", "run", "-i", "localhost:5000/img"], "oci:localhost:5000/img", False),
    ("node", ["build/index.js"], None, None),
    ("python", ["-m", "my_server"], None, None),
    ("npx -y spacepkg@1.0.0", [], "npm:spacepkg", True),
]


@pytest.mark.parametrize(("command", "args", "package", "pinned"), LAUNCHES)
def test_launchers_give_the_package_without_version_and_whether_it_is_pinned(
    tmp_path: Path, command: str, args: list[str], package: str | None, pinned: bool | None
) -> None:
    doc = {"mcpServers": {"s": {"command": command, "args": args}}}
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    server = servers_in(out)["s"]
    assert server.attributes.get("package") == package
    assert server.attributes.get("pinned") == pinned
    if package is not None:
        assert server.key == f"mcp|package|{package.lower()}"
    else:
        assert server.key == f"mcp|{tmp_path}|s"
    unpinned = [o for o in out if isinstance(o, Finding) and o.rule_id == "AIP-MCP-002"]
    assert len(unpinned) == (1 if pinned is False else 0)


def test_secrets_in_arguments_headers_and_urls_are_found_and_redacted(tmp_path: Path) -> None:
    key = _token("sk-proj-", 40, 3)
    bearer = _token("", 32, 4)
    query = _token("", 28, 5)
    path_key = _token("", 30, 6)
    doc = {
        "mcpServers": {
            "cli": {
                "command": "npx",
                "args": ["-y", "cli-mcp@1.0.0", f"--api-key={key}", "--token", bearer],
            },
            "bridge": {
                "command": "npx",
                "args": [
                    "-y",
                    "mcp-remote@0.1.9",
                    "https://mcp.partner.example.com/sse",
                    "--header",
                    f"Authorization: Bearer {bearer}",
                ],
            },
            "zap": {"url": f"https://actions.example.com/mcp/{path_key}/sse?api_key={query}"},
        }
    }
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    servers = servers_in(out)
    assert servers["cli"].attributes["args"] == [
        "-y",
        "cli-mcp@1.0.0",
        "--api-key=<redacted>",
        "--token",
        "<redacted>",
    ]
    bridge = servers["bridge"]
    assert bridge.key == "mcp|url|https://mcp.partner.example.com/sse"  # the remote server
    assert bridge.attributes["headers"] == ["Authorization"]
    assert bridge.attributes["args"][-1] == "Authorization: <redacted>"
    assert servers["zap"].attributes["url"] == "https://actions.example.com/mcp/<redacted>/sse"
    found = [o for o in out if isinstance(o, Finding) and o.rule_id == "AIP-MCP-001"]
    wheres = sorted(f.evidence[0].key or "" for f in found)
    assert wheres == [
        "mcpServers.bridge.args[4]",
        "mcpServers.cli.args[2]",
        "mcpServers.cli.args[4]",
        "mcpServers.zap.url",
        "mcpServers.zap.url?api_key",
    ]
    creds = [o for o in out if isinstance(o, Asset) and o.kind is AssetKind.CREDENTIAL]
    assert len(creds) == 4  # the bearer token is one credential, seen twice
    assert not [o for o in out if isinstance(o, Finding) and o.rule_id == "AIP-MCP-003"]
    text = json.dumps([o.to_dict() for o in out])
    for secret in (key, bearer, query, path_key):
        assert secret not in text


def test_placeholders_and_ordinary_settings_are_not_secrets(tmp_path: Path) -> None:
    env = {
        "GITHUB_TOKEN": "${input:github-token}",
        "OPENAI_API_KEY": "${env:OPENAI_API_KEY}",
        "ANTHROPIC_API_KEY": "${ANTHROPIC_API_KEY}",
        "SLACK_BOT_TOKEN": "<your-slack-bot-token>",
        "NOTION_API_KEY": "",
        "BRAVE_API_KEY": "YOUR_BRAVE_API_KEY",
        "LINEAR_API_KEY": "{{ secrets.LINEAR }}",
        "LOG_LEVEL": "debug",
        "ALLOWED_PATHS": "/home/alice/notes:/srv/data",
        "MAX_TOKENS": "4096",
        "OPENAI_BASE_URL": "https://api.openai.com/v1",
        "TOKEN_FILE": "/run/secrets/token",
        "SLACK_TEAM_ID": "T01234567",
    }
    doc = {"mcpServers": {"s": {"command": "node", "args": ["server.js"], "env": env}}}
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    assert rules_in(out) == []
    assert servers_in(out)["s"].attributes["env"] == sorted(env)


def test_remote_servers_cleartext_loopback_and_oauth(tmp_path: Path) -> None:
    doc = {
        "servers": {
            "plain": {"type": "http", "url": "http://mcp.corp.example.net:8080/mcp"},
            "plain-authed": {
                "type": "http",
                "url": "http://10.1.2.3/mcp",
                "headers": {"X-API-Key": "${input:k}"},
            },
            "local": {"type": "sse", "url": "http://localhost:3000/sse"},
            "loop": {"url": "http://127.0.0.1:8931/mcp"},
            "oauth": {"type": "http", "url": "https://mcp.example.com/mcp", "oauth": {"x": 1}},
            "open": {"url": "https://mcp.example.org/v1/mcp"},
        }
    }
    out = scan_text(tmp_path, ".vscode/mcp.json", json.dumps(doc))
    by_server: dict[str, list[str]] = {}
    servers = servers_in(out)
    by_id = {a.id: name for name, a in servers.items()}
    for f in out:
        if isinstance(f, Finding):
            by_server.setdefault(by_id[f.asset_id], []).append(f.fingerprint.rsplit("|", 1)[-1])
    assert by_server == {
        "plain": ["no-auth", "cleartext"],
        "plain-authed": ["cleartext"],
        "open": ["no-auth"],
    }
    assert servers["loop"].attributes["transport"] == "http"
    assert servers["local"].attributes["transport"] == "sse"


def test_transport_is_declared_or_inferred(tmp_path: Path) -> None:
    doc = {
        "mcpServers": {
            "a": {"command": "node", "args": ["a.js"]},
            "b": {"url": "https://x.example.com/sse"},
            "c": {"url": "https://x.example.com/mcp"},
            "d": {"type": "streamableHttp", "url": "https://y.example.com/mcp"},
            "e": {"transport": "SSE", "url": "https://z.example.com/events"},
        }
    }
    out = scan_text(tmp_path, ".mcp.json", json.dumps(doc))
    got = {n: a.attributes.get("transport") for n, a in servers_in(out).items()}
    assert got == {"a": "stdio", "b": "sse", "c": "http", "d": "streamable-http", "e": "sse"}


def test_invalid_yaml_is_an_error_with_its_line_and_without_the_text(tmp_path: Path) -> None:
    secret = _token("", 30, 7)
    text = f"mcpServers:\n  - name: x\n    env:\n      KEY: [{secret}\n"
    with pytest.raises(TargetError) as info:
        scan_text(tmp_path, ".continue/config.yaml", text)
    assert info.value.line is not None and info.value.line >= 4
    assert "YAML" in info.value.reason
    assert secret not in info.value.reason


def test_a_server_list_of_the_wrong_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError) as info:
        scan_text(tmp_path, ".cursor/mcp.json", '{\n  "mcpServers": "npx server"\n}')
    assert "mcpServers is a string" in info.value.reason
    assert info.value.line == 2
    with pytest.raises(TargetError, match="top level"):
        scan_text(tmp_path, ".mcp.json", "[1, 2]")


def test_settings_and_state_files_without_servers_yield_nothing(tmp_path: Path) -> None:
    assert scan_text(tmp_path, ".vscode/settings.json", '{"editor.tabSize": 2,}') == []
    assert scan_text(tmp_path, "home/bob/.claude.json", '{"numStartups": 3}') == []
    assert scan_text(tmp_path, ".cursor/mcp.json", '{"mcpServers": {}}') == []
    assert scan_text(tmp_path, ".continue/mcpServers/empty.yaml", "") == []


def test_the_same_package_in_user_and_project_scope_of_claude_code_is_merged(
    tmp_path: Path,
) -> None:
    proj = tmp_path / "repo"
    spec = {"command": "npx", "args": ["-y", "@upstash/context7-mcp@1.0.14"]}
    doc = {"mcpServers": {"context7": spec}, "projects": {str(proj): {"mcpServers": {"c7": spec}}}}
    out = scan_text(tmp_path, "home/bob/.claude.json", json.dumps(doc))
    servers = [o for o in out if isinstance(o, Asset) and o.kind is AssetKind.MCP_SERVER]
    assert len(servers) == 1
    [server] = servers
    assert server.attributes["scopes"] == ["user", "local"]
    assert {e.key for e in server.evidence} == {
        "mcpServers.context7",
        f"projects.{proj}.mcpServers.c7",
    }
    owners = {o.name for o in out if isinstance(o, Asset) and o.kind is not AssetKind.MCP_SERVER}
    assert owners == {"Claude Code (bob)", "repo"}


# --------------------------------------------------------------------------
# Which files, and where they are


@pytest.mark.parametrize(
    ("rel", "client", "scope", "fmt"),
    [
        ("home/al/.cursor/mcp.json", "cursor", ConfigScope.USER, ConfigFormat.MCP_SERVERS),
        ("src/app/.cursor/mcp.json", "cursor", ConfigScope.PROJECT, ConfigFormat.MCP_SERVERS),
        ("src/app/.vscode/mcp.json", "vscode", ConfigScope.PROJECT, ConfigFormat.VSCODE_MCP),
        (
            "src/app/.vscode/settings.json",
            "vscode",
            ConfigScope.PROJECT,
            ConfigFormat.VSCODE_SETTINGS,
        ),
        ("cfg/Code/User/mcp.json", "vscode", ConfigScope.USER, ConfigFormat.VSCODE_MCP),
        (
            "cfg/Code - Insiders/User/profiles/1a2b/settings.json",
            "vscode",
            ConfigScope.USER,
            ConfigFormat.VSCODE_SETTINGS,
        ),
        ("x/Claude/claude_desktop_config.json", "claude-desktop", ConfigScope.USER, None),
        ("home/al/.claude.json", "claude-code", ConfigScope.USER, None),
        ("src/app/.mcp.json", "claude-code", ConfigScope.PROJECT, ConfigFormat.MCP_SERVERS),
        ("etc/claude-code/managed-mcp.json", "claude-code", ConfigScope.MANAGED, None),
        ("home/al/.codeium/windsurf/mcp_config.json", "windsurf", ConfigScope.USER, None),
        ("home/al/.continue/config.yaml", "continue", ConfigScope.USER, ConfigFormat.CONTINUE_YAML),
        ("home/al/.continue/config.json", "continue", ConfigScope.USER, ConfigFormat.CONTINUE_JSON),
        (
            "src/app/.continue/mcpServers/pw.yml",
            "continue",
            ConfigScope.PROJECT,
            ConfigFormat.CONTINUE_BLOCK,
        ),
        ("src/app/config.json", None, None, None),
        ("src/app/settings.json", None, None, None),
        ("src/app/mcp.json", None, None, None),
        ("src/Cursor/User/settings.json", None, None, None),
        ("src/app/.continue/mcpServers/readme.md", None, None, None),
        ("src/app/.continue/rules/config.json.bak", None, None, None),
        ("src/app/managed-mcp.json", None, None, None),
        ("src/app/.codeium/mcp_config.json", None, None, None),
    ],
)
def test_classify_by_name_and_folder(
    tmp_path: Path,
    rel: str,
    client: str | None,
    scope: ConfigScope | None,
    fmt: ConfigFormat | None,
) -> None:
    cfg = classify(tmp_path / rel)
    if client is None:
        assert cfg is None
        assert not McpConfigScanner().accepts(tmp_path / rel)
        return
    assert cfg is not None
    assert (cfg.client.id, cfg.scope) == (client, scope)
    if fmt is not None:
        assert cfg.fmt is fmt
    if scope is ConfigScope.PROJECT:
        assert cfg.workspace == tmp_path / "src" / "app"


def _touch(*paths: Path) -> None:
    for p in paths:
        write(p, "{}")


def test_user_config_paths_on_linux(tmp_path: Path) -> None:
    home = tmp_path / "home" / "alice"
    xdg = tmp_path / "xdg"
    env = {"XDG_CONFIG_HOME": str(xdg)}
    expected = [
        xdg / "Claude" / "claude_desktop_config.json",
        home / ".claude.json",
        home / ".cursor" / "mcp.json",
        xdg / "Code" / "User" / "mcp.json",
        xdg / "VSCodium" / "User" / "settings.json",
        home / ".codeium" / "windsurf" / "mcp_config.json",
        home / ".continue" / "config.yaml",
    ]
    profile = xdg / "Code" / "User" / "profiles" / "5e6f" / "mcp.json"
    block = home / ".continue" / "mcpServers" / "db.yaml"
    _touch(*expected, profile, block, home / ".continue" / "mcpServers" / "notes.txt")
    _touch(home / ".config" / "Claude" / "claude_desktop_config.json")  # not used: XDG is set
    found = user_config_paths(home, platform="linux", env=env)
    assert found == [*expected, profile, block]
    for p in found:
        cfg = classify(p)
        assert cfg is not None and cfg.scope is ConfigScope.USER, p
    assert user_config_paths(home, platform="linux", env={})[0] == (
        home / ".config" / "Claude" / "claude_desktop_config.json"
    )


def test_user_config_paths_on_macos(tmp_path: Path) -> None:
    home = tmp_path / "Users" / "alice"
    support = home / "Library" / "Application Support"
    claude = support / "Claude" / "claude_desktop_config.json"
    code = support / "Code" / "User" / "settings.json"
    _touch(claude, code, home / ".cursor" / "mcp.json")
    assert user_config_paths(home, platform="darwin", env={}) == [
        claude,
        home / ".cursor" / "mcp.json",
        code,
    ]
    every = user_config_paths(home, platform="darwin", env={}, include_missing=True)
    assert len(every) == 3 + 2 * 3 + 1 + 2
    assert home / ".codeium" / "windsurf" / "mcp_config.json" in every
    assert all(classify(p) is not None for p in every)


def test_user_config_paths_on_windows(tmp_path: Path) -> None:
    home = tmp_path / "Users" / "alice"
    appdata = tmp_path / "roaming"
    claude = appdata / "Claude" / "claude_desktop_config.json"
    code = appdata / "Code - Insiders" / "User" / "mcp.json"
    windsurf = home / ".codeium" / "windsurf" / "mcp_config.json"
    _touch(claude, code, windsurf)
    assert user_config_paths(home, platform="win32", env={"APPDATA": str(appdata)}) == [
        claude,
        code,
        windsurf,
    ]
    default = user_config_paths(home, platform="win32", env={}, include_missing=True)
    assert default[0] == home / "AppData" / "Roaming" / "Claude" / "claude_desktop_config.json"


def test_user_config_paths_of_an_empty_home_is_empty(tmp_path: Path) -> None:
    assert user_config_paths(tmp_path / "nobody", platform="linux", env={}) == []


def test_odd_values_do_not_stop_the_other_servers(tmp_path: Path) -> None:
    secret = _token("", 26, 8)
    doc = {
        "mcpServers": {
            "bad-port": {"url": f"https://bob:{secret}@mcp.example.com:99999999/mcp"},
            "bad-ipv6": {"url": "http://[::1/mcp"},
            "not-a-dict": "npx server",
            "numbers": {"command": "node", "args": ["a.js", 3, None, {"x": 1}], "env": {"N": 1}},
            "inline": {"command": f"/opt/tool/run-mcp --api-key={secret}"},
            "good": {"command": "uvx", "args": ["mcp-server-time==0.6.2"]},
        }
    }
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    servers = servers_in(out)
    assert set(servers) == {"bad-port", "bad-ipv6", "numbers", "inline", "good"}
    assert servers["bad-port"].attributes["url_invalid"] is True
    assert servers["numbers"].attributes["args"] == ["a.js", "3"]
    assert servers["inline"].attributes["command"] == "/opt/tool/run-mcp"
    assert servers["inline"].attributes["args"] == ["--api-key=<redacted>"]
    assert secret not in json.dumps([o.to_dict() for o in out])
    assert ("AIP-MCP-001", secret) not in rules_in(out)
    assert any(r == "AIP-MCP-001" for r, _ in rules_in(out))


def test_ordinary_arguments_are_kept_and_unrecognised_keys_are_masked(tmp_path: Path) -> None:
    unknown_key = _token("", 32, 9)
    args = [
        "/Users/Alice/Documents/Projects/Notes2024",
        "@modelcontextprotocol/server-filesystem@2025.3.28",
        "--allowed-dir=/srv/shared_reports_2024_final",
        unknown_key,
    ]
    doc = {"mcpServers": {"fs": {"command": "npx", "args": ["-y", *args]}}}
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    assert servers_in(out)["fs"].attributes["args"] == ["-y", *args[:3], "<redacted>"]


def test_a_key_in_upper_case_and_digits_is_not_taken_for_a_variable_name(tmp_path: Path) -> None:
    aws = "AKIA" + "".join(random.Random(10).choices(string.ascii_uppercase + string.digits, k=16))
    doc = {
        "mcpServers": {
            "s3": {
                "command": "uvx",
                "args": ["s3-mcp==1.0"],
                "env": {"AWS_ACCESS_KEY_ID": aws, "AWS_REGION": "eu-west-1"},
            }
        }
    }
    out = scan_text(tmp_path, ".cursor/mcp.json", json.dumps(doc))
    creds = [o for o in out if isinstance(o, Asset) and o.kind is AssetKind.CREDENTIAL]
    assert [c.attributes["secret_type"] for c in creds] == ["AWS Access Key"]
    assert aws not in json.dumps([o.to_dict() for o in out])
