"""The demo estate end to end: every planted asset is found, nothing else, no secret leaks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from aiposture import AssetKind, Posture, RelationKind, Sanctioned, Settings
from aiposture.demo import Estate, build_estate


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Estate, Posture, Path]:
    base = tmp_path_factory.mktemp("e2e")
    estate = build_estate(base / "estate")
    db = base / "posture.db"
    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": list(estate.sanctioned)}}
    )
    p = Posture.open(f"sqlite:///{db}", actor="e2e", config=settings)
    p.discover([estate.root], logs=estate.logs, progress=False)
    yield estate, p, db
    p.close()


def _names(p: Posture, kind: AssetKind) -> set[str]:
    return {a.name for a in p.assets if a.kind is kind}


def test_every_planted_model_is_found(scanned: tuple[Estate, Posture, Path]) -> None:
    estate, p, _ = scanned
    assert estate.models <= _names(p, AssetKind.MODEL)


def test_every_planted_service_package_and_mcp_server_is_found(
    scanned: tuple[Estate, Posture, Path],
) -> None:
    estate, p, _ = scanned
    providers = {a.provider for a in p.assets if a.kind is AssetKind.AI_SERVICE}
    assert estate.services <= providers
    assert estate.packages <= _names(p, AssetKind.PACKAGE)
    assert estate.mcp_servers <= _names(p, AssetKind.MCP_SERVER)
    assert estate.applications <= _names(p, AssetKind.APPLICATION)
    assert estate.notebooks <= _names(p, AssetKind.NOTEBOOK)


def test_files_without_ai_produce_no_asset(scanned: tuple[Estate, Posture, Path]) -> None:
    estate, p, _ = scanned
    non_ai = {str(f) for f in estate.non_ai_files}
    for asset in p.assets:
        for ev in asset.evidence:
            assert ev.path not in non_ai, f"{asset.kind.value} {asset.name} came from {ev.path}"
    assert "billing" not in _names(p, AssetKind.APPLICATION)


def test_both_planted_keys_are_findings(scanned: tuple[Estate, Posture, Path]) -> None:
    _, p, _ = scanned
    rules = {f.rule_id for f in p.findings}
    assert {"AIP-CRED-001", "AIP-CRED-002"} <= rules
    code_finding = next(f for f in p.findings if f.rule_id == "AIP-CRED-001")
    assert code_finding.evidence[0].path and code_finding.evidence[0].path.endswith("settings.py")
    assert code_finding.evidence[0].line == 2


def test_relations_make_a_graph(scanned: tuple[Estate, Posture, Path]) -> None:
    _, p, _ = scanned
    by_id = {a.id: a for a in p.assets}
    edges = {(by_id[r.source_id].name, r.kind, by_id[r.target_id].name) for r in p.relations}
    assert ("support-bot", RelationKind.USES_MODEL, "gpt-4o-mini") in edges
    assert any(
        s == "claims-triage" and k is RelationKind.CALLS_SERVICE and "Anthropic" in t
        for s, k, t in edges
    )


def test_planted_secrets_appear_nowhere_in_the_store_or_exports(
    scanned: tuple[Estate, Posture, Path], tmp_path: Path
) -> None:
    estate, p, db = scanned
    bom = tmp_path / "bom.json"
    p.export_cyclonedx(bom)
    inventory = json.dumps(p.inventory())
    with sqlite3.connect(db) as conn:  # fold the WAL into the main file before reading bytes
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blobs = [db.read_bytes(), bom.read_bytes(), inventory.encode()]
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        blobs.append(wal.read_bytes())
    for secret in estate.secrets:
        for needle in (secret, secret[8:40]):
            for blob in blobs:
                assert needle.encode() not in blob


def test_model_files_are_found_and_only_the_malicious_pickle_is_unsafe(
    scanned: tuple[Estate, Posture, Path],
) -> None:
    estate, p, _ = scanned
    files = {a.name: a for a in p.assets if a.kind is AssetKind.MODEL_FILE}
    assert estate.model_files <= set(files)
    unsafe = [f for f in p.findings if f.rule_id == "AIP-MODEL-001"]
    flagged = {f.asset_id for f in unsafe}
    assert {a.name for a in files.values() if a.id in flagged} == estate.unsafe_model_files
    [finding] = unsafe
    assert "posix.system" in finding.title
    # the same weights cached for two models are one content-addressed asset
    assert len(files["model.safetensors"].locations) == 2


def test_hub_cache_models_carry_revision_and_licence(scanned: tuple[Estate, Posture, Path]) -> None:
    estate, p, _ = scanned
    models = {a.name: a for a in p.assets if a.kind is AssetKind.MODEL}
    assert estate.hub_models <= set(models)
    llama = models["meta-llama/Llama-3.2-1B-Instruct"]
    assert llama.attributes["license"] == "llama3.2"
    assert llama.version is not None and len(llama.version) == 40
    # the cached MiniLM is the model the notebook loads: one asset, both kinds of evidence
    minilm = models["sentence-transformers/all-MiniLM-L6-v2"]
    assert {e.kind.value for e in minilm.evidence} >= {"notebook_cell", "config"}


def test_mcp_configs_give_one_server_per_identity_and_their_findings(
    scanned: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = scanned
    github = [a for a in p.assets if a.kind is AssetKind.MCP_SERVER and a.name == "github"]
    assert len(github) == 1  # configured in Cursor and VS Code: one asset
    assert {e.path.split("/")[-2] for e in github[0].evidence if e.path} == {".cursor", ".vscode"}
    rules = {f.rule_id for f in p.findings}
    assert {"AIP-MCP-001", "AIP-MCP-002", "AIP-MCP-003"} <= rules
    [no_auth] = [f for f in p.findings if f.rule_id == "AIP-MCP-003"]
    assert "kb-search" in no_auth.title


def test_proxy_log_shows_sanctioned_and_shadow_ai(scanned: tuple[Estate, Posture, Path]) -> None:
    estate, p, _ = scanned
    seen = {
        a.attributes.get("service_id", a.provider): a
        for a in p.assets
        if a.kind is AssetKind.AI_SERVICE and any(e.usage for e in a.evidence)
    }
    assert set(seen) == estate.logged_services
    for sid, asset in seen.items():
        expected = Sanctioned.SANCTIONED if sid in estate.sanctioned else Sanctioned.UNSANCTIONED
        assert asset.sanctioned is expected, sid
    shadow = {f.asset_id for f in p.findings if f.rule_id == "AIP-SHADOW-001"}
    assert shadow == {seen[s].id for s in estate.shadow_services}
    # eu.api.openai.com is a subdomain of the sanctioned OpenAI API: no finding
    usage = [e.usage for e in seen["openai"].evidence if e.usage]
    assert sum(u.requests for u in usage) == 3


def test_usage_table_has_one_row_per_service_and_client(
    scanned: tuple[Estate, Posture, Path],
) -> None:
    estate, p, _ = scanned
    df = p.usage()
    assert set(df.service_id) == estate.logged_services
    lee = df[(df.service_id == "chatgpt") & (df.user == "lee")]
    assert lee.requests.tolist() == [2]
    assert lee.bytes_in.tolist() == [182_000 + 2_400_000]
    assert set(df[df.sanctioned == "unsanctioned"].service_id) == estate.shadow_services
    assert df.requests.is_monotonic_decreasing
