"""The contract every built-in rule keeps: metadata, framework tags, robustness, speed."""

from __future__ import annotations

import importlib
import inspect
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    Sanctioned,
    Sensitivity,
    Severity,
    Usage,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.registry import RuleRegistry

RULE_MODULES = (
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


def _rules_of(module: str) -> list[type[Rule]]:
    mod = importlib.import_module(f"aiposture.risk.rules.{module}")
    return [
        cls
        for cls in vars(mod).values()
        if inspect.isclass(cls)
        and issubclass(cls, Rule)
        and cls is not Rule
        and cls.__module__ == mod.__name__
    ]


ALL_RULES: list[type[Rule]] = [cls for m in RULE_MODULES for cls in _rules_of(m)]
ALL_KINDS = list(AssetKind)

_ID = re.compile(r"AIP-[A-Z]+-\d{3}")
_TAG_FORMS = {
    "owasp-llm": re.compile(r"LLM(0[1-9]|10)"),
    "atlas": re.compile(r"AML\.T\d{4}(\.\d{3})?"),
    "nist-ai-rmf": re.compile(r"(GOVERN|MAP|MEASURE|MANAGE)-\d\.\d{1,2}"),
    "eu-ai-act": re.compile(r"[a-z0-9-]+"),
    "cwe": re.compile(r"\d+"),
}
#: Subcategories per NIST AI RMF 1.0 function/category (how many each category has).
_NIST = {
    "GOVERN": {1: 7, 2: 3, 3: 2, 4: 3, 5: 2, 6: 2},
    "MAP": {1: 6, 2: 3, 3: 5, 4: 2, 5: 2},
    "MEASURE": {1: 3, 2: 13, 3: 3, 4: 3},
    "MANAGE": {1: 4, 2: 4, 3: 2, 4: 3},
}


def test_there_are_at_least_thirty_rules_in_every_area() -> None:
    assert len(ALL_RULES) >= 30
    for module in RULE_MODULES:
        assert _rules_of(module), module


def test_rule_ids_are_unique_and_well_formed() -> None:
    ids = [cls.id for cls in ALL_RULES]
    assert len(ids) == len(set(ids))
    for rid in ids:
        assert _ID.fullmatch(rid), rid


def test_every_rule_has_complete_metadata() -> None:
    for cls in ALL_RULES:
        assert cls.title.strip() and not cls.title.endswith("."), cls.id
        for text in (cls.rationale, cls.remediation):
            assert text.strip() and text.endswith("."), cls.id
        assert isinstance(cls.severity, Severity), cls.id
        assert isinstance(cls.kinds, frozenset), cls.id
        assert all(isinstance(k, AssetKind) for k in cls.kinds), cls.id
        assert cls.evaluate.__doc__, cls.id


def test_framework_tags_have_known_prefixes_and_valid_items() -> None:
    for cls in ALL_RULES:
        tags = list(cls.frameworks)
        assert len(tags) == len(set(tags)), cls.id
        assert any(t.startswith("owasp-llm:") for t in tags), cls.id
        for tag in tags:
            prefix, _, item = tag.partition(":")
            assert prefix in _TAG_FORMS, f"{cls.id}: {tag}"
            assert _TAG_FORMS[prefix].fullmatch(item), f"{cls.id}: {tag}"
            if prefix == "nist-ai-rmf":
                function, _, num = item.partition("-")
                category, sub = (int(x) for x in num.split("."))
                assert 1 <= sub <= _NIST[function][category], f"{cls.id}: {tag}"


def test_every_rule_registers_in_a_registry() -> None:
    reg = RuleRegistry()
    for cls in ALL_RULES:
        reg.register(cls)
    assert len(reg) == len(ALL_RULES)
    assert [type(r) for r in reg.create()] == sorted(ALL_RULES, key=lambda c: c.id)


# --- robustness: odd but valid data never raises ---------------------------------------------

_KEYS = [
    "format",
    "unsafe",
    "unsafe_globals",
    "world_writable",
    "world_readable",
    "extension_mismatch",
    "extension",
    "mode",
    "tools",
    "package",
    "package_specs",
    "pinned",
    "url",
    "host",
    "hosts",
    "headers",
    "license",
    "licence",
    "model_card",
    "source",
    "path",
    "use_case",
    "controls",
    "revision_pinned",
    "specifier",
    "secret_type",
    "self_hosted",
    "auth",
    "rate_limit",
    "public",
    "exposure",
    "approved",
    "approval",
    "service_id",
    "ecosystem",
]
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "pickle",
            "safetensors",
            "http://8.8.8.8:11434",
            "https://llm.acme-corp.com/v1",
            "localhost:11434",
            "cc-by-nc-4.0",
            "posix.system",
            "run_shell",
            "use_case:credit scoring",
            "npm:@modelcontextprotocol/server-filesystem",
            "yes",
            "",
        ]
    ),
)
_value: st.SearchStrategy[Any] = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_TAGS = [
    "customer-facing",
    "critical",
    "public",
    "self-hosted",
    "control:approval",
    "control:authentication",
    "control:guardrail",
    "use_case:hiring",
    "use_case:",
    "",
]


