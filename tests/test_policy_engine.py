"""Decisions over a real inventory: Cedar checks, what-if, data-usage violations."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Relation,
    RelationKind,
    Sensitivity,
    Severity,
)
from aiposture.policy.engine import PolicyEngine
from aiposture.policy.entities import DEFAULT_SCHEMA, is_third_party
from aiposture.policy.loader import PolicyStore, load_policy
from aiposture.policy.models import Action, Decision, PolicyViolation, Principal, PrincipalType
from aiposture.risk.frameworks import validate_tags
from aiposture.store import Store, open_store
from aiposture.store.base import FileState, SourceUpdate

ACCESS = """\
// Only the fraud team may query models trained on restricted data.
@id("restricted-models-fraud-only")
forbid(principal, action == Action::"query", resource is Model)
when { resource.trained_on == "restricted" }
unless { principal in Group::"fraud" };

@id("query-models")
permit(principal, action == Action::"query", resource is Model);

// No agent may deploy.
@id("no-agent-deploy")
forbid(principal is Agent, action == Action::"deploy", resource);

@id("ml-deploy")
permit(principal in Group::"ml-platform", action == Action::"deploy", resource)
when { resource.environment != "prod" || principal.type == "service" };

@id("export-with-ticket")
permit(principal, action == Action::"export", resource is Dataset)
when { context has ticket && resource.sensitivity_rank < 3 };
"""

PRINCIPALS = """\
principals:
  - id: alice
    groups: [fraud]
  - id: bob
    groups: [support]
  - id: deploy-bot
    type: agent
    groups: [ml-platform]
  - id: ci
    type: service
    groups: [ml-platform]
"""

DATA_USAGE = """\
rules:
  - id: restricted-never-third-party
    sensitivity: restricted
    allow_third_party: false
  - id: confidential-needs-monitoring
    sensitivity: confidential
    require_controls: [output-monitoring]
residency:
  restricted: [eu-*]
  confidential: [eu-*, us-east-1]
