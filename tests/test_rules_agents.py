"""Agent rules: tools that act without approval, and the data-exfiltration trifecta."""

from __future__ import annotations

import textwrap
from pathlib import Path

from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetKind
from aiposture.discovery.scanners.python_code import PythonCodeScanner
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Finding,
    Relation,
    RelationKind,
    Sensitivity,
    Severity,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.agents import (
    AgentExfiltrationPath,
    ExcessiveAgencyWithoutApproval,
    capabilities,
)


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _agent(*tools: str, **fields: object) -> Asset:
    return Asset.new(
        AssetKind.AGENT,
        "helper",
        key=normalise_key("agent", "/p", "helper"),
        attributes={"tools": list(tools)},
        **fields,
    )


def _server(name: str, package: str | None = None, **fields: object) -> Asset:
    s = observe.mcp_server(name, scope="/p", package=package)
    return s.model_copy(update=fields) if fields else s


def _app(name: str = "bot", **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _calls(src: Asset, dst: Asset) -> Relation:
    return Relation.new(src.id, RelationKind.CALLS_SERVICE, dst.id)


def test_tool_names_are_classified_by_their_words() -> None:
    caps = capabilities(
        _agent("runShell", "run_query", "lookup_policy", "send_email", "fetchUrl", "read_email")
    )
    assert caps["execute"] == ["runShell"]
    assert caps["send"] == ["send_email"]
    assert caps["external"] == ["fetchUrl", "read_email"]
    assert "write" not in caps
    fs = _server("files", "npm:@modelcontextprotocol/server-filesystem")
    assert capabilities(fs) == {"write": ["@modelcontextprotocol/server-filesystem"]}


# --- AIP-AGENT-001 -------------------------------------------------------------------------


def test_agent_that_can_send_without_approval_is_medium_and_execute_is_high() -> None:
    agent = _agent("search_docs", "send_email")
    [finding] = _run(ExcessiveAgencyWithoutApproval(), _graph(agent), agent)
    assert finding.severity is Severity.MEDIUM and "send_email" in finding.description
    agent = _agent("run_shell")
    [finding] = _run(ExcessiveAgencyWithoutApproval(), _graph(agent), agent)
    assert finding.severity is Severity.HIGH


def test_production_use_raises_it() -> None:
    agent = _agent("run_shell")
    app = _app(environment=Environment.PROD)
    g = _graph(agent, app, Relation.new(agent.id, RelationKind.DECLARED_IN, app.id))
    [finding] = _run(ExcessiveAgencyWithoutApproval(), g, agent)
    assert finding.severity is Severity.CRITICAL


def test_approval_or_read_only_tools_silence_it() -> None:
    approved = _agent("run_shell", tags=["control:approval"])
    assert _run(ExcessiveAgencyWithoutApproval(), _graph(approved), approved) == []
    reader = _agent("search_docs", "get_weather", "lookup_policy")
    assert _run(ExcessiveAgencyWithoutApproval(), _graph(reader), reader) == []
    odd = _agent()
    odd = odd.model_copy(update={"attributes": {"tools": {"nested": [1, 2]}}})
    assert _run(ExcessiveAgencyWithoutApproval(), _graph(odd), odd) == []


def test_mcp_servers_are_judged_by_their_tools_and_package() -> None:
    fs = _server("files", "npm:@modelcontextprotocol/server-filesystem")
    [finding] = _run(ExcessiveAgencyWithoutApproval(), _graph(fs), fs)
    assert finding.severity is Severity.MEDIUM
    tools = _server("claims-tools", attributes={"tools": ["lookup_policy"]})
    assert _run(ExcessiveAgencyWithoutApproval(), _graph(tools), tools) == []


def test_agent_inherits_the_tools_of_mcp_servers_without_approval() -> None:
    agent = _agent("search_docs")
    fs = _server("files", "npm:@modelcontextprotocol/server-filesystem")
    [finding] = _run(ExcessiveAgencyWithoutApproval(), _graph(agent, fs, _calls(agent, fs)), agent)
    assert "files: @modelcontextprotocol/server-filesystem" in finding.description
    gated = fs.model_copy(update={"tags": ["control:approval"]})
    g = _graph(agent, gated, _calls(agent, gated))
    assert _run(ExcessiveAgencyWithoutApproval(), g, agent) == []


def test_agent_declared_in_real_code_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "proj" / "agent.py"
    path.parent.mkdir()
    path.write_text(
        textwrap.dedent(
            """
            from langgraph.prebuilt import create_react_agent
            from langchain_openai import ChatOpenAI

            def send_email(to: str, body: str) -> str:
                return "ok"

            def run_shell(cmd: str) -> str:
                return ""

            agent = create_react_agent(ChatOpenAI(model="gpt-4o"), tools=[send_email, run_shell])
            """
        ),
        encoding="utf-8",
    )
    target = Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=tmp_path,
        data=path.read_bytes(),
        project=path.parent,
    )
    objs = [o for o in PythonCodeScanner().scan(target) if isinstance(o, Asset | Relation)]
    graph = _graph(*objs)
    [agent] = graph.of_kind(AssetKind.AGENT)
    [finding] = _run(ExcessiveAgencyWithoutApproval(), graph, agent)
    assert finding.severity is Severity.HIGH
    assert "execute/send" in finding.title


# --- AIP-AGENT-002 -------------------------------------------------------------------------


def test_agent_with_confidential_data_and_a_fetch_tool_is_high() -> None:
    agent = _agent("fetch_url", data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(AgentExfiltrationPath(), _graph(agent), agent)
    assert finding.severity is Severity.HIGH
    agent = _agent("fetch_url", data_sensitivity=Sensitivity.RESTRICTED)
    [finding] = _run(AgentExfiltrationPath(), _graph(agent), agent)
    assert finding.severity is Severity.CRITICAL


def test_customer_facing_agent_that_can_send_mail_with_sensitive_context() -> None:
    agent = _agent("send_email", tags=["customer-facing"])
    app = _app(data_sensitivity=Sensitivity.CONFIDENTIAL)
    g = _graph(agent, app, Relation.new(agent.id, RelationKind.DECLARED_IN, app.id))
    assert len(_run(AgentExfiltrationPath(), g, agent)) == 1


def test_one_missing_leg_or_an_approval_breaks_the_path() -> None:
    rule = AgentExfiltrationPath()
    no_data = _agent("fetch_url", data_sensitivity=Sensitivity.INTERNAL)
    no_way_out = _agent("lookup_policy", data_sensitivity=Sensitivity.RESTRICTED)
    no_input = _agent("send_email", data_sensitivity=Sensitivity.RESTRICTED)
    approved = _agent(
        "fetch_url", data_sensitivity=Sensitivity.RESTRICTED, tags=["control:approval"]
    )
    for agent in (no_data, no_way_out, no_input, approved):
        assert _run(rule, _graph(agent), agent) == [], agent.attributes


def test_application_driving_mcp_tools_is_an_agent_too() -> None:
    app = _app("research", data_sensitivity=Sensitivity.RESTRICTED)
    fetch = _server("fetch", "pypi:mcp-server-fetch")
    [finding] = _run(AgentExfiltrationPath(), _graph(app, fetch, _calls(app, fetch)), app)
    assert finding.severity is Severity.CRITICAL
    plain = _app("plain", data_sensitivity=Sensitivity.RESTRICTED)
    assert _run(AgentExfiltrationPath(), _graph(plain), plain) == []