@st.composite
def _asset(draw: st.DrawFn, n: int) -> Asset:
    kind = draw(st.sampled_from(ALL_KINDS))
    name = draw(st.sampled_from(["x", "acme/model", "text-davinci-003", "gpt-4o", "a b"]))
    usage = draw(st.none() | st.builds(Usage, bytes_out=st.integers(0, 10**9)))
    return Asset.new(
        kind,
        name,
        key=normalise_key(str(n), name),
        provider=draw(st.sampled_from([None, "openai", "huggingface", "local", "deepseek", ""])),
        version=draw(st.sampled_from([None, "1.0", "0" * 40])),
        owner=draw(st.sampled_from([None, "", "  ", "team"])),
        environment=draw(st.sampled_from(list(Environment))),
        data_sensitivity=draw(st.sampled_from(list(Sensitivity))),
        sanctioned=draw(st.sampled_from(list(Sanctioned))),
        tags=draw(st.lists(st.sampled_from(_TAGS) | st.text(max_size=8), max_size=4)),
        attributes=draw(st.dictionaries(st.sampled_from(_KEYS), _value, max_size=6)),
        stale=draw(st.booleans()),
        locations=draw(st.lists(st.sampled_from(["http://1.2.3.4", "/tmp/x", "::"]), max_size=2)),
        evidence=[
            Evidence(
                kind=draw(st.sampled_from(list(EvidenceKind))),
                snippet=draw(st.sampled_from([None, "trust_remote_code=True", "revision='x'"])),
                usage=usage,
            )
        ],
    )


