"""Properties of the risk model on random small estates (hypothesis).

* every dimension's reasons add up to its score, and every score stays in bounds;
* adding a control never raises a dimension, the score or the priority of any asset;
* adding exposure never lowers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    RiskDimension,
    Sanctioned,
    Sensitivity,
    Severity,
    Usage,
)
from aiposture.risk.controls import CONTROL_NAMES, CONTROL_WEIGHTS, assess_controls
from aiposture.risk.graph import EstateGraph
from aiposture.risk.scoring import score_asset

_SENS_ORDER = [
    Sensitivity.PUBLIC,
    Sensitivity.INTERNAL,
    Sensitivity.UNKNOWN,
    Sensitivity.CONFIDENTIAL,
    Sensitivity.RESTRICTED,
]
_TAGS = ["critical", "customer-facing", "public", "internal-only", "control:rate-limit"]
_URLS = [
    "https://api.example.com/v1",
    "http://10.0.0.5:8080/v1",
    "http://localhost:9000",
    "https://mcp.vendor.example/mcp",
]
_PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Estate:
    assets: list[Asset]
    relations: list[Relation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def graph(self) -> EstateGraph:
        return EstateGraph.build(self.assets, self.relations, self.findings)

    def replace(self, i: int, **update: object) -> Estate:
        assets = list(self.assets)
        assets[i] = assets[i].model_copy(update=update)
        return Estate(assets, list(self.relations), list(self.findings))


@st.composite
def assets(draw: st.DrawFn, i: int) -> Asset:
    kind = draw(st.sampled_from(list(AssetKind)))
    attrs: dict[str, object] = {}
    if draw(st.booleans()):
        attrs["url"] = draw(st.sampled_from(_URLS))
    if kind is AssetKind.MODEL_FILE:
        attrs["format"] = draw(st.sampled_from(["pickle", "safetensors", "pytorch-zip", "gguf"]))
        attrs["world_readable"] = draw(st.booleans())
    if kind is AssetKind.MCP_SERVER:
        attrs["transport"] = draw(st.sampled_from(["stdio", "http"]))
        attrs["headers"] = draw(st.sampled_from([[], ["Authorization"], ["X-Trace-Id"]]))
    evidence = []
    if draw(st.integers(0, 4)) == 0:
        user = draw(st.sampled_from(["lee", "sam"]))
        evidence.append(Evidence(kind=EvidenceKind.LOG_LINE, usage=Usage(user=user, requests=2)))
    if kind is AssetKind.CREDENTIAL and draw(st.booleans()):
        evidence.append(Evidence(kind=EvidenceKind.NOTEBOOK_OUTPUT, path="/n.ipynb", cell=0))
    return Asset.new(
        kind,
        f"a{i}",
        key=f"asset-{i}",
        environment=draw(st.sampled_from(list(Environment))),
        data_sensitivity=draw(st.sampled_from(list(Sensitivity))),
        sanctioned=draw(st.sampled_from(list(Sanctioned))),
        owner=draw(st.sampled_from([None, "ana"])),
        tags=draw(st.lists(st.sampled_from(_TAGS), max_size=3, unique=True)),
        attributes=attrs,
        evidence=evidence,
        stale=draw(st.integers(0, 9)) == 0,
    )


@st.composite
def estates(draw: st.DrawFn) -> Estate:
    n = draw(st.integers(2, 7))
    items = [draw(assets(i)) for i in range(n)]
    rels: dict[str, Relation] = {}
    for _ in range(draw(st.integers(0, 14))):
        s, t = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        r = Relation.new(items[s].id, draw(st.sampled_from(list(RelationKind))), items[t].id)
        if draw(st.integers(0, 11)) == 0:
            r = r.model_copy(update={"stale": True})
        rels[r.id] = r
    found = []
    for k in range(draw(st.integers(0, 4))):
        target = items[draw(st.integers(0, n - 1))]
        found.append(
            Finding.new(
                target.id,
                f"AIP-PROP-{k:03d}",
                "a finding",
                draw(st.sampled_from(list(Severity))),
                status=draw(st.sampled_from(list(FindingStatus))),
                stale=draw(st.integers(0, 7)) == 0,
            )
        )
    return Estate(items, list(rels.values()), found)


def _scores(estate: Estate) -> dict[str, AssetRisk]:
    g = estate.graph()
    return {a.id: score_asset(a, g) for a in g.assets.values()}


def _compare(
    before: dict[str, AssetRisk], after: dict[str, AssetRisk], ok: Callable[[float, float], bool]
) -> None:
    for aid, old in before.items():
        new = after[aid]
        for d_old in old.dimensions:
            d_new = new.dimension(d_old.dimension)
            assert ok(d_old.score, d_new.score), (old.asset_name, d_old, d_new)
        assert ok(old.likelihood, new.likelihood), (old, new)
        assert ok(old.impact, new.impact), (old, new)
        assert ok(old.score, new.score), (old, new)
        assert ok(old.priority.rank, new.priority.rank), (old, new)


def _not_higher(old: float, new: float) -> bool:
    return new <= old


def _not_lower(old: float, new: float) -> bool:
    return new >= old


# --- mutations ----------------------------------------------------------------------------


def add_control(estate: Estate, i: int, how: str, control: str) -> Estate:
    a = estate.assets[i]
    if how == "tag":
        return estate.replace(i, tags=[*a.tags, f"control:{control}"])
    if how == "owner":
        return estate.replace(i, owner="sam")
    if how == "sanction":
        return estate.replace(i, sanctioned=Sanctioned.SANCTIONED)
    if how == "auth-header":
        return estate.replace(i, attributes={**a.attributes, "headers": ["Authorization"]})
    if how == "safe-format":
        return estate.replace(i, attributes={**a.attributes, "format": "safetensors"})
    if how == "approved-by":
        return estate.replace(i, attributes={**a.attributes, "approved_by": "cab-17"})
    assert how == "leakage-index"
    index = Asset.new(AssetKind.DATASET_INDEX, "idx", key="leakage-index-under-test")
    covers = [
        Relation.new(index.id, RelationKind.CONTAINS, r.target_id)
        for r in estate.relations
        if r.source_id == a.id and r.kind is RelationKind.TRAINED_ON
    ]
    return Estate([*estate.assets, index], [*estate.relations, *covers], list(estate.findings))


def add_exposure(estate: Estate, i: int, how: str, severity: Severity) -> Estate:
    a = estate.assets[i]
    if how == "prod":
        return estate.replace(i, environment=Environment.PROD)
    if how == "sensitivity":
        step = min(_SENS_ORDER.index(a.data_sensitivity) + 1, len(_SENS_ORDER) - 1)
        return estate.replace(i, data_sensitivity=_SENS_ORDER[step])
    if how in ("customer-facing", "critical", "public"):
        return estate.replace(i, tags=[*a.tags, how])
    if how == "public-url":
        return estate.replace(i, attributes={**a.attributes, "url": "https://open.example.org/x"})
    if how == "world-readable":
        return estate.replace(i, attributes={**a.attributes, "world_readable": True})
    if how == "unsanctioned":
        return estate.replace(i, sanctioned=Sanctioned.UNSANCTIONED)
    if how in ("dependant-model", "dependant-service"):
        app = Asset.new(AssetKind.APPLICATION, "new-app", key="dependant-under-test")
        kind = RelationKind.USES_MODEL if how == "dependant-model" else RelationKind.CALLS_SERVICE
        return Estate(
            [*estate.assets, app],
            [*estate.relations, Relation.new(app.id, kind, a.id)],
            list(estate.findings),
        )
    assert how == "finding"
    f = Finding.new(a.id, "AIP-PROP-NEW", "new finding", severity, fingerprint="new")
    return Estate(list(estate.assets), list(estate.relations), [*estate.findings, f])


_CONTROL_WAYS = ["tag", "owner", "sanction", "auth-header", "safe-format", "approved-by"]
_EXPOSURES = [
    "prod",
    "sensitivity",
    "customer-facing",
    "critical",
    "public",
    "public-url",
    "world-readable",
    "unsanctioned",
    "dependant-model",
    "dependant-service",
    "finding",
]


# --- properties ---------------------------------------------------------------------------


@_PROPERTY_SETTINGS
@given(estates())
def test_reasons_add_up_to_every_score_and_scores_stay_in_bounds(estate: Estate) -> None:
    for r in _scores(estate).values():
        assert len(r.dimensions) == 4
        for d in r.dimensions:
            assert sum(x.points for x in d.reasons) == d.score, d
            assert 0.0 <= d.score <= 10.0
        assert 0.0 <= r.likelihood <= 10.0 and 0.0 <= r.impact <= 10.0
        assert 0.0 <= r.score <= 100.0


@_PROPERTY_SETTINGS
@given(
    estates(),
    st.data(),
    st.sampled_from([*_CONTROL_WAYS, "leakage-index"]),
    st.sampled_from(CONTROL_NAMES),
)
def test_adding_a_control_never_raises_a_dimension_the_score_or_the_priority(
    estate: Estate, data: st.DataObject, how: str, control: str
) -> None:
    i = data.draw(st.integers(0, len(estate.assets) - 1))
    _compare(_scores(estate), _scores(add_control(estate, i, how, control)), _not_higher)


@_PROPERTY_SETTINGS
@given(estates(), st.data(), st.sampled_from(_EXPOSURES), st.sampled_from(list(Severity)))
def test_adding_exposure_never_lowers_a_dimension_the_score_or_the_priority(
    estate: Estate, data: st.DataObject, how: str, severity: Severity
) -> None:
    i = data.draw(st.integers(0, len(estate.assets) - 1))
    _compare(_scores(estate), _scores(add_exposure(estate, i, how, severity)), _not_lower)


@_PROPERTY_SETTINGS
@given(estates(), st.data())
def test_recording_a_missing_control_removes_exactly_that_gap_reason(
    estate: Estate, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(estate.assets) - 1))
    g = estate.graph()
    a = g.assets[estate.assets[i].id]
    missing = [n.control for n in assess_controls(a, g).missing]
    if not missing:
        return
    control = data.draw(st.sampled_from(missing))
    g2 = add_control(estate, i, "tag", control).graph()
    a2 = g2.assets[a.id]
    assert [n.control for n in assess_controls(a2, g2).missing] == [
        c for c in missing if c != control
    ]
    gap = [x.text for x in score_asset(a2, g2).dimension(RiskDimension.CONTROL_GAP).reasons]
    assert not any(t.startswith(f"no {control} ") for t in gap)
    before = score_asset(a, g).dimension(RiskDimension.CONTROL_GAP).score
    raw = sum(
        x.points
        for x in score_asset(a, g).dimension(RiskDimension.CONTROL_GAP).reasons
        if x.points > 0 and x.text.startswith("no ")
    )
    if raw + 6 <= 10:  # no cap in play: the control's weight comes off exactly
        after = score_asset(a2, g2).dimension(RiskDimension.CONTROL_GAP).score
        assert after == before - CONTROL_WEIGHTS[control]
