"""Shadow-AI rules: sensitive data to unsanctioned services, software built on them,
services nobody has decided about."""

from __future__ import annotations

from pathlib import Path

from aiposture.discovery.base import Target, TargetKind
from aiposture.discovery.scanners.egress_logs import EgressLogScanner
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
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
from aiposture.risk.rules.shadow_ai import (
    SensitiveDataToShadowAI,
    SoftwareOnUnsanctionedService,
    UndecidedAIService,
)
from aiposture.settings import Settings


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _service(
    sanctioned: Sanctioned, *, sent: int = 0, sensitivity: Sensitivity = Sensitivity.UNKNOWN
) -> Asset:
    evidence = []
    if sent:
        evidence.append(
            Evidence(
                kind=EvidenceKind.LOG_LINE,
                path="/logs/proxy.log",
                line=4,
                key="lee@10.0.0.9",
                usage=Usage(user="lee", client="10.0.0.9", requests=3, bytes_out=sent),
            )
        )
    return Asset.new(
        AssetKind.AI_SERVICE,
        "ChatGPT",
        key=normalise_key("service", "chatgpt"),
        provider="chatgpt",
        sanctioned=sanctioned,
        data_sensitivity=sensitivity,
        evidence=evidence,
    )


def _caller(name: str, kind: AssetKind = AssetKind.NOTEBOOK, **fields: object) -> Asset:
    return Asset.new(kind, name, key=normalise_key(kind.value, f"/p/{name}"), **fields)


def _calls(caller: Asset, svc: Asset) -> Relation:
    ev = Evidence(kind=EvidenceKind.CODE, path=f"/p/{caller.name}", line=5, snippet="post(...)")
    return Relation.new(caller.id, RelationKind.CALLS_SERVICE, svc.id, evidence=[ev])


# --- AIP-SHADOW-002 ------------------------------------------------------------------------


