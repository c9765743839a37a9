"""All rules over the demo estate, scanned for real by the discovery scanners.

The estate is written by :func:`aiposture.demo.build_estate` into a temporary folder, scanned
into a SQLite store, and the rules run on the graph built from the store: first as found,
then after people record business context (production, customer-facing, data
sensitivity), as ``update_asset`` does.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest

from aiposture import Posture, Settings
from aiposture.demo import Estate, build_estate
from aiposture.models import AssetKind, Environment, Finding, Sensitivity, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.store import Store

_MODULES = (
    "models",
    "supply_chain",
    "credentials",
    "shadow_ai",
    "exposure",
    "data",
    "mcp",
    "agents",
    "governance",
)


def _all_rules() -> list[Rule]:
    out = []
    for m in _MODULES:
        mod = importlib.import_module(f"aiposture.risk.rules.{m}")
        out += [
            cls()
            for cls in vars(mod).values()
            if inspect.isclass(cls)
            and issubclass(cls, Rule)
            and cls is not Rule
            and cls.__module__ == mod.__name__
        ]
    return out


def _graph(store: Store) -> EstateGraph:
    return EstateGraph.build(store.assets(), store.relations(), store.findings())


def _assess(graph: EstateGraph) -> list[Finding]:
    found = []
    for rule in _all_rules():
        for asset in graph.of_kind(*rule.kinds):
            found += list(rule.evaluate(asset, graph))
    return found


def _on(graph: EstateGraph, findings: list[Finding], name: str) -> dict[str, Finding]:
    return {f.rule_id: f for f in findings if graph.assets[f.asset_id].name == name}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Estate, Posture]]:
    base = tmp_path_factory.mktemp("rules-estate")
    estate = build_estate(base / "estate")
    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": list(estate.sanctioned)}}
    )
    p = Posture.open(f"sqlite:///{base / 'posture.db'}", actor="rules-test", config=settings)
    p.discover([estate.root], logs=estate.logs, progress=False)
    try:
        yield estate, p
    finally:
        p.close()


def test_rules_on_the_estate_as_found(demo: tuple[Estate, Posture]) -> None:
    _, p = demo
    graph = _graph(p.store)
    findings = _assess(graph)

    pickle = _on(graph, findings, "fraud_xgb_v2.pkl")["AIP-MODEL-001"]
    scanner = next(
        f
        for f in p.store.findings()
        if f.rule_id == "AIP-MODEL-001" and f.asset_id == pickle.asset_id
    )
    assert pickle.id == scanner.id and pickle.severity is Severity.CRITICAL

    assert "AIP-SUPPLY-001" in _on(
        graph, findings, "distilbert-base-uncased-finetuned-sst-2-english"
    )
    assert "AIP-SUPPLY-003" in _on(graph, findings, "claude-3-5-sonnet-20241022")
    assert "AIP-AGENT-001" in _on(graph, findings, "github")
    assert "AIP-DATA-002" in _on(graph, findings, "sentence-transformers/embedding-training-data")
    assert "AIP-SHADOW-004" in _on(graph, findings, "Mistral API")
    # Nothing says where the estate runs yet: no production escalation fires.
    escalations = {"AIP-CRED-003", "AIP-MCP-004", "AIP-MCP-005", "AIP-MCP-006", "AIP-GOV-002"}
    assert not escalations & {f.rule_id for f in findings}
    # A dev notebook that loads a public model is no high risk in itself.
    notebooks = {a.id for a in graph.of_kind(AssetKind.NOTEBOOK)}
    assert all(f.severity.rank < Severity.HIGH.rank for f in findings if f.asset_id in notebooks)


def test_rules_after_business_context_is_recorded(demo: tuple[Estate, Posture]) -> None:
    _, p = demo
    by_name = {a.name: a for a in p.store.assets() if not a.stale}
    p.store.update_asset(
        by_name["support-bot"].id,
        actor="rules-test",
        environment=Environment.PROD,
        tags=["customer-facing"],
    )
    p.store.update_asset(
        by_name["ChatGPT"].id, actor="rules-test", data_sensitivity=Sensitivity.CONFIDENTIAL
    )
    graph = _graph(p.store)
    findings = _assess(graph)

    key = next(f for f in findings if f.rule_id == "AIP-CRED-003")
    assert graph.assets[key.asset_id].name.startswith("OpenAI Token")
    assert key.severity is Severity.CRITICAL
    assert not any(p_ in key.model_dump_json() for p_ in demo[0].secrets)

    shadow = _on(graph, findings, "ChatGPT")["AIP-SHADOW-002"]
    assert shadow.severity is Severity.HIGH

    bot = _on(graph, findings, "support-bot")
    assert bot["AIP-GOV-002"].severity is Severity.HIGH  # customer-facing, no approval
    assert bot["AIP-EXPOSE-004"].severity is Severity.HIGH  # no guardrail, calls MCP tools
    assert _on(graph, findings, "kb-search")["AIP-MCP-006"].severity is Severity.CRITICAL
    github = _on(graph, findings, "github")
    assert github["AIP-MCP-005"].severity is Severity.CRITICAL  # unpinned and given a token


def test_finding_ids_are_stable_across_a_rescan(demo: tuple[Estate, Posture]) -> None:
    estate, p = demo
    before = {f.id for f in _assess(_graph(p.store))}
    p.discover([estate.root], logs=estate.logs, progress=False)
    after = {f.id for f in _assess(_graph(p.store))}
    assert before == after
