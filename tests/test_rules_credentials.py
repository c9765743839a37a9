"""Credential rules: AI keys where a leak costs most, shared keys, keys for shadow services."""

from __future__ import annotations

from aiposture.discovery import observe
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
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.credentials import (
    CredentialForUnsanctionedService,
    CredentialSharedAcrossProjects,
    ExposedAICredentialInProduction,
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


def _app(name: str, **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


_EV = Evidence(kind=EvidenceKind.CODE, path="/p/bot/settings.py", line=2, snippet="KEY = 'sk-****'")


def _cred(kind: str = "OpenAI Token", provider: str | None = "openai") -> Asset:
    return observe.credential(kind, "1a2b3c4d5e6f7a8b", provider_id=provider, evidence=_EV)


def _declared(cred: Asset, holder: Asset) -> Relation:
    return Relation.new(cred.id, RelationKind.DECLARED_IN, holder.id, evidence=[_EV])


# --- AIP-CRED-003 --------------------------------------------------------------------------


def test_ai_key_in_a_production_application_is_critical() -> None:
    cred, app = _cred(), _app("bot", environment=Environment.PROD, tags=["customer-facing"])
    [finding] = _run(
        ExposedAICredentialInProduction(), _graph(cred, app, _declared(cred, app)), cred
    )
    assert finding.severity is Severity.CRITICAL
    assert finding.fingerprint == ""
    assert "application 'bot' is in production, customer-facing" in finding.title


def test_ai_key_in_an_application_with_confidential_data_is_high() -> None:
    cred, app = _cred(), _app("claims", data_sensitivity=Sensitivity.CONFIDENTIAL)
    [finding] = _run(
        ExposedAICredentialInProduction(), _graph(cred, app, _declared(cred, app)), cred
    )
    assert finding.severity is Severity.HIGH


def test_ai_key_in_a_plain_dev_project_or_non_ai_key_is_left_to_the_scanner() -> None:
    cred, dev = _cred(), _app("sandbox", environment=Environment.DEV)
    assert (
        _run(ExposedAICredentialInProduction(), _graph(cred, dev, _declared(cred, dev)), cred) == []
    )
    slack, prod = _cred("Slack Token", None), _app("ops", environment=Environment.PROD)
    g = _graph(slack, prod, _declared(slack, prod))
    assert _run(ExposedAICredentialInProduction(), g, slack) == []


def test_a_token_given_to_an_mcp_server_counts_as_an_ai_credential() -> None:
    token = _cred("GitHub Token", None)
    server = observe.mcp_server("github", scope="/p/bot", package="npm:@mcp/server-github")
    app = _app("bot", environment=Environment.PROD)
    g = _graph(token, server, app, _declared(token, server), _declared(token, app))
    [finding] = _run(ExposedAICredentialInProduction(), g, token)
    assert finding.severity is Severity.CRITICAL


def test_a_revoked_key_whose_scanner_finding_was_resolved_is_not_reported() -> None:
    cred, app = _cred(), _app("bot", environment=Environment.PROD)
    scanner = observe.exposed_credential_finding(cred, _EV)
    resolved = scanner.model_copy(update={"status": FindingStatus.RESOLVED})
    g = _graph(cred, app, _declared(cred, app), resolved)
    assert _run(ExposedAICredentialInProduction(), g, cred) == []
    g = _graph(cred, app, _declared(cred, app), scanner)
    assert len(_run(ExposedAICredentialInProduction(), g, cred)) == 1


# --- AIP-CRED-004 --------------------------------------------------------------------------


def test_key_written_into_two_projects_is_reported() -> None:
    cred, a, b = _cred(), _app("bot"), _app("triage")
    g = _graph(cred, a, b, _declared(cred, a), _declared(cred, b))
    [finding] = _run(CredentialSharedAcrossProjects(), g, cred)
    assert finding.severity is Severity.MEDIUM
    assert "'bot'" in finding.description and "'triage'" in finding.description
    prod = _app("triage", environment=Environment.PROD)
    g = _graph(cred, a, prod, _declared(cred, a), _declared(cred, prod))
    [finding] = _run(CredentialSharedAcrossProjects(), g, cred)
    assert finding.severity is Severity.HIGH


def test_key_in_a_project_and_its_own_notebook_or_its_mcp_server_is_one_project() -> None:
    cred, app = _cred(), _app("research")
    nb = Asset.new(AssetKind.NOTEBOOK, "eval.ipynb", key=normalise_key("notebook", "/p/eval"))
    server = observe.mcp_server("github", scope="/p/research")
    g = _graph(
        cred,
        app,
        nb,
        server,
        Relation.new(app.id, RelationKind.CONTAINS, nb.id),
        _declared(cred, nb),
        _declared(cred, app),
        _declared(cred, server),
    )
    assert _run(CredentialSharedAcrossProjects(), g, cred) == []


# --- AIP-CRED-005 --------------------------------------------------------------------------


def _service(provider: str, sanctioned: Sanctioned) -> Asset:
    return Asset.new(
        AssetKind.AI_SERVICE,
        f"{provider} API",
        key=normalise_key("service", provider),
        provider=provider,
        sanctioned=sanctioned,
    )


def test_key_for_an_unsanctioned_service_is_reported_per_service() -> None:
    cred = _cred("DeepSeek API Key", "deepseek")
    svc = _service("deepseek", Sanctioned.UNSANCTIONED)
    app = _app("scripts")
    g = _graph(cred, svc, app, _declared(cred, app))
    rule = CredentialForUnsanctionedService()
    [finding] = _run(rule, g, cred)
    assert finding.severity is Severity.MEDIUM and finding.fingerprint == svc.id
    prod = _app("scripts", environment=Environment.PROD)
    [finding] = _run(rule, _graph(cred, svc, prod, _declared(cred, prod)), cred)
    assert finding.severity is Severity.HIGH


def test_key_for_a_sanctioned_or_undecided_service_is_not_reported() -> None:
    cred = _cred("DeepSeek API Key", "deepseek")
    rule = CredentialForUnsanctionedService()
    for status in (Sanctioned.SANCTIONED, Sanctioned.UNKNOWN):
        svc = _service("deepseek", status)
        assert _run(rule, _graph(cred, svc), cred) == []
    other = _service("mistral", Sanctioned.UNSANCTIONED)
    assert _run(rule, _graph(cred, other), cred) == []
    no_provider = _cred("Generic Secret", None)
    assert _run(rule, _graph(no_provider, other), no_provider) == []


def test_the_service_index_is_rebuilt_for_a_new_graph() -> None:
    cred = _cred("DeepSeek API Key", "deepseek")
    rule = CredentialForUnsanctionedService()
    assert _run(rule, _graph(cred, _service("deepseek", Sanctioned.SANCTIONED)), cred) == []
    assert len(_run(rule, _graph(cred, _service("deepseek", Sanctioned.UNSANCTIONED)), cred)) == 1