"""


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


@dataclass
class Estate:
    store: Store
    by_name: dict[str, Asset]


def dataset(name: str, sensitivity: Sensitivity, region: str | None = None) -> Asset:
    attrs = {"region": region} if region else {}
    return Asset.new(
        AssetKind.DATASET,
        name,
        key=f"dataset|{name}",
        data_sensitivity=sensitivity,
        attributes=attrs,
    )


def model(name: str, provider: str, **fields: object) -> Asset:
    return Asset.new(
        AssetKind.MODEL, name, key=f"model|{provider}|{name}", provider=provider, **fields
    )  # type: ignore[arg-type]


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    """A real SQLite inventory: models trained on datasets of several classes."""
    claims = dataset("claims-data", Sensitivity.RESTRICTED, "eu-west-1")
    customers = dataset("customer-data", Sensitivity.CONFIDENTIAL, "us-east-1")
    public = dataset("public-data", Sensitivity.PUBLIC)
    research = dataset("research-dump", Sensitivity.RESTRICTED, "us-west-2")
    fraud = model("fraud-model", "openai", environment=Environment.PROD)
    support = model("support-model", "huggingface", environment=Environment.DEV)
    monitored = model(
        "monitored-model",
        "huggingface",
        tags=["control:output-monitoring"],
        environment=Environment.PROD,
    )
    open_model = model("open-model", "huggingface", environment=Environment.STAGING)
    tuned = model("tuned-fraud", "meta", environment=Environment.DEV)
    assets = [claims, customers, public, research, fraud, support, monitored, open_model, tuned]
    relations = [
        Relation.new(fraud.id, RelationKind.TRAINED_ON, claims.id),
        Relation.new(support.id, RelationKind.TRAINED_ON, customers.id),
        Relation.new(monitored.id, RelationKind.TRAINED_ON, customers.id),
        Relation.new(open_model.id, RelationKind.TRAINED_ON, public.id),
        Relation.new(tuned.id, RelationKind.DERIVED_FROM, fraud.id),
    ]
    store = open_store(f"sqlite:///{tmp_path / 'posture.db'}")
    store.apply(
        [
            SourceUpdate(
                "/estate/inventory.py",
                "/estate",
                [*assets, *relations],
                FileState(1, 1, "0" * 64, "test@1"),
            )
        ],
        scan_id="scan-1",
        actor="test",
    )
    try:
        yield Estate(store, {a.name: a for a in assets})
    finally:
        store.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "policy"
    write(root, "access.cedar", ACCESS)
    write(root, "principals.yaml", PRINCIPALS)
    write(root, "data_usage.yaml", DATA_USAGE)
    write(
        root,
        "schema.cedarschema",
        DEFAULT_SCHEMA.replace("context: {}", "context: {ticket?: String}"),
    )
    return root


@pytest.fixture
def engine(folder: Path, estate: Estate) -> PolicyEngine:
    return PolicyEngine(load_policy(folder), estate.store)


# --- access control ----------------------------------------------------------------------


def test_fraud_team_may_query_a_model_trained_on_restricted_data(engine: PolicyEngine) -> None:
    d = engine.check("alice", "query", "fraud-model")
    assert d.allowed
    assert d.decided_by == ("query-models",)
    assert d.reasons == ("permit query-models (access.cedar:7)",)


def test_others_may_not_query_a_model_trained_on_restricted_data(engine: PolicyEngine) -> None:
    d = engine.check("bob", "query", "fraud-model")
    assert not d.allowed
    assert d.decided_by == ("restricted-models-fraud-only",)
    assert d.reasons == ("forbid restricted-models-fraud-only (access.cedar:2)",)


def test_restriction_follows_training_data_through_derived_models(engine: PolicyEngine) -> None:
    # tuned-fraud is derived from fraud-model, which was trained on restricted data.
    assert not engine.check("bob", "query", "tuned-fraud").allowed
    assert engine.check("bob", "query", "open-model").allowed


def test_inventory_changes_reach_decisions_after_refresh(
    engine: PolicyEngine, estate: Estate
) -> None:
    assert engine.check("bob", "query", "support-model").allowed
    estate.store.update_asset(
        estate.by_name["customer-data"].id, actor="test", data_sensitivity="restricted"
    )
    engine.refresh()
    d = engine.check("bob", "query", "support-model")
    assert not d.allowed and d.decided_by == ("restricted-models-fraud-only",)


def test_no_agent_may_deploy_even_from_an_allowed_group(engine: PolicyEngine) -> None:
    d = engine.check("deploy-bot", "deploy", "support-model")
    assert not d.allowed
    assert d.decided_by == ("no-agent-deploy",)
    assert engine.check("ci", "deploy", "support-model").allowed
    assert engine.check("ci", "deploy", "fraud-model").allowed  # a service may deploy to prod


def test_unknown_principal_gets_a_default_deny(engine: PolicyEngine) -> None:
    d = engine.check("mallory", "deploy", "support-model")
    assert not d.allowed
    assert d.decided_by == ()
    assert "default deny" in d.reasons[0]


def test_principal_passed_in_overrides_the_declared_one(engine: PolicyEngine) -> None:
    bob_in_fraud = Principal(id="bob", groups=("support", "fraud"))
    assert engine.check(bob_in_fraud, "query", "fraud-model").allowed
    assert not engine.check("bob", "query", "fraud-model").allowed
    newcomer = Principal(id="carol", groups=("fraud",))
    assert engine.check(newcomer, "query", "fraud-model").allowed
    agent = Principal(id="helper", type=PrincipalType.AGENT, groups=("ml-platform",))
    assert not engine.check(agent, "deploy", "support-model").allowed


def test_context_is_visible_to_policies(engine: PolicyEngine) -> None:
    assert not engine.check("bob", "export", "customer-data").allowed
    assert engine.check("bob", "export", "customer-data", {"ticket": "SEC-1"}).allowed
    # restricted data is never exported, ticket or not
    assert not engine.check("bob", "export", "claims-data", {"ticket": "SEC-1"}).allowed


def test_resource_by_id_or_name_and_unknown_resource(engine: PolicyEngine, estate: Estate) -> None:
    by_id = engine.check("alice", "query", estate.by_name["open-model"].id)
    by_name = engine.check("alice", "query", "open-model")
    assert by_id == by_name
    with pytest.raises(NotFoundError, match="no-such-model"):
        engine.check("alice", "query", "no-such-model")
    with pytest.raises(ValueError):
        engine.check("alice", "launch", "open-model")


def test_batch_matches_single_checks(engine: PolicyEngine) -> None:
    reqs = [
        (p, a, r)
        for p in ("alice", "bob", "deploy-bot", "ci")
        for a in ("query", "deploy")
        for r in ("fraud-model", "support-model", "open-model")
    ]
    batch = engine.check_many(reqs)
    assert batch == [engine.check(*r) for r in reqs]
    # query: alice 3, bob 2, deploy-bot 2, ci 2; deploy: only ci (a service), 3
    assert sum(d.allowed for d in batch) == 12


def test_engine_follows_reloads_of_a_policy_store(folder: Path, estate: Estate) -> None:
    store = PolicyStore(folder)
    engine = PolicyEngine(store, estate.store)
    assert not engine.check("deploy-bot", "deploy", "support-model").allowed
    write(
        folder,
        "access.cedar",
        ACCESS.replace('@id("no-agent-deploy")\nforbid', '@id("no-agent-deploy")\npermit'),
    )
    store.reload()
    assert engine.check("deploy-bot", "deploy", "support-model").allowed


def test_policy_violation_carries_the_decision(engine: PolicyEngine) -> None:
    d = engine.check("bob", "query", "fraud-model")
    err = PolicyViolation(d)
    assert err.decision is d
    assert "restricted-models-fraud-only" in str(err)
    assert isinstance(d, Decision)


# --- what if -----------------------------------------------------------------------------


def test_what_if_shows_exactly_the_decisions_that_change(
    engine: PolicyEngine, folder: Path, tmp_path: Path, estate: Estate
) -> None:
    draft = tmp_path / "draft"
    shutil.copytree(folder, draft)
    rule = 'forbid(principal is Agent, action == Action::"deploy", resource);\n'
    text = ACCESS.replace('@id("no-agent-deploy")\n' + rule, "")
    assert text != ACCESS
    write(draft, "access.cedar", text)
    report = engine.what_if(draft)
    non_prod = {a.id for a in estate.by_name.values() if a.environment is not Environment.PROD}
    assert {(c.principal, c.action, c.resource) for c in report.changes} == {
        ("deploy-bot", "deploy", aid) for aid in non_prod
    }
    assert all(c.after and not c.before for c in report.changes)
    assert report.newly_denied == []
    assert report.evaluated == 4 * 6 * len(estate.by_name)
    assert not report.truncated
    frame = report.to_frame()
    assert len(frame) == len(non_prod)
    assert set(frame["after_by"].map(tuple)) == {("ml-deploy",)}


def test_what_if_with_unchanged_policy_changes_nothing(engine: PolicyEngine, folder: Path) -> None:
    report = engine.what_if(folder)
    assert report.changes == ()
    assert report.evaluated > 0


def test_what_if_is_bounded(engine: PolicyEngine, folder: Path) -> None:
    report = engine.what_if(folder, limit=10)
    assert report.evaluated == 10
    assert report.truncated


def test_what_if_refuses_an_invalid_draft(engine: PolicyEngine, tmp_path: Path) -> None:
    write(tmp_path / "bad", "access.cedar", "permit(principal action, resource);")
    with pytest.raises(ConfigError, match=r"access\.cedar:1"):
        engine.what_if(tmp_path / "bad")


# --- data usage --------------------------------------------------------------------------


def test_violations_are_findings_for_each_broken_rule(engine: PolicyEngine, estate: Estate) -> None:
    found = engine.violations()
    names = {a.id: a.name for a in estate.by_name.values()}
    got = sorted((f.rule_id, names[f.asset_id], f.severity) for f in found)
    assert got == [
        # openai model trained on restricted claims data
        ("AIP-POLICY-001", "fraud-model", Severity.HIGH),
        ("AIP-POLICY-002", "fraud-model", Severity.HIGH),
        ("AIP-POLICY-002", "support-model", Severity.HIGH),
        # tuned-fraud (meta weights, self-run) learned restricted data through fraud-model
        ("AIP-POLICY-002", "tuned-fraud", Severity.HIGH),
        ("AIP-POLICY-004", "research-dump", Severity.HIGH),
    ]
    for f in found:
        assert f.remediation
        assert f.tags and validate_tags(f.tags) == []
        assert f.evidence[0].path is not None and f.evidence[0].path.endswith("data_usage.yaml")


def test_violation_ids_are_stable(engine: PolicyEngine, folder: Path, estate: Estate) -> None:
    first = {f.id for f in engine.violations()}
    again = {f.id for f in PolicyEngine(load_policy(folder), estate.store).violations()}
    assert first == again and len(first) == 5


def test_recording_the_control_clears_the_violation(engine: PolicyEngine, estate: Estate) -> None:
    support = estate.by_name["support-model"]
    estate.store.update_asset(support.id, actor="test", tags=["control:output-monitoring"])
    engine.refresh()
    assert not [f for f in engine.violations() if f.asset_id == support.id]


def test_use_case_rule(folder: Path, estate: Estate) -> None:
    write(
        folder,
        "data_usage.yaml",
        """\
        rules:
          - id: confidential-only-for-support
            sensitivity: confidential
            allowed_use_cases: [support]
            severity: medium
        """,
    )
    support = estate.by_name["support-model"]
    estate.store.update_asset(support.id, actor="test", tags=["use_case:support"])
    found = PolicyEngine(load_policy(folder), estate.store).violations()
    names = {a.id: a.name for a in estate.by_name.values()}
    assert sorted(names[f.asset_id] for f in found) == [
        "fraud-model",
        "monitored-model",
        "tuned-fraud",
    ]
    assert {f.rule_id for f in found} == {"AIP-POLICY-003"}
    assert {f.severity for f in found} == {Severity.MEDIUM}


def test_third_party_detection() -> None:
    assert is_third_party(Asset.new(AssetKind.MODEL, "gpt-4o", provider="openai"))
    assert not is_third_party(Asset.new(AssetKind.MODEL, "org/m", provider="huggingface"))
    assert not is_third_party(
        Asset.new(AssetKind.MODEL, "gpt-4o", provider="openai", tags=["self-hosted"])
    )
    assert is_third_party(
        Asset.new(AssetKind.MODEL, "x", provider="local", attributes={"third_party": True})
    )


def test_inventory_entities_conform_to_the_default_schema(estate: Estate, folder: Path) -> None:
    import json

    import cedarpy

    from aiposture.policy.entities import build_entities

    ps = load_policy(folder)
    ents = build_entities(estate.store.assets(), estate.store.relations(), ps.principals)
    handle = cedarpy.Entities.from_json_str(json.dumps(ents), DEFAULT_SCHEMA)
    # assets, principals, their 3 groups, and the schema's action entities
    assert len(handle) == len(estate.by_name) + len(ps.principals) + 3 + len(Action)
    model = next(e for e in ents if e["attrs"]["name"] == "tuned-fraud")
    assert model["uid"]["type"] == "Model"
    assert model["attrs"]["trained_on"] == "restricted"
    assert model["attrs"]["third_party"] is False
