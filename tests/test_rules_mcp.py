"""MCP rules: scanner findings on MCP servers escalated by who uses the server."""

from __future__ import annotations

import json
from pathlib import Path

from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetKind
from aiposture.discovery.scanners.mcp_config import McpConfigScanner
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    Sensitivity,
    Severity,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.mcp import (
    McpSecretInSensitiveUse,
    UnauthenticatedRemoteMcpInSensitiveUse,
    UnpinnedMcpInSensitiveUse,
)

_EV = Evidence(kind=EvidenceKind.CONFIG, path="/p/.cursor/mcp.json", line=4, key="mcpServers.x")


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _app(name: str = "bot", **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _server(**attrs: object) -> Asset:
    s = observe.mcp_server(
        "github", scope="/p", command="npx", package="npm:@modelcontextprotocol/server-github"
    )
    return s.model_copy(update={"attributes": {**s.attributes, **attrs}})


def _uses(app: Asset, server: Asset) -> Relation:
    return Relation.new(app.id, RelationKind.CALLS_SERVICE, server.id, evidence=[_EV])


def _secret(server: Asset) -> tuple[Asset, Relation]:
    cred = observe.credential("GitHub Token", "0f0f0f0f0f0f0f0f", evidence=_EV)
    return cred, Relation.new(cred.id, RelationKind.DECLARED_IN, server.id, evidence=[_EV])


# --- AIP-MCP-004 ---------------------------------------------------------------------------


def test_server_with_a_secret_used_in_production_is_high_and_critical_customer_facing() -> None:
    server = _server()
    cred, held = _secret(server)
    prod = _app(environment=Environment.PROD)
    g = _graph(server, cred, prod, held, _uses(prod, server))
    [finding] = _run(McpSecretInSensitiveUse(), g, server)
    assert finding.severity is Severity.HIGH
    facing = _app(tags=["customer-facing"])
    g = _graph(server, cred, facing, held, _uses(facing, server))
    [finding] = _run(McpSecretInSensitiveUse(), g, server)
    assert finding.severity is Severity.CRITICAL


def test_server_with_a_secret_in_a_sensitive_dev_project_is_high() -> None:
    server = _server()
    cred, held = _secret(server)
    app = _app(data_sensitivity=Sensitivity.RESTRICTED)
    g = _graph(server, cred, app, held, _uses(app, server))
    assert [f.severity for f in _run(McpSecretInSensitiveUse(), g, server)] == [Severity.HIGH]


def test_secret_in_a_plain_project_or_revoked_secret_is_left_to_the_scanner() -> None:
    server = _server()
    cred, held = _secret(server)
    dev = _app(environment=Environment.DEV)
    assert (
        _run(McpSecretInSensitiveUse(), _graph(server, cred, dev, held, _uses(dev, server)), server)
        == []
    )
    prod = _app(environment=Environment.PROD)
    revoked = Finding.new(
        cred.id,
        "AIP-MCP-001",
        "secret",
        Severity.HIGH,
        fingerprint="x",
        status=FindingStatus.RESOLVED,
    )
    g = _graph(server, cred, prod, held, _uses(prod, server), revoked)
    assert _run(McpSecretInSensitiveUse(), g, server) == []
    assert _run(McpSecretInSensitiveUse(), _graph(server, prod, _uses(prod, server)), server) == []


# --- AIP-MCP-005 ---------------------------------------------------------------------------


def test_unpinned_server_in_production_is_high_and_critical_with_a_secret() -> None:
    server = _server(pinned=False, package_specs=["@modelcontextprotocol/server-github"])
    prod = _app(environment=Environment.PROD)
    [finding] = _run(UnpinnedMcpInSensitiveUse(), _graph(server, prod, _uses(prod, server)), server)
    assert finding.severity is Severity.HIGH
    assert "@modelcontextprotocol/server-github" in finding.title
    cred, held = _secret(server)
    g = _graph(server, cred, prod, held, _uses(prod, server))
    [finding] = _run(UnpinnedMcpInSensitiveUse(), g, server)
    assert finding.severity is Severity.CRITICAL


def test_pinned_unknown_or_dev_only_servers_are_not_escalated() -> None:
    prod, dev = _app(environment=Environment.PROD), _app("lab", environment=Environment.DEV)
    for server in (_server(pinned=True), _server(), _server(pinned="sometimes")):
        g = _graph(server, prod, _uses(prod, server))
        assert _run(UnpinnedMcpInSensitiveUse(), g, server) == []
    loose = _server(pinned=False)
    assert _run(UnpinnedMcpInSensitiveUse(), _graph(loose, dev, _uses(dev, loose)), loose) == []


# --- AIP-MCP-006 ---------------------------------------------------------------------------


def _remote(**attrs: object) -> tuple[Asset, Finding]:
    server = observe.mcp_server(
        "kb", scope="/p", transport="http", url="https://mcp.kb.example.com/mcp"
    )
    server = server.model_copy(update={"attributes": {**server.attributes, **attrs}})
    no_auth = Finding.new(
        server.id,
        "AIP-MCP-003",
        "no auth",
        Severity.HIGH,
        fingerprint="/p/mcp.json|servers.kb|no-auth",
    )
    return server, no_auth


def test_unauthenticated_remote_server_in_production_is_high() -> None:
    server, no_auth = _remote(headers=[])
    prod = _app(environment=Environment.PROD)
    g = _graph(server, prod, _uses(prod, server), no_auth)
    [finding] = _run(UnauthenticatedRemoteMcpInSensitiveUse(), g, server)
    assert finding.severity is Severity.HIGH
    assert "https://mcp.kb.example.com/mcp" in finding.description


def test_unauthenticated_remote_server_with_write_tools_is_critical() -> None:
    server, no_auth = _remote(tools=["search", "delete_page"])
    prod = _app(environment=Environment.PROD)
    g = _graph(server, prod, _uses(prod, server), no_auth)
    [finding] = _run(UnauthenticatedRemoteMcpInSensitiveUse(), g, server)
    assert finding.severity is Severity.CRITICAL


def test_authenticated_dismissed_or_dev_remote_servers_are_not_escalated() -> None:
    prod = _app(environment=Environment.PROD)
    rule = UnauthenticatedRemoteMcpInSensitiveUse()
    with_header, no_auth = _remote(headers=["Authorization"])
    assert (
        _run(rule, _graph(with_header, prod, _uses(prod, with_header), no_auth), with_header) == []
    )
    tagged, no_auth = _remote()
    tagged = tagged.model_copy(update={"tags": ["control:authentication"]})
    assert _run(rule, _graph(tagged, prod, _uses(prod, tagged), no_auth), tagged) == []
    server, no_auth = _remote()
    dismissed = no_auth.model_copy(update={"status": FindingStatus.FALSE_POSITIVE})
    assert _run(rule, _graph(server, prod, _uses(prod, server), dismissed), server) == []
    assert _run(rule, _graph(server, prod, _uses(prod, server)), server) == []
    dev = _app(environment=Environment.DEV)
    assert _run(rule, _graph(server, dev, _uses(dev, server), no_auth), server) == []


def test_remote_server_from_a_real_vscode_configuration(tmp_path: Path) -> None:
    path = tmp_path / ".vscode" / "mcp.json"
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                "servers": {
                    "kb": {"type": "http", "url": "https://mcp.kb.example.com/mcp"},
                    "docs": {
                        "type": "http",
                        "url": "https://mcp.docs.example.com/mcp",
                        "headers": {"Authorization": "Bearer ${input:docs_token}"},
                    },
                }
            }
        ),
        encoding="utf-8",
    )
    target = Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=tmp_path,
        data=path.read_bytes(),
        project=tmp_path,
    )
    obs = [o for o in McpConfigScanner().scan(target) if isinstance(o, Asset | Relation | Finding)]
    assets = [
        a.model_copy(update={"environment": Environment.PROD})
        if isinstance(a, Asset) and a.kind is AssetKind.APPLICATION
        else a
        for a in obs
    ]
    graph = _graph(*assets)
    rule = UnauthenticatedRemoteMcpInSensitiveUse()
    fired = {s.name for s in graph.of_kind(AssetKind.MCP_SERVER) for _ in _run(rule, graph, s)}
    assert fired == {"kb"}
