"""Data rules: sensitive training data without leakage controls, unknown provenance, models
that leaked, unprotected indexes, models classified below their data."""

from __future__ import annotations

from aiposture.discovery import observe
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
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
from aiposture.risk.rules.data import (
    LeakingModelDeployed,
    ModelClassifiedBelowTrainingData,
    SensitiveIndexWithoutAccessPolicy,
    SensitiveTrainingWithoutLeakageControls,
    UnknownProvenanceTrainingData,
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


def _model(name: str = "claims-llm", **fields: object) -> Asset:
    return Asset.new(AssetKind.MODEL, name, key=normalise_key("model", "local", name), **fields)


def _dataset(name: str = "claims", **fields: object) -> Asset:
    return Asset.new(AssetKind.DATASET, name, key=normalise_key("dataset", name), **fields)


def _trained(model: Asset, data: Asset) -> Relation:
    return Relation.new(model.id, RelationKind.TRAINED_ON, data.id)


def _app(name: str = "claims-app", **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _uses(app: Asset, model: Asset) -> Relation:
    return Relation.new(app.id, RelationKind.USES_MODEL, model.id)


def _index(data: Asset, *tags: str) -> tuple[Asset, Relation]:
    idx = Asset.new(
        AssetKind.DATASET_INDEX,
        "claims-idx",
        key=normalise_key("leakage-index", "/i"),
        tags=list(tags),
    )
    return idx, Relation.new(idx.id, RelationKind.CONTAINS, data.id)


# --- AIP-DATA-001 --------------------------------------------------------------------------


def test_model_trained_on_confidential_data_without_controls_is_medium() -> None:
    model, data = _model(), _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(
        SensitiveTrainingWithoutLeakageControls(), _graph(model, data, _trained(model, data)), model
    )
    assert finding.severity is Severity.MEDIUM
    assert "'claims'" in finding.description


def test_restricted_data_raises_it_and_production_raises_it_again() -> None:
    model, data = _model(), _dataset(data_sensitivity=Sensitivity.RESTRICTED)
    rule = SensitiveTrainingWithoutLeakageControls()
    [finding] = _run(rule, _graph(model, data, _trained(model, data)), model)
    assert finding.severity is Severity.HIGH
    app = _app(environment=Environment.PROD)
    g = _graph(model, data, app, _trained(model, data), _uses(app, model))
    [finding] = _run(rule, g, model)
    assert finding.severity is Severity.CRITICAL


def test_publicly_served_model_is_raised() -> None:
    model, data = _model(), _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    ep = observe.endpoint("https://llm.acme-corp.com/v1", None)
    g = _graph(
        model, data, ep, _trained(model, data), Relation.new(ep.id, RelationKind.SERVES, model.id)
    )
    [finding] = _run(SensitiveTrainingWithoutLeakageControls(), g, model)
    assert finding.severity is Severity.HIGH


def test_fine_tuned_model_inherits_its_base_models_training_data() -> None:
    base, tuned = _model("base"), _model("tuned")
    data = _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    g = _graph(
        base,
        tuned,
        data,
        _trained(base, data),
        Relation.new(tuned.id, RelationKind.DERIVED_FROM, base.id),
    )
    assert len(_run(SensitiveTrainingWithoutLeakageControls(), g, tuned)) == 1


def test_monitoring_a_leakage_index_or_public_data_silences_it() -> None:
    rule = SensitiveTrainingWithoutLeakageControls()
    data = _dataset(data_sensitivity=Sensitivity.RESTRICTED)
    for control in ("control:output-monitoring", "control:leakage-index"):
        model = _model(tags=[control])
        assert _run(rule, _graph(model, data, _trained(model, data)), model) == []
    model = _model()
    idx, holds = _index(data)
    assert _run(rule, _graph(model, data, idx, holds, _trained(model, data)), model) == []
    public = _dataset("wiki", data_sensitivity=Sensitivity.PUBLIC)
    assert _run(rule, _graph(model, public, _trained(model, public)), model) == []


# --- AIP-DATA-002 --------------------------------------------------------------------------


def test_hub_dataset_without_licence_owner_or_classification_is_low() -> None:
    data = observe.hub_dataset("someone/scraped-forum")
    model = _model()
    [finding] = _run(
        UnknownProvenanceTrainingData(), _graph(model, data, _trained(model, data)), data
    )
    assert finding.severity is Severity.LOW
    assert finding.title.endswith("no known licence, owner, classification")
    app = _app(environment=Environment.PROD)
    g = _graph(model, data, app, _trained(model, data), _uses(app, model))
    [finding] = _run(UnknownProvenanceTrainingData(), g, data)
    assert finding.severity is Severity.MEDIUM


def test_dataset_of_unknown_source_is_reported_even_when_owned() -> None:
    data = _dataset(owner="data-team", data_sensitivity=Sensitivity.INTERNAL)
    model = _model()
    [finding] = _run(
        UnknownProvenanceTrainingData(), _graph(model, data, _trained(model, data)), data
    )
    assert "source" in finding.title


def test_documented_or_unused_datasets_are_not_reported() -> None:
    model = _model()
    known = _dataset(
        owner="data-team",
        data_sensitivity=Sensitivity.CONFIDENTIAL,
        locations=["s3://acme-data/claims/"],
        attributes={"license": "proprietary"},
    )
    g = _graph(model, known, _trained(model, known))
    assert _run(UnknownProvenanceTrainingData(), g, known) == []
    unused = observe.hub_dataset("someone/other")
    assert _run(UnknownProvenanceTrainingData(), _graph(unused), unused) == []


# --- AIP-DATA-003 --------------------------------------------------------------------------


def _leak(model: Asset, rule_id: str = "AIP-LEAK-001", **fields: object) -> Finding:
    return Finding.new(model.id, rule_id, "leak", Severity.HIGH, fingerprint="abc", **fields)


def test_model_that_leaked_in_production_is_high_and_critical_when_customer_facing() -> None:
    model = _model()
    prod = _app(environment=Environment.PROD)
    g = _graph(model, prod, _uses(prod, model), _leak(model))
    [finding] = _run(LeakingModelDeployed(), g, model)
    assert finding.severity is Severity.HIGH
    facing = _app(environment=Environment.PROD, tags=["customer-facing"])
    g = _graph(model, facing, _uses(facing, model), _leak(model))
    [finding] = _run(LeakingModelDeployed(), g, model)
    assert finding.severity is Severity.CRITICAL


def test_leaking_model_trained_on_confidential_data_is_critical() -> None:
    model = _model(environment=Environment.PROD)
    data = _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    g = _graph(model, data, _trained(model, data), _leak(model, "AIP-LEAK-002"))
    [finding] = _run(LeakingModelDeployed(), g, model)
    assert finding.severity is Severity.CRITICAL


def test_undeployed_resolved_or_paraphrase_only_leaks_are_not_reported() -> None:
    model = _model()
    dev = _app(environment=Environment.DEV)
    assert (
        _run(LeakingModelDeployed(), _graph(model, dev, _uses(dev, model), _leak(model)), model)
        == []
    )
    prod = _app(environment=Environment.PROD)
    resolved = _leak(model, status=FindingStatus.RESOLVED)
    assert (
        _run(LeakingModelDeployed(), _graph(model, prod, _uses(prod, model), resolved), model) == []
    )
    para = _leak(model, "AIP-LEAK-003")
    assert _run(LeakingModelDeployed(), _graph(model, prod, _uses(prod, model), para), model) == []


# --- AIP-DATA-004 --------------------------------------------------------------------------


def test_index_of_confidential_data_without_access_policy() -> None:
    data = _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    idx, holds = _index(data)
    [finding] = _run(SensitiveIndexWithoutAccessPolicy(), _graph(idx, data, holds), idx)
    assert finding.severity is Severity.MEDIUM
    data = _dataset(data_sensitivity=Sensitivity.RESTRICTED)
    idx, holds = _index(data)
    [finding] = _run(SensitiveIndexWithoutAccessPolicy(), _graph(idx, data, holds), idx)
    assert finding.severity is Severity.HIGH


def test_index_with_access_policy_or_of_public_data_is_not_reported() -> None:
    data = _dataset(data_sensitivity=Sensitivity.RESTRICTED)
    idx, holds = _index(data, "control:access-policy")
    assert _run(SensitiveIndexWithoutAccessPolicy(), _graph(idx, data, holds), idx) == []
    public = _dataset("docs", data_sensitivity=Sensitivity.PUBLIC)
    idx, holds = _index(public)
    assert _run(SensitiveIndexWithoutAccessPolicy(), _graph(idx, public, holds), idx) == []


# --- AIP-DATA-005 --------------------------------------------------------------------------


def test_model_classified_below_its_training_data() -> None:
    model = _model(data_sensitivity=Sensitivity.INTERNAL)
    data = _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(
        ModelClassifiedBelowTrainingData(), _graph(model, data, _trained(model, data)), model
    )
    assert finding.severity is Severity.MEDIUM
    assert "internal" in finding.title and "confidential" in finding.title
    data = _dataset(data_sensitivity=Sensitivity.RESTRICTED)
    [finding] = _run(
        ModelClassifiedBelowTrainingData(), _graph(model, data, _trained(model, data)), model
    )
    assert finding.severity is Severity.HIGH


def test_unclassified_or_equally_classified_models_are_not_reported() -> None:
    data = _dataset(data_sensitivity=Sensitivity.CONFIDENTIAL)
    for level in (Sensitivity.UNKNOWN, Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED):
        model = _model(data_sensitivity=level)
        g = _graph(model, data, _trained(model, data))
        assert _run(ModelClassifiedBelowTrainingData(), g, model) == [], level
