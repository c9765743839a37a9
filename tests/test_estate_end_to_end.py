"""The demo estate end to end: every planted asset is found, nothing else, no secret leaks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from aiposture import AssetKind, Posture, RelationKind
from aiposture.demo import Estate, build_estate


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Estate, Posture, Path]:
    base = tmp_path_factory.mktemp("e2e")
    estate = build_estate(base / "estate")
    db = base / "posture.db"
    p = Posture.open(f"sqlite:///{db}", actor="e2e")
    p.discover([estate.root], progress=False)
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
