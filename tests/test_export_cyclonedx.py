"""The CycloneDX 1.6 AI-BOM export, checked against the official schema."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from cyclonedx.validation.json import JsonStrictValidator

import aiposture
from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetKind
from aiposture.errors import ExportError
from aiposture.export import (
    build_bom,
    to_cyclonedx_json,
    validate_cyclonedx_json,
    write_cyclonedx,
)
from aiposture.export import cyclonedx as cdx_export
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
)

PLANTED_SECRET = "sk-live-PLANTEDsecret0123456789abcdefXYZ"


@dataclass
class Estate:
    """A small AI estate: a project on disk and the assets a scan would report."""

    app: Asset
    notebook: Asset
    openai: Asset
    ollama: Asset
    gpt: Asset
    hf_model: Asset
    package: Asset
    endpoint: Asset
    mcp: Asset
    credential: Asset
    model_file: Asset
    dataset: Asset
    agent: Asset
    index: Asset
    relations: list[Relation]
    findings: list[Finding]

    @property
    def assets(self) -> list[Asset]:
        return [
            self.app,
            self.notebook,
            self.openai,
            self.ollama,
            self.gpt,
            self.hf_model,
            self.package,
            self.endpoint,
            self.mcp,
            self.credential,
            self.model_file,
            self.dataset,
            self.agent,
            self.index,
        ]


def _file_target(root: Path, project: Path, path: Path) -> Target:
    return Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=root,
        data=path.read_bytes(),
        project=project,
    )


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    project = tmp_path / "chatbot"
    project.mkdir()
    main = project / "main.py"
    main.write_text(
        "from openai import OpenAI\n"
        f'client = OpenAI(api_key="{PLANTED_SECRET}")\n'
        'client.chat.completions.create(model="gpt-4o", messages=[])\n',
        encoding="utf-8",
    )
    (project / "requirements.txt").write_text("openai==1.40.0\n", encoding="utf-8")
    nb_path = project / "explore.ipynb"
    nb_path.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    weights = project / "model.safetensors"
    weights.write_bytes(b"\x00" * 32)

    code = _file_target(tmp_path, project, main)
    ev = Evidence(kind=EvidenceKind.CODE, path=str(main), line=3, snippet="model='gpt-4o'")
    secret_ev = Evidence(
        kind=EvidenceKind.CODE, path=str(main), line=2, snippet='api_key="sk-l***"', key="api_key"
    )
    app = observe.application(code, ev)
    notebook = observe.notebook(_file_target(tmp_path, project, nb_path))
    openai = observe.service("openai", ev)
    ollama = observe.service("ollama")
    gpt = observe.model("gpt-4o", None, ev)
    hf_model = observe.model("sentence-transformers/all-MiniLM-L6-v2", "huggingface")
    manifest_ev = Evidence(kind=EvidenceKind.MANIFEST, path=str(project / "requirements.txt"))
    package = observe.package("pypi", "OpenAI", "1.40.0", evidence=manifest_ev)
    endpoint = observe.endpoint("https://llm.example.com/v1", "openai", ev)
    mcp = observe.mcp_server(
        "filesystem",
        scope=str(project),
        transport="stdio",
        command=f"npx server --token {PLANTED_SECRET}",
    )
    credential = observe.credential(
        "OpenAI API key", observe.secret_fingerprint(PLANTED_SECRET), evidence=secret_ev
    )
    # A hostile or buggy scanner put the secret into the credential's attributes.
    credential = credential.model_copy(
        update={"attributes": {**credential.attributes, "value": PLANTED_SECRET}}
    )
    model_file = Asset.new(
        AssetKind.MODEL_FILE,
        weights.name,
        key=str(weights),
        locations=[str(weights)],
        attributes={"sha256": "AB" * 32, "format": "safetensors"},
    )
    dataset = Asset.new(AssetKind.DATASET, "train.csv", data_sensitivity=Sensitivity.CONFIDENTIAL)
    agent = Asset.new(AssetKind.AGENT, "support-agent", owner="team-ai")
    index = Asset.new(AssetKind.DATASET_INDEX, "train-leakage-index", key="/idx/train")
    relations = [
        observe.relate(app, RelationKind.USES_MODEL, gpt),
        observe.relate(app, RelationKind.CALLS_SERVICE, openai),
        observe.relate(package, RelationKind.DECLARED_IN, app),
        observe.relate(openai, RelationKind.SERVES, gpt),
        observe.relate(app, RelationKind.CONTAINS, notebook),
        observe.relate(app, RelationKind.CONTAINS, credential),
        observe.relate(model_file, RelationKind.TRAINED_ON, dataset),
        observe.relate(index, RelationKind.CONTAINS, dataset),
    ]
    findings = [
        observe.exposed_credential_finding(credential, secret_ev),
        Finding.new(
            model_file.id,
            "AIP-MODEL-001",
            "Model file can run code when loaded",
            Severity.CRITICAL,
            description="Pickle-based weights.",
            status=FindingStatus.ACKNOWLEDGED,
            evidence=[Evidence(kind=EvidenceKind.FILE, path=str(weights))],
        ),
    ]
    return Estate(
        app=app,
        notebook=notebook,
        openai=openai,
        ollama=ollama,
        gpt=gpt,
        hf_model=hf_model,
        package=package,
        endpoint=endpoint,
        mcp=mcp,
        credential=credential,
        model_file=model_file,
        dataset=dataset,
        agent=agent,
        index=index,
        relations=relations,
        findings=findings,
    )


def _export(estate: Estate, **kw: Any) -> dict[str, Any]:
    text = to_cyclonedx_json(estate.assets, estate.relations, estate.findings, **kw)
    doc: dict[str, Any] = json.loads(text)
    return doc


def _by_ref(doc: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    return {item["bom-ref"]: item for item in doc.get(section, [])}


def _props(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("properties", []) if p["name"] == f"aiposture:{name}"]


def _depends_on(doc: dict[str, Any]) -> dict[str, set[str]]:
    return {d["ref"]: set(d.get("dependsOn", [])) for d in doc.get("dependencies", [])}


def _strict_error(text: str) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


# --- schema validity ---------------------------------------------------------------------


def test_full_estate_bom_passes_the_official_strict_1_6_schema(estate: Estate) -> None:
    text = to_cyclonedx_json(estate.assets, estate.relations, estate.findings, validate=False)

    assert _strict_error(text) is None
    lenient = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_6)
    assert lenient.validate_str(text) is None


def test_strict_validator_rejects_broken_documents(estate: Estate) -> None:
    doc = _export(estate)
    bad_type = json.loads(json.dumps(doc))
    bad_type["components"][0]["type"] = "banana"
    unknown_field = json.loads(json.dumps(doc))
    unknown_field["services"][0]["x-secret"] = "nope"
    bad_serial = {**doc, "serialNumber": "not-a-uuid"}

    for broken in (bad_type, unknown_field, bad_serial):
        assert _strict_error(json.dumps(broken)) is not None


def test_validation_failure_raises_export_error_naming_the_problem(estate: Estate) -> None:
    doc = _export(estate)
    doc["components"][0]["type"] = "banana"

    with pytest.raises(ExportError, match=r"components\[0\]\.type.*banana"):
        validate_cyclonedx_json(json.dumps(doc))
    with pytest.raises(ExportError, match="not valid JSON"):
        validate_cyclonedx_json("{not json")


def test_validation_works_without_network(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("the schema validator tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    cdx_export._validator.cache_clear()

    text = to_cyclonedx_json(estate.assets, estate.relations, estate.findings)

    assert _strict_error(text) is None


def test_empty_inventory_gives_a_valid_bom() -> None:
    text = to_cyclonedx_json([], [])
    doc = json.loads(text)

    assert _strict_error(text) is None
    assert doc["specVersion"] == "1.6"
    assert doc.get("components", []) == []
    assert doc.get("services", []) == []


# --- metadata ----------------------------------------------------------------------------


def test_metadata_names_the_tool_version_and_the_serial_number(estate: Estate) -> None:
    serial = UUID("12345678-1234-4234-8234-123456789abc")

    doc = _export(estate, serial_number=serial)

    assert doc["bomFormat"] == "CycloneDX"
    assert doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == f"urn:uuid:{serial}"
    tools = doc["metadata"]["tools"]["components"]
    assert tools == [{"name": "aiposture", "type": "application", "version": aiposture.__version__}]
    assert doc["metadata"]["timestamp"]


def test_each_export_gets_a_new_serial_but_the_same_bom_refs(estate: Estate) -> None:
    first, second = _export(estate), _export(estate)

    assert first["serialNumber"] != second["serialNumber"]
    assert set(_by_ref(first, "components")) == set(_by_ref(second, "components"))
    assert set(_by_ref(first, "services")) == set(_by_ref(second, "services"))


# --- components --------------------------------------------------------------------------


def test_model_is_a_machine_learning_model_whose_bom_ref_is_the_asset_id(estate: Estate) -> None:
    gpt = _by_ref(_export(estate), "components")[estate.gpt.id]

    assert gpt["type"] == "machine-learning-model"
    assert gpt["name"] == "gpt-4o"
    assert gpt["supplier"] == {"name": "OpenAI"}
    assert gpt["publisher"] == "OpenAI"
    assert _props(gpt, "kind") == ["model"]


def test_hugging_face_model_gets_a_huggingface_purl_and_a_model_card_link(estate: Estate) -> None:
    hf = _by_ref(_export(estate), "components")[estate.hf_model.id]

    assert hf["purl"] == "pkg:huggingface/sentence-transformers/all-MiniLM-L6-v2"
    assert hf["externalReferences"] == [
        {
            "type": "model-card",
            "url": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
            "comment": "Model card on the Hugging Face Hub",
        }
    ]


def test_model_file_carries_its_sha256_and_bad_hashes_are_dropped(estate: Estate) -> None:
    bogus = Asset.new(AssetKind.MODEL_FILE, "x.bin", attributes={"sha256": "not-hex"})
    text = to_cyclonedx_json([estate.model_file, bogus], [])
    comps = _by_ref(json.loads(text), "components")

    mf = comps[estate.model_file.id]
    assert mf["type"] == "machine-learning-model"
    assert mf["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert _props(mf, "format") == ["safetensors"]
    assert "hashes" not in comps[bogus.id]


def test_packages_are_libraries_with_purls(estate: Estate) -> None:
    npm = observe.package("npm", "@anthropic-ai/sdk", None)
    broken = Asset.new(AssetKind.PACKAGE, "weird", attributes={"purl": "not a purl"})
    doc = json.loads(to_cyclonedx_json([estate.package, npm, broken], []))
    comps = _by_ref(doc, "components")

    assert comps[estate.package.id]["type"] == "library"
    assert comps[estate.package.id]["purl"] == "pkg:pypi/openai@1.40.0"
    assert comps[estate.package.id]["version"] == "1.40.0"
    assert comps[npm.id]["purl"] == "pkg:npm/%40anthropic-ai/sdk"
    assert "purl" not in comps[broken.id]


def test_each_non_credential_kind_maps_to_its_cyclonedx_type(estate: Estate) -> None:
    doc = _export(estate)
    comps, services = _by_ref(doc, "components"), _by_ref(doc, "services")
    expected = {
        estate.app.id: "application",
        estate.notebook.id: "application",
        estate.agent.id: "application",
        estate.dataset.id: "data",
        estate.index.id: "data",
        estate.package.id: "library",
        estate.gpt.id: "machine-learning-model",
        estate.model_file.id: "machine-learning-model",
    }

    assert {ref: comps[ref]["type"] for ref in expected} == expected
    assert set(services) == {estate.openai.id, estate.ollama.id, estate.endpoint.id, estate.mcp.id}
    assert set(comps).isdisjoint(services)
    exported_kinds = {a.kind for a in estate.assets if a.id in comps or a.id in services}
    assert exported_kinds == set(AssetKind) - {AssetKind.CREDENTIAL}


def test_properties_carry_the_posture_fields_under_the_aiposture_namespace() -> None:
    asset = Asset.new(
        AssetKind.AGENT,
        "triage-bot",
        owner="secops",
        environment=Environment.PROD,
        data_sensitivity=Sensitivity.RESTRICTED,
        sanctioned=Sanctioned.UNSANCTIONED,
        tags=["pii", "tier-1"],
        locations=[f"/srv/app{i}" for i in range(8)],
        evidence=[Evidence(kind=EvidenceKind.CONFIG, path="/srv/app0/agent.yaml", line=4)],
    )
    comp = json.loads(to_cyclonedx_json([asset], []))["components"][0]

    assert {p["name"].split(":", 1)[0] for p in comp["properties"]} == {"aiposture"}
    assert _props(comp, "kind") == ["agent"]
    assert _props(comp, "environment") == ["prod"]
    assert _props(comp, "data_sensitivity") == ["restricted"]
    assert _props(comp, "sanctioned") == ["unsanctioned"]
    assert _props(comp, "owner") == ["secops"]
    assert sorted(_props(comp, "tag")) == ["pii", "tier-1"]
    assert _props(comp, "stale") == ["false"]
    assert _props(comp, "evidence_count") == ["1"]
    assert _props(comp, "first_seen") == [asset.first_seen.isoformat()]
    assert _props(comp, "last_seen") == [asset.last_seen.isoformat()]
    assert sorted(_props(comp, "location")) == [f"/srv/app{i}" for i in range(5)]
    assert comp["tags"] == ["pii", "tier-1"]
    assert comp["evidence"]["occurrences"] == [{"location": "/srv/app0/agent.yaml", "line": 4}]


def test_sightings_of_one_asset_are_merged_into_one_component() -> None:
    a = observe.model("gpt-4o", None, Evidence(kind=EvidenceKind.CODE, path="/a.py", line=1))
    b = observe.model("gpt-4o", None, Evidence(kind=EvidenceKind.CODE, path="/b.py", line=9))

    doc = json.loads(to_cyclonedx_json([a, b], []))

    assert [c["bom-ref"] for c in doc["components"]] == [a.id]
    occurrences = doc["components"][0]["evidence"]["occurrences"]
    assert {o["location"] for o in occurrences} == {"/a.py", "/b.py"}


def test_model_licences_are_spdx_ids_or_names_and_derived_models_depend_on_their_base() -> None:
    base = observe.model("meta-llama/Llama-3.2-1B", "huggingface").model_copy(
        update={"attributes": {"license": "llama3.2"}}
    )
    tuned = observe.model("acme/support-llama", "huggingface").model_copy(
        update={"attributes": {"license": "apache-2.0", "revision": "a" * 40}}
    )
    bare = observe.model("acme/no-card", "huggingface").model_copy(
        update={"attributes": {"license": "unknown"}}
    )
    rel = Relation.new(tuned.id, RelationKind.DERIVED_FROM, base.id)

    text = to_cyclonedx_json([base, tuned, bare], [rel])
    doc = json.loads(text)

    assert _strict_error(text) is None
    comps = _by_ref(doc, "components")
    assert comps[tuned.id]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert comps[base.id]["licenses"] == [{"license": {"name": "llama3.2"}}]
    assert "licenses" not in comps[bare.id]
    assert _props(comps[tuned.id], "revision") == ["a" * 40]
    assert _depends_on(doc)[tuned.id] == {base.id}


# --- services ----------------------------------------------------------------------------


def test_services_list_provider_endpoints_and_trust_boundary(estate: Estate) -> None:
    services = _by_ref(_export(estate), "services")

    openai = services[estate.openai.id]
    assert openai["name"] == "OpenAI API"
    assert openai["provider"] == {"name": "OpenAI"}
    assert openai["endpoints"] == ["https://api.openai.com"]
    assert openai["x-trust-boundary"] is True

    ollama = services[estate.ollama.id]
    assert ollama["x-trust-boundary"] is False
    assert "http://localhost:11434" in ollama["endpoints"]

    endpoint = services[estate.endpoint.id]
    assert endpoint["endpoints"] == ["https://llm.example.com/v1"]

    mcp = services[estate.mcp.id]
    assert _props(mcp, "transport") == ["stdio"]
    assert _props(mcp, "kind") == ["mcp_server"]


def test_service_urls_lose_credentials_and_declared_flags_win() -> None:
    svc = Asset.new(
        AssetKind.MCP_SERVER,
        "remote-tools",
        attributes={
            "url": "https://bob:hunter2@tools.example.org/mcp/?token=abc#frag",
            "authenticated": True,
            "trust_boundary": True,
            "trust_zone": "partner",
        },
        data_sensitivity=Sensitivity.CONFIDENTIAL,
    )
    text = to_cyclonedx_json([svc], [])
    service = json.loads(text)["services"][0]

    assert service["endpoints"] == ["https://tools.example.org/mcp"]
    assert service["authenticated"] is True
    assert service["x-trust-boundary"] is True
    assert service["data"] == [{"flow": "bi-directional", "classification": "confidential"}]
    assert _props(service, "trust_zone") == ["partner"]
    assert "hunter2" not in text
    assert "token=abc" not in text


# --- dependencies ------------------------------------------------------------------------


def test_dependencies_follow_the_relations(estate: Estate) -> None:
    deps = _depends_on(_export(estate))

    assert deps[estate.app.id] == {
        estate.gpt.id,
        estate.openai.id,
        estate.package.id,
        estate.notebook.id,
    }
    assert deps[estate.openai.id] == {estate.gpt.id}
    assert deps[estate.model_file.id] == {estate.dataset.id}
    assert deps[estate.package.id] == set()


def test_dependencies_to_assets_outside_the_bom_are_dropped(estate: Estate) -> None:
    ghost = observe.model("ghost-model", "openai")
    rels = [*estate.relations, observe.relate(estate.app, RelationKind.USES_MODEL, ghost)]

    text = to_cyclonedx_json(estate.assets, rels)
    deps = _depends_on(json.loads(text))

    assert ghost.id not in text
    assert estate.credential.id not in text
    assert all(estate.credential.id not in targets for targets in deps.values())


# --- secrets -----------------------------------------------------------------------------


def test_credentials_are_never_components_and_no_secret_leaks(estate: Estate) -> None:
    text = to_cyclonedx_json(estate.assets, estate.relations, estate.findings)
    doc = json.loads(text)

    assert PLANTED_SECRET not in text
    assert "PLANTED" not in text
    assert estate.credential.name not in text
    refs = set(_by_ref(doc, "components")) | set(_by_ref(doc, "services"))
    assert estate.credential.id not in refs
    assert all(_props(c, "kind") != ["credential"] for c in doc["components"])


def test_credential_finding_affects_the_app_holding_it_with_only_a_fingerprint_prefix(
    estate: Estate,
) -> None:
    vulns = _by_ref(_export(estate), "vulnerabilities")
    cred_finding = estate.findings[0]

    vuln = vulns[cred_finding.id]
    assert vuln["id"] == "AIP-CRED-001"
    assert vuln["affects"] == [{"ref": estate.app.id}]
    fingerprint = estate.credential.attributes["fingerprint"]
    assert _props(vuln, "credential_fingerprint") == [fingerprint[:8]]
    assert fingerprint not in json.dumps(vuln)
    assert _props(vuln, "location") == [f"{estate.app.locations[0]}/main.py:2 (api_key)"]


# --- findings ----------------------------------------------------------------------------


def test_findings_become_vulnerabilities_with_rule_severity_and_triage(estate: Estate) -> None:
    vulns = _by_ref(_export(estate), "vulnerabilities")
    finding = estate.findings[1]

    vuln = vulns[finding.id]
    assert vuln["id"] == "AIP-MODEL-001"
    assert vuln["source"] == {"name": "aiposture"}
    assert vuln["ratings"] == [{"severity": "critical", "source": {"name": "aiposture"}}]
    assert vuln["affects"] == [{"ref": estate.model_file.id}]
    assert vuln["description"] == "Model file can run code when loaded"
    assert vuln["detail"] == "Pickle-based weights."
    assert vuln["analysis"] == {"state": "exploitable"}
    assert _props(vuln, "status") == ["acknowledged"]


def test_findings_on_assets_left_out_are_not_exported(estate: Estate) -> None:
    orphan = Finding.new("a-0000000000000000", "AIP-X-001", "Orphan", Severity.LOW)
    stale_model = estate.gpt.model_copy(update={"stale": True})
    on_stale = Finding.new(stale_model.id, "AIP-X-002", "On a stale model", Severity.LOW)
    assets = [a for a in estate.assets if a.id != estate.gpt.id] + [stale_model]

    doc = json.loads(to_cyclonedx_json(assets, estate.relations, [orphan, on_stale]))

    assert doc.get("vulnerabilities", []) == []


def test_a_finding_given_twice_is_one_vulnerability_with_the_latest_triage(
    estate: Estate,
) -> None:
    first = estate.findings[1]
    later = first.model_copy(update={"status": FindingStatus.RESOLVED})

    text = to_cyclonedx_json(estate.assets, estate.relations, [first, later])
    vulns = json.loads(text)["vulnerabilities"]

    assert [v["bom-ref"] for v in vulns] == [first.id]
    assert vulns[0]["analysis"] == {"state": "resolved"}


def test_findings_on_a_stale_credential_are_left_out_unless_asked(estate: Estate) -> None:
    stale_cred = estate.credential.model_copy(update={"stale": True})
    assets = [stale_cred if a.id == stale_cred.id else a for a in estate.assets]
    cred_finding = estate.findings[0]

    default = json.loads(to_cyclonedx_json(assets, estate.relations, [cred_finding]))
    everything = json.loads(
        to_cyclonedx_json(assets, estate.relations, [cred_finding], include_stale=True)
    )

    assert default.get("vulnerabilities", []) == []
    assert [v["bom-ref"] for v in everything["vulnerabilities"]] == [cred_finding.id]


# --- stale -------------------------------------------------------------------------------


def test_stale_assets_relations_and_findings_are_excluded_unless_asked(estate: Estate) -> None:
    stale_gpt = estate.gpt.model_copy(update={"stale": True})
    stale_rel = observe.relate(estate.app, RelationKind.USES_MODEL, estate.hf_model)
    stale_rel = stale_rel.model_copy(update={"stale": True})
    stale_finding = Finding.new(estate.app.id, "AIP-APP-001", "Old", Severity.MEDIUM).model_copy(
        update={"stale": True}
    )
    assets = [stale_gpt if a.id == estate.gpt.id else a for a in estate.assets]
    rels = [*estate.relations, stale_rel]
    findings = [*estate.findings, stale_finding]

    default = json.loads(to_cyclonedx_json(assets, rels, findings))
    everything = json.loads(to_cyclonedx_json(assets, rels, findings, include_stale=True))

    assert stale_gpt.id not in _by_ref(default, "components")
    assert _depends_on(default)[estate.app.id].isdisjoint({stale_gpt.id, estate.hf_model.id})
    assert stale_finding.id not in _by_ref(default, "vulnerabilities")
    kept = _by_ref(everything, "components")[stale_gpt.id]
    assert _props(kept, "stale") == ["true"]
    assert {stale_gpt.id, estate.hf_model.id} <= _depends_on(everything)[estate.app.id]
    assert stale_finding.id in _by_ref(everything, "vulnerabilities")
    assert _strict_error(json.dumps(everything)) is None


# --- hostile input -----------------------------------------------------------------------


HOSTILE_NAMES = [
    "<script>alert('x')</script>",
    "he said \"hi\" \\ 'quoted'",
    "line one\nline two\r\n\ttabbed",
    "模型-ü-ñ-🤖-עברית",
    "nul\x00byte and \u2028 separator",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_and_unicode_names_survive_a_validated_round_trip(name: str) -> None:
    model = Asset.new(AssetKind.MODEL, name, provider="no such provider", version=name)
    service = Asset.new(
        AssetKind.ENDPOINT,
        name,
        owner=name,
        tags=[name],
        attributes={"url": f"https://example.com/{name}", "hosts": [name, "*.x.com", 7]},
    )
    app = Asset.new(AssetKind.APPLICATION, name, locations=[name])
    rels = [
        Relation.new(app.id, RelationKind.USES_MODEL, model.id),
        Relation.new(app.id, RelationKind.CALLS_SERVICE, service.id),
    ]
    finding = Finding.new(model.id, name, name, Severity.INFO, description=name)

    text = to_cyclonedx_json([model, service, app], rels, [finding])
    doc = json.loads(text)

    assert _strict_error(text) is None
    comps, services = _by_ref(doc, "components"), _by_ref(doc, "services")
    assert comps[model.id]["name"] == name
    assert comps[model.id]["version"] == name
    assert comps[model.id]["supplier"] == {"name": "no such provider"}
    assert services[service.id]["name"] == name
    assert _props(services[service.id], "owner") == [name]
    assert comps[app.id]["name"] == name
    assert _by_ref(doc, "vulnerabilities")[finding.id]["description"] == name


def test_unusable_urls_are_dropped_not_fatal() -> None:
    svc = Asset.new(
        AssetKind.MCP_SERVER,
        "odd",
        attributes={
            "url": "javascript:alert(1)",
            "base_url": "http://exa mple.com/%zz#a#b",
            "urls": ["http://[::1]:8080/x", "http://host:99999/", None, "http://münchen.example/"],
        },
    )
    text = to_cyclonedx_json([svc], [])
    service = json.loads(text)["services"][0]

    assert service["endpoints"] == ["http://xn--mnchen-3ya.example"]
    assert "x-trust-boundary" not in service


# --- files and objects -------------------------------------------------------------------


def test_write_cyclonedx_writes_a_valid_file_atomically(estate: Estate, tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "aibom.cdx.json"

    written = write_cyclonedx(target, estate.assets, estate.relations, estate.findings)

    assert written == target
    text = target.read_text(encoding="utf-8")
    assert _strict_error(text) is None
    assert json.loads(text)["specVersion"] == "1.6"
    assert sorted(p.name for p in target.parent.iterdir()) == ["aibom.cdx.json"]


def test_write_cyclonedx_reports_an_unwritable_path_as_export_error(
    estate: Estate, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    with pytest.raises(ExportError, match="cannot write"):
        write_cyclonedx(blocker / "bom.json", estate.assets, estate.relations)


def test_build_bom_returns_a_library_bom_with_components_services_and_vulnerabilities(
    estate: Estate,
) -> None:
    serial = UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")

    bom = build_bom(estate.assets, estate.relations, estate.findings, serial_number=serial)

    assert bom.serial_number == serial
    assert {c.bom_ref.value for c in bom.components} == {
        a.id
        for a in estate.assets
        if a.kind
        in {
            AssetKind.MODEL,
            AssetKind.MODEL_FILE,
            AssetKind.DATASET,
            AssetKind.DATASET_INDEX,
            AssetKind.PACKAGE,
            AssetKind.APPLICATION,
            AssetKind.NOTEBOOK,
            AssetKind.AGENT,
        }
    }
    assert len(bom.services) == 4
    assert {v.bom_ref.value for v in bom.vulnerabilities} == {f.id for f in estate.findings}
