"""Governance rules: owners, approvals, model cards and licences, stale assets, high-risk
use cases."""

from __future__ import annotations

from aiposture.discovery import observe
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.governance import (
    HighRiskUseCaseWithoutOversight,
    ModelWithoutCardOrLicence,
    NonCommercialModelInProduction,
    ProductionAssetWithoutOwner,
    ProductionWithoutApproval,
    StaleDependency,
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


def _app(name: str = "bot", **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _hub(name: str = "acme/ranker", **attrs: object) -> Asset:
    return observe.model(name, "huggingface").model_copy(update={"attributes": attrs})


def _uses(app: Asset, model: Asset, **fields: object) -> Relation:
    return Relation.new(app.id, RelationKind.USES_MODEL, model.id).model_copy(update=fields)


# --- AIP-GOV-001 ---------------------------------------------------------------------------


def test_model_used_in_production_without_owner_is_low_and_medium_customer_facing() -> None:
    model = _hub()
    prod = _app(environment=Environment.PROD)
    [finding] = _run(ProductionAssetWithoutOwner(), _graph(model, prod, _uses(prod, model)), model)
    assert finding.severity is Severity.LOW
    facing = _app(environment=Environment.PROD, tags=["customer-facing"])
    [finding] = _run(
        ProductionAssetWithoutOwner(), _graph(model, facing, _uses(facing, model)), model
    )
    assert finding.severity is Severity.MEDIUM
    blank = model.model_copy(update={"owner": "   "})
    assert (
        len(_run(ProductionAssetWithoutOwner(), _graph(blank, prod, _uses(prod, blank)), blank))
        == 1
    )


def test_owned_or_non_production_assets_are_not_reported() -> None:
    owned = _hub().model_copy(update={"owner": "ml-platform"})
    prod = _app(environment=Environment.PROD)
    assert _run(ProductionAssetWithoutOwner(), _graph(owned, prod, _uses(prod, owned)), owned) == []
    model, dev = _hub(), _app(environment=Environment.DEV)
    assert _run(ProductionAssetWithoutOwner(), _graph(model, dev, _uses(dev, model)), model) == []


# --- AIP-GOV-002 ---------------------------------------------------------------------------


def test_production_deployment_without_approval_is_medium_and_high_customer_facing() -> None:
    app = _app(environment=Environment.PROD)
    [finding] = _run(ProductionWithoutApproval(), _graph(app), app)
    assert finding.severity is Severity.MEDIUM
    app = _app(environment=Environment.PROD, tags=["customer-facing"])
    [finding] = _run(ProductionWithoutApproval(), _graph(app), app)
    assert finding.severity is Severity.HIGH


def test_approved_or_non_production_deployments_are_not_reported() -> None:
    rule = ProductionWithoutApproval()
    for app in (
        _app(environment=Environment.PROD, tags=["control:approval"]),
        _app(environment=Environment.PROD, attributes={"approved": True}),
        _app(environment=Environment.PROD, attributes={"approval": "CAB-1234"}),
        _app(environment=Environment.STAGING),
        _app(),
    ):
        assert _run(rule, _graph(app), app) == [], app.tags or app.attributes
    model, prod = _hub(), _app(environment=Environment.PROD, tags=["control:approval"])
    assert _run(rule, _graph(model, prod, _uses(prod, model)), model) == []


# --- AIP-GOV-003 ---------------------------------------------------------------------------


def test_hub_model_in_use_without_card_or_licence_is_low_and_medium_in_production() -> None:
    model = _hub()
    nb = Asset.new(AssetKind.NOTEBOOK, "eval.ipynb", key=normalise_key("notebook", "/p/e"))
    [finding] = _run(ModelWithoutCardOrLicence(), _graph(model, nb, _uses(nb, model)), model)
    assert finding.severity is Severity.LOW
    prod = _app(environment=Environment.PROD)
    [finding] = _run(ModelWithoutCardOrLicence(), _graph(model, prod, _uses(prod, model)), model)
    assert finding.severity is Severity.MEDIUM


def test_documented_hosted_or_unused_models_are_not_reported() -> None:
    app = _app()
    rule = ModelWithoutCardOrLicence()
    for model in (
        _hub(license="apache-2.0"),
        _hub(model_card="/cache/models--acme--ranker/snapshots/abc/README.md"),
        observe.model("gpt-4o", None),
    ):
        assert _run(rule, _graph(model, app, _uses(app, model)), model) == [], model.attributes
    unused = _hub()
    assert _run(rule, _graph(unused), unused) == []


# --- AIP-GOV-004 ---------------------------------------------------------------------------


def test_non_commercial_model_in_production_is_reported() -> None:
    prod = _app(environment=Environment.PROD)
    for licence in ("cc-by-nc-4.0", "CC-BY-NC-SA-4.0", "research-only"):
        model = _hub(license=licence)
        [finding] = _run(
            NonCommercialModelInProduction(), _graph(model, prod, _uses(prod, model)), model
        )
        assert finding.severity is Severity.MEDIUM and licence in finding.title


def test_permissive_licence_or_non_commercial_in_research_is_fine() -> None:
    prod, dev = _app(environment=Environment.PROD), _app("lab", environment=Environment.DEV)
    ok = _hub(license="apache-2.0")
    assert _run(NonCommercialModelInProduction(), _graph(ok, prod, _uses(prod, ok)), ok) == []
    nc = _hub(license="cc-by-nc-4.0")
    assert _run(NonCommercialModelInProduction(), _graph(nc, dev, _uses(dev, nc)), nc) == []
    odd = _hub(license=["cc-by-nc-4.0"])
    assert (
        len(_run(NonCommercialModelInProduction(), _graph(odd, prod, _uses(prod, odd)), odd)) == 1
    )


# --- AIP-GOV-005 ---------------------------------------------------------------------------


_EV = Evidence(kind=EvidenceKind.CODE, path="/p/bot/app.py", line=9, snippet="load()")


def test_current_asset_still_pointing_at_a_stale_one_is_reported_on_the_current_side() -> None:
    app = _app()
    gone = observe.endpoint("https://old-llm.acme-corp.com/v1", None).model_copy(
        update={"stale": True}
    )
    rel = Relation.new(app.id, RelationKind.CALLS_SERVICE, gone.id, evidence=[_EV])
    [finding] = _run(StaleDependency(), _graph(app, gone, rel), app)
    assert finding.fingerprint == gone.id
    assert finding.severity is Severity.LOW
    assert finding.evidence[0] == _EV
    assert _run(StaleDependency(), _graph(app, gone, rel), gone) == []
    prod = _app(environment=Environment.PROD)
    [finding] = _run(StaleDependency(), _graph(prod, gone, rel), prod)
    assert finding.severity is Severity.MEDIUM


def test_stale_relations_or_current_neighbours_are_not_reported() -> None:
    app = _app()
    gone = _hub().model_copy(update={"stale": True})
    old_rel = _uses(app, gone, stale=True)
    assert _run(StaleDependency(), _graph(app, gone, old_rel), app) == []
    live = _hub("acme/live")
    assert _run(StaleDependency(), _graph(app, live, _uses(app, live)), app) == []


# --- AIP-GOV-006 ---------------------------------------------------------------------------


def test_high_risk_use_case_without_oversight_is_high() -> None:
    rule = HighRiskUseCaseWithoutOversight()
    by_tag = _app("screening", tags=["use_case:cv-screening"])
    [finding] = _run(rule, _graph(by_tag), by_tag)
    assert finding.severity is Severity.HIGH
    assert "Annex III 4" in finding.title
    by_attr = _app("scoring", attributes={"use_case": "Credit scoring for SME loans"})
    [finding] = _run(rule, _graph(by_attr), by_attr)
    assert "Annex III 5" in finding.title
    assert "eu-ai-act:high-risk" in finding.tags


def test_oversight_or_ordinary_use_cases_are_not_reported() -> None:
    rule = HighRiskUseCaseWithoutOversight()
    for app in (
        _app("screening", tags=["use_case:cv-screening", "control:approval"]),
        _app("support", tags=["use_case:customer-support"]),
        _app("vision", tags=["use_case:cv"]),
        _app("promo", attributes={"use_case": "promotion emails"}),
        _app("plain"),
        _app("junk", attributes={"use_case": {"a": 1}}),
    ):
        assert _run(rule, _graph(app), app) == [], app.name
