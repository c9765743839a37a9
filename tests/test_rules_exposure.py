"""Exposure rules: public endpoints without authentication or rate limit, plaintext HTTP,
customer-facing applications without guardrails."""

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
    Sensitivity,
    Severity,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.exposure import (
    CustomerFacingWithoutGuardrail,
    PlaintextAIEndpoint,
    PublicEndpointWithoutAuthentication,
    PublicEndpointWithoutRateLimit,
)

_EV = Evidence(kind=EvidenceKind.CODE, path="/p/app.py", line=4, snippet="base_url=...")


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _endpoint(url: str, *tags: str) -> Asset:
    ep = observe.endpoint(url, None, _EV)
    return ep.model_copy(update={"tags": list(tags)}) if tags else ep


def _app(name: str, **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _serving(
    ep: Asset, sensitivity: Sensitivity, *, fine_tuned: bool = False
) -> list[Asset | Relation]:
    model = Asset.new(AssetKind.MODEL, "claims-llm", provider="local")
    objs: list[Asset | Relation] = [model, Relation.new(ep.id, RelationKind.SERVES, model.id)]
    if fine_tuned or sensitivity is not Sensitivity.UNKNOWN:
        data = Asset.new(AssetKind.DATASET, "claims", data_sensitivity=sensitivity)
        objs += [data, Relation.new(model.id, RelationKind.TRAINED_ON, data.id)]
    return objs


# --- AIP-EXPOSE-001 ------------------------------------------------------------------------


def test_public_self_hosted_endpoint_without_authentication_is_high() -> None:
    ep = _endpoint("https://llm.acme-corp.com/v1")
    [finding] = _run(PublicEndpointWithoutAuthentication(), _graph(ep), ep)
    assert finding.severity is Severity.HIGH


def test_public_endpoint_serving_confidential_training_data_is_critical() -> None:
    ep = _endpoint("http://51.15.20.30:11434")
    g = _graph(ep, *_serving(ep, Sensitivity.CONFIDENTIAL))
    [finding] = _run(PublicEndpointWithoutAuthentication(), g, ep)
    assert finding.severity is Severity.CRITICAL


def test_authenticated_private_or_vendor_endpoints_are_not_reported() -> None:
    rule = PublicEndpointWithoutAuthentication()
    for ep in (
        _endpoint("https://llm.acme-corp.com/v1", "control:authentication"),
        _endpoint("http://10.0.0.5:8000/v1"),
        _endpoint("http://vllm:8000/v1"),
        _endpoint("https://models.svc.internal/v1"),
        _endpoint("https://api.openai.com/v1"),
        _endpoint("https://api.mistral.ai/v1"),
    ):
        assert _run(rule, _graph(ep), ep) == [], ep.name
    with_attr = _endpoint("https://llm.acme-corp.com/v1")
    with_attr = with_attr.model_copy(
        update={"attributes": {**with_attr.attributes, "auth": "oauth2"}}
    )
    assert _run(rule, _graph(with_attr), with_attr) == []


def test_vendor_services_count_only_when_tagged_self_hosted() -> None:
    vendor = observe.service("openai")
    assert _run(PublicEndpointWithoutAuthentication(), _graph(vendor), vendor) == []
    ours = Asset.new(
        AssetKind.AI_SERVICE,
        "Inference gateway",
        key=normalise_key("service", "gateway"),
        tags=["self-hosted", "internet-facing"],
    )
    [finding] = _run(PublicEndpointWithoutAuthentication(), _graph(ours), ours)
    assert finding.severity is Severity.HIGH


# --- AIP-EXPOSE-002 ------------------------------------------------------------------------


def test_public_endpoint_without_rate_limit_is_medium_and_high_for_an_in_house_model() -> None:
    ep = _endpoint("https://llm.acme-corp.com/v1")
    [finding] = _run(PublicEndpointWithoutRateLimit(), _graph(ep), ep)
    assert finding.severity is Severity.MEDIUM
    g = _graph(ep, *_serving(ep, Sensitivity.PUBLIC, fine_tuned=True))
    [finding] = _run(PublicEndpointWithoutRateLimit(), g, ep)
    assert finding.severity is Severity.HIGH


def test_rate_limited_or_private_endpoints_are_not_reported() -> None:
    rule = PublicEndpointWithoutRateLimit()
    tagged = _endpoint("https://llm.acme-corp.com/v1", "control:rate-limit")
    attr = _endpoint("https://llm2.acme-corp.com/v1")
    attr = attr.model_copy(update={"attributes": {**attr.attributes, "rate_limit": "60/min"}})
    private = _endpoint("http://192.168.1.20:8080")
    for ep in (tagged, attr, private):
        assert _run(rule, _graph(ep), ep) == [], ep.name


# --- AIP-EXPOSE-003 ------------------------------------------------------------------------


def test_plaintext_http_to_a_public_host_is_medium_and_high_with_confidential_callers() -> None:
    ep = _endpoint("http://llm.acme-corp.com/v1")
    [finding] = _run(PlaintextAIEndpoint(), _graph(ep), ep)
    assert finding.severity is Severity.MEDIUM
    app = _app("claims", data_sensitivity=Sensitivity.CONFIDENTIAL)
    rel = Relation.new(app.id, RelationKind.CALLS_SERVICE, ep.id, evidence=[_EV])
    [finding] = _run(PlaintextAIEndpoint(), _graph(ep, app, rel), ep)
    assert finding.severity is Severity.HIGH
    assert finding.evidence[0] == _EV


def test_plaintext_on_a_private_network_is_low_and_loopback_or_tls_is_silent() -> None:
    private = _endpoint("http://10.1.2.3:8000/v1")
    [finding] = _run(PlaintextAIEndpoint(), _graph(private), private)
    assert finding.severity is Severity.LOW
    for url in ("http://localhost:11434", "http://127.0.0.1:8000", "https://llm.acme-corp.com"):
        ep = _endpoint(url)
        assert _run(PlaintextAIEndpoint(), _graph(ep), ep) == [], url


# --- AIP-EXPOSE-004 ------------------------------------------------------------------------


def _bot(*tags: str, **fields: object) -> tuple[Asset, Asset, Relation]:
    app = _app("support-bot", tags=["customer-facing", *tags], **fields)
    model = observe.model("gpt-4o-mini", None)
    return app, model, Relation.new(app.id, RelationKind.USES_MODEL, model.id, evidence=[_EV])


def test_customer_facing_app_without_either_control_is_medium() -> None:
    app, model, rel = _bot()
    [finding] = _run(CustomerFacingWithoutGuardrail(), _graph(app, model, rel), app)
    assert finding.severity is Severity.MEDIUM
    assert "guardrail or output-monitoring" in finding.title


def test_one_control_missing_is_low_and_tools_raise_it() -> None:
    app, model, rel = _bot("control:guardrail")
    [finding] = _run(CustomerFacingWithoutGuardrail(), _graph(app, model, rel), app)
    assert finding.severity is Severity.LOW and "output-monitoring" in finding.title
    server = observe.mcp_server("crm", scope="/p/support-bot")
    tools = Relation.new(app.id, RelationKind.CALLS_SERVICE, server.id)
    [finding] = _run(CustomerFacingWithoutGuardrail(), _graph(app, model, server, rel, tools), app)
    assert finding.severity is Severity.MEDIUM


def test_controls_on_the_model_or_internal_apps_are_not_reported() -> None:
    app, model, rel = _bot("control:guardrail")
    watched = model.model_copy(update={"tags": ["control:output-monitoring"]})
    assert _run(CustomerFacingWithoutGuardrail(), _graph(app, watched, rel), app) == []
    internal = _app("support-bot", environment=Environment.PROD)
    rel = Relation.new(internal.id, RelationKind.USES_MODEL, model.id)
    assert _run(CustomerFacingWithoutGuardrail(), _graph(internal, model, rel), internal) == []
    lone, _, _ = _bot()
    assert _run(CustomerFacingWithoutGuardrail(), _graph(lone), lone) == []