def test_confidential_notebook_calling_shadow_ai_is_high_and_restricted_is_critical() -> None:
    svc = _service(Sanctioned.UNSANCTIONED)
    nb = _caller("churn.ipynb", data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(SensitiveDataToShadowAI(), _graph(svc, nb, _calls(nb, svc)), svc)
    assert finding.severity is Severity.HIGH
    assert "notebook 'churn.ipynb'" in finding.description
    nb = _caller("churn.ipynb", data_sensitivity=Sensitivity.RESTRICTED)
    [finding] = _run(SensitiveDataToShadowAI(), _graph(svc, nb, _calls(nb, svc)), svc)
    assert finding.severity is Severity.CRITICAL


def test_bulk_uploads_alone_are_high_and_with_confidential_data_critical() -> None:
    svc = _service(Sanctioned.UNSANCTIONED, sent=12_000_000)
    [finding] = _run(SensitiveDataToShadowAI(), _graph(svc), svc)
    assert finding.severity is Severity.HIGH
    assert "12.0 MB" in finding.description
    assert finding.evidence[0].usage is not None
    nb = _caller("crm.ipynb", data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(SensitiveDataToShadowAI(), _graph(svc, nb, _calls(nb, svc)), svc)
    assert finding.severity is Severity.CRITICAL


def test_data_classification_recorded_on_the_service_counts() -> None:
    svc = _service(Sanctioned.UNSANCTIONED, sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(SensitiveDataToShadowAI(), _graph(svc), svc)
    assert finding.severity is Severity.HIGH


def test_no_sensitive_flow_or_a_sanctioned_service_is_not_reported() -> None:
    small = _service(Sanctioned.UNSANCTIONED, sent=5_000)
    public = _caller("demo.ipynb", data_sensitivity=Sensitivity.INTERNAL)
    assert (
        _run(SensitiveDataToShadowAI(), _graph(small, public, _calls(public, small)), small) == []
    )
    for status in (Sanctioned.SANCTIONED, Sanctioned.UNKNOWN):
        svc = _service(status, sent=50_000_000)
        secret = _caller("x.ipynb", data_sensitivity=Sensitivity.RESTRICTED)
        assert _run(SensitiveDataToShadowAI(), _graph(svc, secret, _calls(secret, svc)), svc) == []


def test_bulk_upload_seen_by_the_real_egress_scanner(tmp_path: Path) -> None:
    log = tmp_path / "egress.csv"
    log.write_text(
        "timestamp,src_ip,user,dest_ip,sni,url,bytes_out,bytes_in\n"
        "2025-03-01T09:00:00Z,10.2.0.5,sam,,chatgpt.com,,11000000,20000\n"
        "2025-03-01T09:05:00Z,10.2.0.6,kim,,www.deepl.com,,2000,900\n",
        encoding="utf-8",
    )
    scanner = EgressLogScanner(Settings())
    out = list(scanner.scan(Target(kind=TargetKind.LOG, source=str(log), path=log)))
    services = {o.name: o for o in out if isinstance(o, Asset)}
    graph = _graph(*services.values())
    rule = SensitiveDataToShadowAI()
    assert [f.severity for f in _run(rule, graph, services["ChatGPT"])] == [Severity.HIGH]
    assert _run(rule, graph, services["DeepL"]) == []


# --- AIP-SHADOW-003 ------------------------------------------------------------------------


def test_application_calling_an_unsanctioned_service_is_reported_per_service() -> None:
    svc = _service(Sanctioned.UNSANCTIONED)
    other = Asset.new(
        AssetKind.ENDPOINT,
        "https://llm.example.net/v1",
        key=normalise_key("endpoint", "x"),
        sanctioned=Sanctioned.UNSANCTIONED,
    )
    app = _caller("ops", AssetKind.APPLICATION)
    g = _graph(svc, other, app, _calls(app, svc), _calls(app, other))
    findings = _run(SoftwareOnUnsanctionedService(), g, app)
    assert {f.fingerprint for f in findings} == {svc.id, other.id}
    assert {f.severity for f in findings} == {Severity.MEDIUM}
    prod = _caller("ops", AssetKind.APPLICATION, environment=Environment.PROD)
    findings = _run(SoftwareOnUnsanctionedService(), _graph(svc, prod, _calls(prod, svc)), prod)
    assert [f.severity for f in findings] == [Severity.HIGH]


def test_application_on_sanctioned_or_undecided_services_is_not_reported() -> None:
    app = _caller("bot", AssetKind.APPLICATION)
    for status in (Sanctioned.SANCTIONED, Sanctioned.UNKNOWN):
        svc = _service(status)
        assert _run(SoftwareOnUnsanctionedService(), _graph(svc, app, _calls(app, svc)), app) == []


# --- AIP-SHADOW-004 ------------------------------------------------------------------------


def test_undecided_service_in_use_is_low_and_medium_for_production_callers() -> None:
    svc = _service(Sanctioned.UNKNOWN)
    nb = _caller("try.ipynb")
    [finding] = _run(UndecidedAIService(), _graph(svc, nb, _calls(nb, svc)), svc)
    assert finding.severity is Severity.LOW
    prod = _caller("api", AssetKind.APPLICATION, environment=Environment.PROD)
    [finding] = _run(UndecidedAIService(), _graph(svc, prod, _calls(prod, svc)), svc)
    assert finding.severity is Severity.MEDIUM
    logged = _service(Sanctioned.UNKNOWN, sent=100)
    assert len(_run(UndecidedAIService(), _graph(logged), logged)) == 1


def test_decided_or_unused_services_are_not_reported() -> None:
    unused = _service(Sanctioned.UNKNOWN)
    assert _run(UndecidedAIService(), _graph(unused), unused) == []
    nb = _caller("try.ipynb")
    for status in (Sanctioned.SANCTIONED, Sanctioned.UNSANCTIONED):
        svc = _service(status)
        assert _run(UndecidedAIService(), _graph(svc, nb, _calls(nb, svc)), svc) == []
