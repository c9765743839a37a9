"""The append-only, hash-chained audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    ScanRun,
    ScanStatus,
    Severity,
)
from aiposture.store import FileState, SourceUpdate, SQLStore, Store, open_store

Tamper = Callable[..., None]

SNIPPET = "OPENAI_API_KEY='sk-...redacted...'"


def ev(path: str, line: int) -> Evidence:
    return Evidence(
        kind=EvidenceKind.CODE, path=path, line=line, snippet=SNIPPET, scanner="python_code"
    )


def upd(path: str, *obs: Asset | Relation | Finding) -> SourceUpdate:
    return SourceUpdate(path, "/estate", list(obs), FileState(1, 1, "0" * 64, "python_code@1"))


def realistic_history(store: Store) -> None:
    """Scan, rescan, lose and regain an asset, edit it, triage a finding, save the run."""
    app = Asset.new(
        AssetKind.APPLICATION, "shop", key="app|/estate/shop", evidence=[ev("/estate/a.py", 1)]
    )
    gpt = Asset.new(AssetKind.MODEL, "gpt-4o", provider="openai", evidence=[ev("/estate/a.py", 3)])
    cred = Asset.new(
        AssetKind.CREDENTIAL,
        "openai key (abcd1234)",
        key="credential|abcd1234",
        evidence=[ev("/estate/b.py", 2)],
    )
    rel = Relation.new(app.id, RelationKind.USES_MODEL, gpt.id, evidence=[ev("/estate/a.py", 3)])
    leak = Finding.new(
        cred.id,
        "AIP-CRED-001",
        "Hard-coded key",
        Severity.HIGH,
        fingerprint="b.py:2",
        evidence=[ev("/estate/b.py", 2)],
    )
    run = ScanRun(id="scan-1", roots=["/estate"])
    store.save_scan(run)
    store.apply(
        [upd("/estate/a.py", app, gpt, rel), upd("/estate/b.py", cred, leak)],
        scan_id="scan-1",
        actor="alice",
    )
    store.apply(
        [upd("/estate/a.py", app, rel.model_copy(update={"evidence": []}))],
        scan_id="scan-1",
        actor="alice",
    )
    store.apply(
        [SourceUpdate("/estate/b.py", "/estate", gone=True)], scan_id="scan-1", actor="alice"
    )
    store.apply(
        [upd("/estate/c.py", gpt.model_copy(update={"version": "2024-08-06"}))],
        scan_id="scan-1",
        actor="alice",
    )
    store.update_asset(gpt.id, actor="bob", owner="ml-platform", environment="prod")
    store.set_finding_status(leak.id, FindingStatus.ACKNOWLEDGED, actor="carol")
    store.save_scan(
        run.model_copy(update={"status": ScanStatus.COMPLETED, "finished_at": datetime.now(UTC)})
    )


def recompute(prev_hash: str, entry: dict[str, object]) -> str:
    """The documented hash rule, written independently of the store's code."""
    body = {
        k: entry[k] for k in ("seq", "at", "actor", "action", "object_type", "object_id", "details")
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


@pytest.fixture
def audited(store: Store) -> Store:
    realistic_history(store)
    return store


def test_audit_chain_verifies_after_a_realistic_history(audited: Store) -> None:
    entries = audited.audit_log()
    report = audited.verify_audit()
    assert report.ok and report.entries == len(entries) >= 12
    assert report.first_bad_seq is None and report.problem is None
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == "0" * 64
    prev = "0" * 64
    for e in entries:
        assert e.prev_hash == prev
        as_json = e.model_dump(mode="json")
        as_json["at"] = e.at.astimezone(UTC).isoformat(timespec="microseconds")
        assert recompute(prev, as_json) == e.hash
        assert e.at.tzinfo is not None
        prev = e.hash


def test_every_kind_of_change_is_audited_with_its_actor(audited: Store) -> None:
    seen = {(e.action, e.actor) for e in audited.audit_log()}
    assert {
        ("scan.save", "aiposture"),
        ("asset.create", "alice"),
        ("relation.create", "alice"),
        ("finding.create", "alice"),
        ("asset.stale", "alice"),
        ("finding.stale", "alice"),
        ("asset.unstale", "alice"),
        ("asset.update", "alice"),
        ("asset.human_edit", "bob"),
        ("finding.status", "carol"),
    } <= seen


def test_audit_details_are_small_and_never_hold_evidence(audited: Store) -> None:
    for e in audited.audit_log():
        blob = json.dumps(e.details)
        assert "sk-" not in blob and "redacted" not in blob and "/estate/" not in blob
        assert len(blob) < 600
    creates = [e for e in audited.audit_log() if e.action == "asset.create"]
    assert all(len(e.details["digest"]) == 64 for e in creates)


def test_audit_log_pages_with_since_seq_and_limit(audited: Store) -> None:
    everything = audited.audit_log()
    assert audited.audit_log(since_seq=3, limit=2) == everything[3:5]
    assert audited.audit_log(since_seq=len(everything)) == []


def test_empty_audit_log_verifies(store: Store) -> None:
    assert store.verify_audit().model_dump() == {
        "ok": True,
        "entries": 0,
        "first_bad_seq": None,
        "problem": None,
    }


def test_store_api_has_no_way_to_edit_or_delete_audit_entries() -> None:
    public = {n for n in dir(SQLStore) if not n.startswith("_")}
    # reading, verifying and appending only
    assert {n for n in public if "audit" in n} == {"audit_log", "verify_audit", "append_audit"}


def test_append_audit_extends_the_chain(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "p.db")) as s:
        realistic_history(s)
        before = len(s.audit_log())
        s.append_audit("assistant-a", "mcp.call", "mcp_tool", "list_assets", {"outcome": "ok"})
        entries = s.audit_log()
        assert len(entries) == before + 1
        last = entries[-1]
        assert (last.actor, last.action, last.object_id, last.details) == (
            "assistant-a",
            "mcp.call",
            "list_assets",
            {"outcome": "ok"},
        )
        assert s.verify_audit().ok


