"""The risk model: each dimension, the controls, the combination, and the demo estate's ranking."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from aiposture import Posture, Settings
from aiposture.demo import Estate, build_estate
from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Priority,
    Relation,
    RelationKind,
    RiskDimension,
    Sanctioned,
    Sensitivity,
    Severity,
    Usage,
)
from aiposture.risk.controls import (
    assess_controls,
    present_controls,
    required_controls,
)
from aiposture.risk.graph import EstateGraph
from aiposture.risk.scoring import RiskContext, priority_for, score_asset, score_estate
from aiposture.settings import PriorityThresholds, RiskSettings, RiskWeights

SENS = RiskDimension.DATA_SENSITIVITY
BIZ = RiskDimension.BUSINESS_IMPACT
ACC = RiskDimension.ACCESSIBILITY
GAP = RiskDimension.CONTROL_GAP


def mk(kind: AssetKind, name: str, **fields: Any) -> Asset:
    return Asset.new(kind, name, key=f"{kind.value}|{name}", **fields)


def rel(src: Asset, kind: RelationKind, dst: Asset) -> Relation:
    return Relation.new(src.id, kind, dst.id)


def finding(a: Asset, severity: Severity, n: int = 0, **fields: Any) -> Finding:
    return Finding.new(a.id, f"AIP-TEST-{n:03d}", f"test finding {n}", severity, **fields)


def graph(
    assets: Sequence[Asset],
    relations: Sequence[Relation] = (),
    findings: Sequence[Finding] = (),
) -> EstateGraph:
    return EstateGraph.build(assets, relations, findings)


def score(a: Asset, g: EstateGraph, settings: RiskSettings | None = None) -> AssetRisk:
    return score_asset(g.assets[a.id], g, settings)


def dim(r: AssetRisk, which: RiskDimension) -> float:
    return r.dimension(which).score


def texts(r: AssetRisk, which: RiskDimension) -> list[str]:
    return [x.text for x in r.dimension(which).reasons]


# --- data sensitivity ---------------------------------------------------------------------


def test_unknown_sensitivity_scores_between_internal_and_confidential() -> None:
    levels = {}
    for s in Sensitivity:
        a = mk(AssetKind.DATASET, f"d-{s.value}", data_sensitivity=s)
        levels[s] = dim(score(a, graph([a])), SENS)
    assert (
        levels[Sensitivity.PUBLIC]
        < levels[Sensitivity.INTERNAL]
        < levels[Sensitivity.UNKNOWN]
        < levels[Sensitivity.CONFIDENTIAL]
        < levels[Sensitivity.RESTRICTED]
    )
    assert levels[Sensitivity.UNKNOWN] == 5.0


def test_a_model_takes_the_sensitivity_of_its_training_data_and_names_the_dataset() -> None:
    data = mk(AssetKind.DATASET, "claims-2024", data_sensitivity=Sensitivity.CONFIDENTIAL)
    model = mk(AssetKind.MODEL, "claims-clf", data_sensitivity=Sensitivity.PUBLIC)
    g = graph([data, model], [rel(model, RelationKind.TRAINED_ON, data)])
    [reason] = score(model, g).dimension(SENS).reasons
    assert reason.points == 7.5
    assert reason.ref == data.id
    assert "trained on 'claims-2024'" in reason.text


def test_sensitivity_follows_the_lineage_of_a_fine_tuned_model() -> None:
    data = mk(AssetKind.DATASET, "patients", data_sensitivity=Sensitivity.RESTRICTED)
    base = mk(AssetKind.MODEL, "base", data_sensitivity=Sensitivity.PUBLIC)
    tuned = mk(AssetKind.MODEL, "tuned", data_sensitivity=Sensitivity.PUBLIC)
    g = graph(
        [data, base, tuned],
        [rel(base, RelationKind.TRAINED_ON, data), rel(tuned, RelationKind.DERIVED_FROM, base)],
    )
    assert dim(score(tuned, g), SENS) == 10.0


def test_a_service_processes_its_callers_data_but_callers_do_not_share_each_others() -> None:
    secret_app = mk(AssetKind.APPLICATION, "hr-bot", data_sensitivity=Sensitivity.CONFIDENTIAL)
    open_app = mk(AssetKind.APPLICATION, "faq-bot", data_sensitivity=Sensitivity.PUBLIC)
    svc = mk(AssetKind.AI_SERVICE, "llm-api", data_sensitivity=Sensitivity.INTERNAL)
    g = graph(
        [secret_app, open_app, svc],
        [
            rel(secret_app, RelationKind.CALLS_SERVICE, svc),
            rel(open_app, RelationKind.CALLS_SERVICE, svc),
        ],
    )
    svc_reason = score(svc, g).dimension(SENS).reasons[0]
    assert svc_reason.points == 7.5 and svc_reason.ref == secret_app.id
    assert "called by 'hr-bot'" in svc_reason.text
    # faq-bot reads what the service itself is classified as (internal), not hr-bot's data
    assert dim(score(open_app, g), SENS) == 3.0


def test_a_credential_is_confidential_by_nature() -> None:
    cred = mk(AssetKind.CREDENTIAL, "key", data_sensitivity=Sensitivity.PUBLIC)
    r = score(cred, graph([cred]))
    assert dim(r, SENS) == 7.5
    assert "secret is confidential" in texts(r, SENS)[0]


# --- business impact ----------------------------------------------------------------------


def test_environment_orders_production_over_staging_over_unknown_over_dev() -> None:
    got = {}
    for env in Environment:
        a = mk(AssetKind.APPLICATION, f"app-{env.value}", environment=env)
        got[env] = dim(score(a, graph([a])), BIZ)
    assert (
        got[Environment.PROD]
        > got[Environment.STAGING]
        > got[Environment.UNKNOWN]
        > got[Environment.DEV]
    )


def test_a_model_inherits_production_and_customer_facing_from_the_app_using_it() -> None:
    app = mk(AssetKind.APPLICATION, "shop", environment=Environment.PROD, tags=["customer-facing"])
    model = mk(AssetKind.MODEL, "ranker")
    g = graph([app, model], [rel(app, RelationKind.USES_MODEL, model)])
    reasons = score(model, g).dimension(BIZ).reasons
    assert [(x.points, x.ref) for x in reasons] == [(4.0, app.id), (2.0, app.id), (1.0, app.id)]
    assert "production: 'shop' depends on it" in reasons[0].text


def test_a_dev_asset_is_not_lifted_by_a_dependant_of_unknown_environment() -> None:
    app = mk(AssetKind.APPLICATION, "lab")
    nb = mk(AssetKind.NOTEBOOK, "explore.ipynb", environment=Environment.DEV)
    g = graph([app, nb], [rel(app, RelationKind.CONTAINS, nb)])
    assert score(nb, g).dimension(BIZ).reasons[0].points == 0.5


def test_dependent_applications_add_points_with_diminishing_returns() -> None:
    def with_apps(n: int) -> float:
        svc = mk(AssetKind.AI_SERVICE, "svc", environment=Environment.DEV)
        apps = [mk(AssetKind.APPLICATION, f"app{i}", environment=Environment.DEV) for i in range(n)]
        g = graph([svc, *apps], [rel(a, RelationKind.CALLS_SERVICE, svc) for a in apps])
        return dim(score(svc, g), BIZ) - 0.5

    gains = [with_apps(n) for n in (0, 1, 2, 3, 7, 12)]
    assert gains == [0.0, 1.0, 1.5, 2.0, 3.0, 3.0]


def test_dependants_two_hops_away_count_through_the_serving_service() -> None:
    svc = mk(AssetKind.AI_SERVICE, "vendor-api")
    model = mk(AssetKind.MODEL, "m")
    app = mk(AssetKind.APPLICATION, "app", environment=Environment.PROD)
    g = graph(
        [svc, model, app],
        [rel(svc, RelationKind.SERVES, model), rel(app, RelationKind.USES_MODEL, model)],
    )
    reasons = score(svc, g).dimension(BIZ).reasons
    assert reasons[0].points == 4.0 and reasons[0].ref == app.id
    assert any("1 dependent application" in x.text for x in reasons)


def test_business_impact_is_capped_at_ten_by_an_explicit_negative_reason() -> None:
    svc = mk(
        AssetKind.AI_SERVICE,
        "core",
        environment=Environment.PROD,
        tags=["critical", "customer-facing"],
    )
    apps = [mk(AssetKind.APPLICATION, f"a{i}") for i in range(8)]
    g = graph([svc, *apps], [rel(a, RelationKind.CALLS_SERVICE, svc) for a in apps])
    d = score(svc, g).dimension(BIZ)
    assert d.score == 10.0
    assert d.reasons[-1].points == -1.5 and "capped at 10" in d.reasons[-1].text
    assert sum(x.points for x in d.reasons) == d.score


def test_a_service_seen_in_egress_logs_counts_as_production() -> None:
    seen = Evidence(kind=EvidenceKind.LOG_LINE, usage=Usage(user="lee", requests=3))
    svc = mk(AssetKind.AI_SERVICE, "chat", evidence=[seen])
    r = score(svc, graph([svc]))
    assert r.dimension(BIZ).reasons[0].points == 4.0
    assert "live use" in texts(r, BIZ)[0]
    assert any("1 user(s)" in t for t in texts(r, ACC))


# --- accessibility ------------------------------------------------------------------------


def test_public_endpoint_is_more_accessible_than_a_private_one_and_authentication_lowers_it() -> (
    None
):
    pub = mk(AssetKind.ENDPOINT, "pub", attributes={"url": "https://llm.example.com/v1"})
    priv = mk(AssetKind.ENDPOINT, "priv", attributes={"url": "http://10.1.2.3:8000/v1"})
    authed = mk(
        AssetKind.ENDPOINT,
        "authed",
        attributes={"url": "https://llm2.example.com/v1"},
        tags=["control:authentication"],
    )
    g = graph([pub, priv, authed])
    assert dim(score(pub, g), ACC) == 6.0  # internet 4 + no authentication 2
    assert dim(score(priv, g), ACC) == 3.5  # internal network 1.5 + no authentication 2
    assert dim(score(authed, g), ACC) == 4.0
    assert dim(score(authed, g), GAP) < dim(score(pub, g), GAP)


def test_mcp_server_with_an_authorization_header_is_authenticated() -> None:
    bare = mk(
        AssetKind.MCP_SERVER,
        "kb",
        attributes={"transport": "http", "url": "https://mcp.example.com/mcp", "headers": []},
    )
    authed = bare.model_copy(
        update={"attributes": {**bare.attributes, "headers": ["Authorization"]}}
    )
    g1, g2 = graph([bare]), graph([authed])
    assert "authentication" in required_controls(bare, g1)
    assert "authentication" not in present_controls(bare, g1)
    assert "authentication" in present_controls(authed, g2)
    assert dim(score(authed, g2), ACC) == dim(score(bare, g1), ACC) - 2.0
    assert dim(score(authed, g2), GAP) == dim(score(bare, g1), GAP) - 3.0


def test_a_local_stdio_mcp_server_needs_no_authentication() -> None:
    local = mk(AssetKind.MCP_SERVER, "files", attributes={"transport": "stdio", "command": "npx"})
    g = graph([local])
    assert "authentication" not in required_controls(local, g)
    assert dim(score(local, g), ACC) == 0.5


def test_world_readable_and_writable_weights_raise_accessibility() -> None:
    closed = mk(AssetKind.MODEL_FILE, "w.pt", attributes={"format": "pytorch-zip"})
    opened = mk(
        AssetKind.MODEL_FILE,
        "w2.pt",
        attributes={"format": "pytorch-zip", "world_readable": True, "world_writable": True},
    )
    g = graph([closed, opened])
    assert dim(score(closed, g), ACC) == 0.0
    assert dim(score(opened, g), ACC) == 3.5


def test_unsanctioned_service_counts_more_than_an_unreviewed_one_and_a_sanctioned_one() -> None:
    got = {}
    for s in Sanctioned:
        svc = mk(AssetKind.AI_SERVICE, f"svc-{s.value}", sanctioned=s)
        got[s] = dim(score(svc, graph([svc])), ACC)
    assert got[Sanctioned.UNSANCTIONED] > got[Sanctioned.UNKNOWN] > got[Sanctioned.SANCTIONED]
    assert got[Sanctioned.SANCTIONED] == 3.0  # still a third party: data leaves the company


def test_a_model_behind_a_public_app_is_queried_from_the_internet() -> None:
    app = mk(AssetKind.APPLICATION, "site", tags=["public"])
    model = mk(AssetKind.MODEL, "m")
    g = graph([app, model], [rel(app, RelationKind.USES_MODEL, model)])
    r = score(model, g)
    assert dim(r, ACC) == 3.0
    assert r.dimension(ACC).reasons[0].ref == app.id


def test_an_asset_in_a_cycle_with_its_callers_keeps_a_public_caller_when_it_turns_public() -> None:
    x = mk(AssetKind.MODEL, "x", attributes={"url": "http://10.0.0.9"})
    y = mk(AssetKind.APPLICATION, "y")
    z = mk(AssetKind.APPLICATION, "z", tags=["public"])
    rels = [
        rel(y, RelationKind.USES_MODEL, x),
        rel(x, RelationKind.USES_MODEL, y),
        rel(z, RelationKind.USES_MODEL, x),
    ]
    before = score(x, graph([x, y, z], rels))
    x_public = x.model_copy(update={"tags": ["public"]})
    after = score(x_public, graph([x_public, y, z], rels))
    assert any(r.ref == z.id and r.points == 3.0 for r in after.dimension(ACC).reasons)
    assert dim(after, ACC) >= dim(before, ACC)


def test_a_credential_printed_in_a_notebook_output_is_more_exposed() -> None:
    in_code = mk(
        AssetKind.CREDENTIAL, "k1", evidence=[Evidence(kind=EvidenceKind.CODE, path="/a.py")]
    )
    printed = mk(
        AssetKind.CREDENTIAL,
        "k2",
        evidence=[Evidence(kind=EvidenceKind.NOTEBOOK_OUTPUT, path="/n.ipynb", cell=1)],
    )
    g = graph([in_code, printed])
    assert dim(score(in_code, g), ACC) == 6.0
    assert dim(score(printed, g), ACC) == 7.5


# --- controls -----------------------------------------------------------------------------


def test_a_customer_facing_model_requires_authentication_rate_limit_and_output_monitoring() -> None:
    model = mk(AssetKind.MODEL, "chat", tags=["customer-facing"])
    assert required_controls(model, graph([model])) >= {
        "authentication",
        "rate-limit",
        "output-monitoring",
        "guardrail",
        "owner",
    }


def test_a_model_trained_on_confidential_data_requires_a_leakage_index_and_monitoring() -> None:
    data = mk(AssetKind.DATASET, "claims", data_sensitivity=Sensitivity.CONFIDENTIAL)
    model = mk(AssetKind.MODEL, "clf")
    g = graph([data, model], [rel(model, RelationKind.TRAINED_ON, data)])
    need = assess_controls(model, g).required
    assert {"leakage-index", "output-monitoring", "access-policy"} <= set(need)
    assert need["leakage-index"].ref == data.id
    public = mk(AssetKind.DATASET, "wiki", data_sensitivity=Sensitivity.PUBLIC)
    other = mk(AssetKind.MODEL, "clf2")
    g2 = graph([public, other], [rel(other, RelationKind.TRAINED_ON, public)])
    assert "leakage-index" not in required_controls(other, g2)


def test_a_dataset_index_over_all_the_training_data_is_a_leakage_index() -> None:
    d1 = mk(AssetKind.DATASET, "d1", data_sensitivity=Sensitivity.CONFIDENTIAL)
    d2 = mk(AssetKind.DATASET, "d2", data_sensitivity=Sensitivity.CONFIDENTIAL)
    model = mk(AssetKind.MODEL, "m")
    index = mk(AssetKind.DATASET_INDEX, "leak-idx")
    trained = [rel(model, RelationKind.TRAINED_ON, d1), rel(model, RelationKind.TRAINED_ON, d2)]
    partial = graph([d1, d2, model, index], [*trained, rel(index, RelationKind.CONTAINS, d1)])
    full = graph(
        [d1, d2, model, index],
        [*trained, rel(index, RelationKind.CONTAINS, d1), rel(index, RelationKind.CONTAINS, d2)],
    )
    assert "leakage-index" not in present_controls(model, partial)
    assert "leakage-index" in present_controls(model, full)
    assert dim(score(model, full), GAP) == dim(score(model, partial), GAP) - 2.0
    # the index is a control: the datasets it covers gain no dependant and no data from it
    assert score(d1, full).dimension(BIZ) == score(d1, partial).dimension(BIZ)


def test_a_model_file_needs_safe_serialization_which_safetensors_provides() -> None:
    pkl = mk(AssetKind.MODEL_FILE, "m.pkl", attributes={"format": "pickle"})
    st = mk(AssetKind.MODEL_FILE, "m.safetensors", attributes={"format": "safetensors"})
    g = graph([pkl, st])
    assert "safe-serialization" in required_controls(pkl, g)
    assert "safe-serialization" not in present_controls(pkl, g)
    assert "safe-serialization" in present_controls(st, g)
    assert dim(score(pkl, g), GAP) == dim(score(st, g), GAP) + 3.0


def test_control_tags_listed_controls_owner_and_sanctioning_are_present_controls() -> None:
    a = mk(
        AssetKind.AI_SERVICE,
        "svc",
        owner="ana",
        sanctioned=Sanctioned.SANCTIONED,
        tags=["control:rate-limit", "Control:Output-Monitoring"],
        attributes={"controls": ["guardrail"]},
    )
    assert present_controls(a, graph([a])) == {
        "owner",
        "approval",
        "rate-limit",
        "output-monitoring",
        "guardrail",
    }


def test_production_assets_need_an_approval_on_record() -> None:
    prod = mk(AssetKind.APPLICATION, "p", environment=Environment.PROD)
    dev = mk(AssetKind.APPLICATION, "d", environment=Environment.DEV)
    approved = mk(
        AssetKind.APPLICATION,
        "q",
        environment=Environment.PROD,
        attributes={"approved_by": "cab-2024-17"},
    )
    g = graph([prod, dev, approved])
    assert "approval" in required_controls(prod, g)
    assert "approval" not in required_controls(dev, g)
    assert "approval" in present_controls(approved, g)
    assert any("no approval" in t for t in texts(score(prod, g), GAP))
    assert not any("no approval" in t for t in texts(score(approved, g), GAP))


# --- findings and priority ----------------------------------------------------------------


def test_open_findings_add_to_the_control_gap_up_to_a_cap() -> None:
    a = mk(AssetKind.APPLICATION, "app", owner="ana")
    one = graph([a], findings=[finding(a, Severity.HIGH, 1)])
    many = graph([a], findings=[finding(a, Severity.CRITICAL, i) for i in range(3)])
    assert dim(score(a, one), GAP) == 2.5
    d = score(a, many).dimension(GAP)
    assert d.score == 6.0
    assert d.reasons[-1].points == -6.0 and "at most" in d.reasons[-1].text


def test_resolved_accepted_and_stale_findings_do_not_count() -> None:
    a = mk(AssetKind.APPLICATION, "app", owner="ana")
    g = graph(
        [a],
        findings=[
            finding(a, Severity.CRITICAL, 1, status=FindingStatus.RESOLVED),
            finding(a, Severity.CRITICAL, 2, status=FindingStatus.ACCEPTED),
            finding(a, Severity.CRITICAL, 3, stale=True),
        ],
    )
    r = score(a, g)
    assert dim(r, GAP) == 0.0 and r.findings == {} and r.priority is Priority.LOW


def test_an_open_critical_finding_makes_an_asset_at_least_high_and_a_high_one_medium() -> None:
    a = mk(AssetKind.PACKAGE, "pkg", owner="ana", environment=Environment.DEV)
    plain = score(a, graph([a]))
    crit = score(a, graph([a], findings=[finding(a, Severity.CRITICAL)]))
    high = score(a, graph([a], findings=[finding(a, Severity.HIGH)]))
    assert plain.priority is Priority.LOW
    assert crit.score < 30 and crit.priority is Priority.HIGH
    assert high.score < 12 and high.priority is Priority.MEDIUM
    assert crit.findings == {"critical": 1}


def test_score_is_likelihood_times_impact_under_the_configured_weights() -> None:
    ep = mk(
        AssetKind.ENDPOINT,
        "ep",
        data_sensitivity=Sensitivity.CONFIDENTIAL,
        attributes={"url": "https://x.example.com"},
    )
    g = graph([ep])
    r = score(ep, g)
    acc, gap, sens, biz = (dim(r, d) for d in (ACC, GAP, SENS, BIZ))
    assert r.likelihood == pytest.approx((acc + gap) / 2)
    assert r.impact == pytest.approx((sens + biz) / 2)
    assert r.score == pytest.approx(r.likelihood * r.impact, abs=0.01)
    skewed = RiskSettings(weights=RiskWeights(accessibility=100, data_sensitivity=100))
    r2 = score(ep, g, skewed)
    assert r2.likelihood == pytest.approx((100 * acc + gap) / 101, abs=0.01)
    assert r2.impact == pytest.approx((100 * sens + biz) / 101, abs=0.01)


def test_thresholds_decide_the_priority() -> None:
    t = PriorityThresholds()
    assert [priority_for(s, t) for s in (0, 11.99, 12, 29.99, 30, 48.99, 49, 100)] == [
        Priority.LOW,
        Priority.LOW,
        Priority.MEDIUM,
        Priority.MEDIUM,
        Priority.HIGH,
        Priority.HIGH,
        Priority.CRITICAL,
        Priority.CRITICAL,
    ]
    ep = mk(AssetKind.ENDPOINT, "ep", attributes={"url": "https://x.example.com"})
    g = graph([ep])
    default = score(ep, g)
    strict = score(ep, g, RiskSettings(thresholds=PriorityThresholds(critical=1, high=1, medium=1)))
    assert default.priority is not Priority.CRITICAL and strict.priority is Priority.CRITICAL


# --- the estate as a whole ----------------------------------------------------------------


def test_score_estate_scores_current_assets_worst_first_with_one_context() -> None:
    live = mk(AssetKind.ENDPOINT, "live", attributes={"url": "https://x.example.com"})
    quiet = mk(AssetKind.PACKAGE, "quiet")
    gone = mk(AssetKind.ENDPOINT, "gone", stale=True)
    g = graph([quiet, live, gone])
    risks = score_estate(g)
    assert [r.asset_name for r in risks] == ["live", "quiet"]
    assert RiskContext.of(g) is RiskContext.of(g)


def _hub(apps: int) -> tuple[EstateGraph, Asset]:
    svc = mk(AssetKind.AI_SERVICE, "hub")
    models = [mk(AssetKind.MODEL, f"m{i}") for i in range(50)]
    callers = [mk(AssetKind.APPLICATION, f"app{i}") for i in range(apps)]
    rels = [rel(svc, RelationKind.SERVES, m) for m in models]
    rels += [rel(a, RelationKind.USES_MODEL, models[i % 50]) for i, a in enumerate(callers)]
    rels += [rel(a, RelationKind.CALLS_SERVICE, svc) for a in callers]
    return graph([svc, *models, *callers], rels), svc


def test_scoring_a_hub_with_thousands_of_callers_grows_linearly() -> None:
    def seconds(apps: int) -> float:
        best = float("inf")
        for _ in range(2):
            g, _ = _hub(apps)  # a new graph: the context is built inside the timing
            t0 = time.perf_counter()
            score_estate(g)
            best = min(best, time.perf_counter() - t0)
        return best

    small, large = seconds(300), seconds(2400)
    # 8x the callers of one hub: linear costs about 8x, a per-asset walk of the callers 64x
    assert large / small < 20, (small, large)
    g, svc = _hub(2400)
    hub = next(r for r in score_estate(g) if r.asset_id == svc.id)
    assert any("7+ dependent" in x.text for x in hub.dimension(BIZ).reasons)


# --- the demo estate ------------------------------------------------------------------------


def _by_name(p: Posture, kind: AssetKind, name: str) -> Asset:
    return next(a for a in p.assets if a.kind is kind and a.name == name)


def _risks(p: Posture) -> dict[str, AssetRisk]:
    s = p.store
    g = EstateGraph.build(s.assets(), s.relations(), s.findings())
    return {r.asset_id: r for r in score_estate(g, p.settings.risk)}


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Estate, Posture, dict[str, AssetRisk], dict[str, AssetRisk]]]:
    """The demo estate scanned, scored before and after a human records what they know.

    The edits are what a security team would record: the support bot runs in production
    and is customer-facing; DLP shows customer data pasted into ChatGPT (the shadow
    service a proxy log revealed), so that service receives confidential data; the
    embeddings notebook is a dev experiment and the Hugging Face models it loads are
    public models.
    """
    base: Path = tmp_path_factory.mktemp("risk-demo")
    estate = build_estate(base / "estate")
    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": list(estate.sanctioned)}}
    )
    p = Posture.open(f"sqlite:///{base / 'posture.db'}", actor="risk-test", config=settings)
    p.discover(estate.root, logs=estate.logs, progress=False)
    before = _risks(p)
    bot = _by_name(p, AssetKind.APPLICATION, "support-bot")
    p.update_asset(bot.id, environment="prod", tags=["customer-facing"])
    chatgpt = _by_name(p, AssetKind.AI_SERVICE, "ChatGPT")
    p.update_asset(chatgpt.id, data_sensitivity="confidential")
    nb = _by_name(p, AssetKind.NOTEBOOK, "embeddings.ipynb")
    p.update_asset(nb.id, environment="dev")
    for model in (
        "sentence-transformers/all-MiniLM-L6-v2",
        "distilbert-base-uncased-finetuned-sst-2-english",
    ):
        p.update_asset(_by_name(p, AssetKind.MODEL, model).id, data_sensitivity="public")
    after = _risks(p)
    yield estate, p, before, after
    p.close()


def _pickle(p: Posture) -> Asset:
    return _by_name(p, AssetKind.MODEL_FILE, "fraud_xgb_v2.pkl")


def _pasted_key(p: Posture) -> Asset:
    [f] = [f for f in p.findings if f.rule_id == "AIP-CRED-001"]
    return p.asset(f.asset_id)


def test_demo_pickle_pasted_key_and_shadow_ai_with_sensitive_data_are_high_or_critical(
    demo: tuple[Estate, Posture, dict[str, AssetRisk], dict[str, AssetRisk]],
) -> None:
    _, p, _, after = demo
    chatgpt = _by_name(p, AssetKind.AI_SERVICE, "ChatGPT")
    for a in (_pickle(p), _pasted_key(p), chatgpt):
        assert after[a.id].priority in (Priority.HIGH, Priority.CRITICAL), (a.name, after[a.id])


def test_demo_dev_notebook_with_a_public_model_is_low(
    demo: tuple[Estate, Posture, dict[str, AssetRisk], dict[str, AssetRisk]],
) -> None:
    _, p, _, after = demo
    nb = _by_name(p, AssetKind.NOTEBOOK, "embeddings.ipynb")
    r = after[nb.id]
    assert r.priority is Priority.LOW
    assert r.dimension(BIZ).reasons[0].text == "dev environment"
    ranked = sorted(after.values(), key=lambda x: -x.score)
    top = {x.asset_name for x in ranked[:8]}
    assert "embeddings.ipynb" not in top


def test_demo_pickle_and_pasted_key_are_high_even_before_any_human_edit(
    demo: tuple[Estate, Posture, dict[str, AssetRisk], dict[str, AssetRisk]],
) -> None:
    _, p, before, after = demo
    assert before[_pickle(p).id].priority is Priority.HIGH  # the critical finding's floor
    assert before[_pasted_key(p).id].score >= 30
    chatgpt = _by_name(p, AssetKind.AI_SERVICE, "ChatGPT").id
    # shadow AI without known sensitive data is medium; the confidential label lifts it
    assert before[chatgpt].priority is Priority.MEDIUM
    assert after[chatgpt].score > before[chatgpt].score
    otter = _by_name(p, AssetKind.AI_SERVICE, "Otter.ai").id
    assert after[chatgpt].score > after[otter].score


def test_demo_every_assets_reasons_add_up_to_its_scores(
    demo: tuple[Estate, Posture, dict[str, AssetRisk], dict[str, AssetRisk]],
) -> None:
    _, _, before, after = demo
    for risks in (before, after):
        for r in risks.values():
            for d in r.dimensions:
                assert sum(x.points for x in d.reasons) == d.score, (r.asset_name, d)
            assert 0 <= r.score <= 100