@st.composite
def _estate(draw: st.DrawFn) -> EstateGraph:
    assets = [draw(_asset(i)) for i in range(draw(st.integers(1, 7)))]
    relations = []
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(assets)), draw(st.sampled_from(assets))
        rel = Relation.new(a.id, draw(st.sampled_from(list(RelationKind))), b.id)
        relations.append(rel.model_copy(update={"stale": draw(st.booleans())}))
    findings = [
        Finding.new(
            draw(st.sampled_from(assets)).id,
            draw(st.sampled_from(["AIP-MODEL-001", "AIP-LEAK-001", "AIP-MCP-003", "AIP-CRED-001"])),
            "t",
            draw(st.sampled_from(list(Severity))),
            fingerprint=draw(st.sampled_from(["", "x|no-auth", "posix.system"])),
            status=draw(st.sampled_from(list(FindingStatus))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return EstateGraph.build(assets, relations, findings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_estate())
def test_no_rule_raises_on_odd_but_valid_data(graph: EstateGraph) -> None:
    rules = [cls() for cls in ALL_RULES]
    for asset in list(graph.assets.values()):
        for rule in rules:
            if rule.kinds and asset.kind not in rule.kinds:
                continue
            for f in rule.evaluate(asset, graph):
                assert isinstance(f, Finding)
                assert f.rule_id == rule.id
                assert f.asset_id in graph.assets
                assert f.remediation == rule.remediation


def _worst(graph: EstateGraph) -> dict[tuple[str, str], int]:
    worst: dict[tuple[str, str], int] = {}
    for rule in (cls() for cls in ALL_RULES):
        for asset in graph.of_kind(*rule.kinds):
            for f in rule.evaluate(asset, graph):
                key = (rule.id, f.asset_id)
                worst[key] = max(worst.get(key, -1), f.severity.rank)
    return worst


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_estate(), st.data())
def test_more_exposure_never_lowers_a_finding(graph: EstateGraph, data: st.DataObject) -> None:
    """Putting assets in production or tagging them customer-facing or critical never removes
    a finding nor lowers its severity."""
    ids = sorted(graph.assets)
    chosen = data.draw(st.sets(st.sampled_from(ids), min_size=1))
    extra = data.draw(st.lists(st.sampled_from(["customer-facing", "critical"]), max_size=2))
    assets = [
        a.model_copy(update={"environment": Environment.PROD, "tags": [*a.tags, *extra]})
        if a.id in chosen
        else a
        for a in graph.assets.values()
    ]
    exposed = EstateGraph.build(assets, graph.relations, graph.findings)
    before, after = _worst(graph), _worst(exposed)
    for key, rank in before.items():
        assert after.get(key, -1) >= rank, key


# --- speed: each call is O(degree) ------------------------------------------------------------


def _big_estate(n_apps: int) -> EstateGraph:
    assets: list[Asset] = []
    relations: list[Relation] = []
    services = [
        Asset.new(
            AssetKind.AI_SERVICE,
            f"svc{i}",
            key=f"svc{i}",
            provider=f"p{i}",
            sanctioned=Sanctioned.UNSANCTIONED if i % 2 else Sanctioned.UNKNOWN,
        )
        for i in range(20)
    ]
    assets += services
    for i in range(n_apps):
        app = Asset.new(
            AssetKind.APPLICATION,
            f"app{i}",
            key=f"app{i}",
            environment=Environment.PROD if i % 3 == 0 else Environment.DEV,
            tags=["customer-facing"] if i % 5 == 0 else [],
        )
        model = Asset.new(AssetKind.MODEL, f"org/m{i}", key=f"m{i}", provider="huggingface")
        data = Asset.new(
            AssetKind.DATASET, f"d{i}", key=f"d{i}", data_sensitivity=Sensitivity.CONFIDENTIAL
        )
        cred = Asset.new(AssetKind.CREDENTIAL, f"c{i}", key=f"c{i}", provider=f"p{i % 20}")
        pkg = Asset.new(
            AssetKind.PACKAGE, f"pkg{i}", key=f"pkg{i}", attributes={"specifier": ">=1"}
        )
        agent = Asset.new(
            AssetKind.AGENT, f"ag{i}", key=f"ag{i}", attributes={"tools": ["run_shell", "fetch"]}
        )
        assets += [app, model, data, cred, pkg, agent]
        relations += [
            Relation.new(app.id, RelationKind.USES_MODEL, model.id),
            Relation.new(model.id, RelationKind.TRAINED_ON, data.id),
            Relation.new(cred.id, RelationKind.DECLARED_IN, app.id),
            Relation.new(pkg.id, RelationKind.DECLARED_IN, app.id),
            Relation.new(agent.id, RelationKind.DECLARED_IN, app.id),
            Relation.new(app.id, RelationKind.CALLS_SERVICE, services[i % 20].id),
        ]
    return EstateGraph.build(assets, relations)


def _assess(graph: EstateGraph) -> int:
    rules = [cls() for cls in ALL_RULES]
    count = 0
    for rule in rules:
        for asset in graph.of_kind(*rule.kinds):
            count += sum(1 for _ in rule.evaluate(asset, graph))
    return count


@pytest.mark.slow
def test_rules_stay_fast_on_a_large_estate() -> None:
    graph = _big_estate(1_500)  # ~9,000 assets, 9,000 relations
    start = time.perf_counter()
    findings = _assess(graph)
    elapsed = time.perf_counter() - start
    assert findings > 1_500
    assert elapsed < 30, f"{elapsed:.1f}s for {len(graph.assets)} assets"