# --- the database refuses changes --------------------------------------------------


def test_sqlite_trigger_refuses_update_and_delete_of_audit_entries(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with open_store(str(db)) as s:
        realistic_history(s)
    raw = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM audit_log WHERE seq = 2")
        raw.rollback()
        assert raw.execute("SELECT actor FROM audit_log WHERE seq = 2").fetchone() == ("alice",)
    finally:
        raw.close()


def test_database_refuses_update_and_delete_of_audit_entries(
    audited: Store, store_url: str
) -> None:
    engine = create_engine(store_url)
    try:
        for sql in (
            "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 2",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        engine.dispose()
    assert audited.audit_log(since_seq=1, limit=1)[0].actor == "alice"
    assert audited.verify_audit().ok


# --- tampering after the guard is dropped is detected ----------------------------------


@pytest.fixture
def tamper(audited: Store, store_url: str) -> Iterator[Tamper]:
    """Run raw SQL on the store's database with the append-only guard dropped."""
    engine = create_engine(store_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))

    def run(*statements: str, **params: object) -> None:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql), params)

    yield run
    engine.dispose()


def test_verify_detects_an_edited_entry(audited: Store, tamper: Tamper) -> None:
    tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert "modified" in (report.problem or "")


def test_verify_detects_edited_details(audited: Store, tamper: Tamper) -> None:
    entry = audited.audit_log(since_seq=3, limit=1)[0]
    changed = json.dumps({**entry.details, "extra": 1})
    tamper("UPDATE audit_log SET details = :d WHERE seq = 4", d=changed)
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_verify_detects_a_deleted_entry(audited: Store, tamper: Tamper) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 6")
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 6)
    assert "missing" in (report.problem or "")


def test_verify_detects_a_deleted_entry_hidden_by_renumbering(
    audited: Store, tamper: Tamper
) -> None:
    tamper(
        "DELETE FROM audit_log WHERE seq = 6",
        "UPDATE audit_log SET seq = -seq WHERE seq > 6",
        "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0",
    )
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 6)
    assert "does not link" in (report.problem or "")


def test_verify_detects_a_changed_hash(audited: Store, tamper: Tamper) -> None:
    tamper("UPDATE audit_log SET hash = :h WHERE seq = 3", h="f" * 64)
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_verify_detects_an_edited_entry_whose_hash_was_recomputed(
    audited: Store, tamper: Tamper
) -> None:
    e = audited.audit_log(since_seq=2, limit=1)[0]
    forged = e.model_dump(mode="json") | {
        "actor": "mallory",
        "at": e.at.isoformat(timespec="microseconds"),
    }
    tamper(
        "UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 3",
        h=recompute(e.prev_hash, forged),
    )
    report = audited.verify_audit()
    # Entry 3 is self-consistent now, but entry 4 no longer links to it.
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_verify_detects_reordered_entries(audited: Store, tamper: Tamper) -> None:
    tamper(
        "UPDATE audit_log SET seq = -1 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = -1",
    )
    report = audited.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 4)
