"""The SQL store through its public API, on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from aiposture.errors import NotFoundError, StoreError
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
    RiskSnapshot,
    Sanctioned,
    ScanCounts,
    ScanRun,
    ScanStatus,
    Sensitivity,
    Severity,
)
from aiposture.store import FileState, SourceUpdate, SQLStore, Store, open_store
from aiposture.store.sql import HEAD_REVISION, alembic_config

ROOT = "/estate"


def ev(path: str, line: int = 1, **kw: object) -> Evidence:
    return Evidence(kind=EvidenceKind.CODE, path=path, line=line, scanner="python_code", **kw)


def model(name: str, path: str | None = None, line: int = 1, **fields: object) -> Asset:
    evidence = [ev(path, line)] if path else []
    fields.setdefault("provider", "openai")
    return Asset.new(AssetKind.MODEL, name, evidence=evidence, **fields)


def app(path: str) -> Asset:
    return Asset.new(AssetKind.APPLICATION, "shop", key="app|/estate/shop", evidence=[ev(path)])


def state(n: int = 1) -> FileState:
    return FileState(
        size=100 + n,
        mtime_ns=1_700_000_000_000_000_000 + n,
        sha256=f"{n:064x}",
        scanners="python_code@1",
    )


def src(name: str, *obs: Asset | Relation | Finding, n: int = 1) -> SourceUpdate:
    return SourceUpdate(f"{ROOT}/{name}", ROOT, list(obs), state(n))


def unchanged(name: str) -> SourceUpdate:
    return SourceUpdate(f"{ROOT}/{name}", ROOT, None, state())


def by_name(store: Store) -> dict[str, Asset]:
    return {a.name: a for a in store.assets()}


# --- opening ---------------------------------------------------------------------


def test_fresh_store_is_migrated_to_the_head_revision(store: SQLStore) -> None:
    with store.engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        count = conn.execute(text("SELECT count(*) FROM assets")).scalar_one()
    assert (
        revision
        == HEAD_REVISION
        == ScriptDirectory.from_config(alembic_config()).get_current_head()
    )
    assert count == 0


def test_a_store_at_an_older_revision_is_migrated_on_open(store_url: str) -> None:
    with open_store(store_url) as s:
        assert isinstance(s, SQLStore)
        engine = s.engine
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            assert "assets" not in inspect(conn).get_table_names()
    with open_store(store_url) as s:
        assert isinstance(s, SQLStore)
        with s.engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert revision == HEAD_REVISION
        s.apply([src("a.py", model("gpt-4o"))], scan_id="s1", actor="t")
        assert s.verify_audit().ok


def test_migrations_run_standalone_from_the_packaged_scripts(tmp_path: Path) -> None:
    # The configuration is built in code, with no alembic.ini on disk.
    url = f"sqlite:///{tmp_path / 'p.db'}"
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")
    with sqlite3.connect(tmp_path / "p.db") as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    with open_store(url) as s:
        s.apply([src("a.py", model("gpt-4o"))], scan_id="s1", actor="t")
        assert [a.name for a in s.assets()] == ["gpt-4o"]


def test_reopening_a_store_keeps_its_data(store_url: str) -> None:
    with open_store(store_url) as s:
        s.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
    with open_store(store_url) as s:
        assert [a.name for a in s.assets()] == ["gpt-4o"]
        assert s.verify_audit().ok


def test_sqlite_connections_use_wal_busy_timeout_foreign_keys_and_normal_sync(
    tmp_path: Path,
) -> None:
    s = open_store(str(tmp_path / "p.db"))
    assert isinstance(s, SQLStore)
    with s.engine.connect() as conn:
        pragmas = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
    s.close()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "synchronous": 1,
    }


def test_bare_path_and_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "posture.db"
    with open_store(str(path)) as s:
        s.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
    assert path.is_file()
    with open_store(f"sqlite:///{path}") as s:
        assert [a.name for a in s.assets()] == ["gpt-4o"]


def test_default_store_is_a_sqlite_file_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with open_store() as s:
        s.apply([src("a.py", model("gpt-4o"))], scan_id="s1", actor="t")
    db = tmp_path / ".aiposture" / "posture.db"
    assert db.is_file()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT name FROM assets").fetchall() == [("gpt-4o",)]


def test_opening_a_path_under_a_file_raises_store_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not-a-dir") as info:
        open_store(str(blocker / "posture.db"))
    assert "cannot create the folder" in str(info.value)


def test_opening_a_directory_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        open_store(str(tmp_path))


def test_opening_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite " * 100)
    with pytest.raises(StoreError, match=r"junk\.db.*not a database"):
        open_store(str(junk))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:hunter2@db/x", "unsupported store URL"),
        ("://nothing", "not a valid store URL"),
        ("   ", "empty"),
    ],
)
def test_garbage_or_unsupported_urls_raise_store_error(url: str, expected: str) -> None:
    with pytest.raises(StoreError, match=expected) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)


def test_unreachable_postgres_raises_store_error_with_password_masked() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://alice:s3cr3t-pw@127.0.0.1:1/posture")
    msg = str(info.value)
    assert "s3cr3t-pw" not in msg
    assert "alice:***@127.0.0.1:1/posture" in msg
    assert "cannot open the store" in msg


@pytest.mark.postgres
def test_postgresql_url_without_driver_uses_psycopg_and_url_hides_password(
    pg_server: object,
) -> None:
    import pg

    assert isinstance(pg_server, pg.PgServer)
    url = pg_server.create_database()
    try:
        # The test server trusts local connections, so any password is accepted.
        plain = make_url(url).set(drivername="postgresql", password="topsecret")
        with open_store(plain.render_as_string(hide_password=False)) as s:
            assert s.url.startswith("postgresql+psycopg://postgres:***@")
            assert "topsecret" not in s.url and "topsecret" not in repr(s)
            s.apply([src("a.py", model("gpt-4o"))], scan_id="s1", actor="t")
            assert len(s.assets()) == 1
    finally:
        pg_server.drop_database(url)


def test_in_memory_sqlite_store_works() -> None:
    with open_store("sqlite://") as s:
        s.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
        assert [a.name for a in s.assets()] == ["gpt-4o"]
        assert s.verify_audit().ok


# --- round trip --------------------------------------------------------------------


def test_assets_relations_and_findings_round_trip_with_evidence(store: Store) -> None:
    full_ev = Evidence(
        kind=EvidenceKind.NOTEBOOK_CELL,
        path="/estate/nb.ipynb",
        line=4,
        column=2,
        cell=3,
        key="model",
        snippet='client.chat(model="gpt-4o")',
        detail="model argument",
        scanner="notebook",
    )
    m = Asset.new(
        AssetKind.MODEL,
        "gpt-4o",
        provider="openai",
        version="2024-08-06",
        locations=["/estate/nb.ipynb"],
        owner="ml-team",
        environment=Environment.PROD,
        data_sensitivity=Sensitivity.CONFIDENTIAL,
        sanctioned=Sanctioned.SANCTIONED,
        tags=["llm", "chat"],
        attributes={"context": 128000, "nested": {"a": [1, 2.5, None, True]}, "ünï": "cödé"},
        evidence=[full_ev],
    )
    a = app("/estate/nb.ipynb")
    r = Relation.new(a.id, RelationKind.USES_MODEL, m.id, evidence=[full_ev])
    f = Finding.new(
        m.id,
        "AIP-X-001",
        "Unpinned model",
        Severity.MEDIUM,
        fingerprint="fp1",
        description="why",
        tags=["t1"],
        evidence=[full_ev],
    )
    stats = store.apply([src("nb.ipynb", m, a, r, f)], scan_id="s1", actor="alice")

    assert sorted(stats.assets_new) == sorted([m.id, a.id])
    assert stats.findings_new == [f.id]
    assert stats.audit_entries == 4
    got = store.asset(m.id)
    for name in (
        "id",
        "kind",
        "name",
        "key",
        "provider",
        "version",
        "locations",
        "owner",
        "environment",
        "data_sensitivity",
        "sanctioned",
        "tags",
        "attributes",
        "stale",
    ):
        assert getattr(got, name) == getattr(m, name), name
    assert got.evidence == [full_ev]
    assert got.first_seen.tzinfo is not None and got.first_seen.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - got.first_seen).total_seconds()) < 60
    [rel] = store.relations()
    assert (rel.id, rel.source_id, rel.kind, rel.target_id, rel.evidence) == (
        r.id,
        a.id,
        r.kind,
        m.id,
        [full_ev],
    )
    [fnd] = store.findings()
    assert (
        fnd.id,
        fnd.asset_id,
        fnd.rule_id,
        fnd.title,
        fnd.severity,
        fnd.description,
        fnd.fingerprint,
        fnd.status,
        fnd.tags,
        fnd.evidence,
    ) == (
        f.id,
        m.id,
        "AIP-X-001",
        "Unpinned model",
        Severity.MEDIUM,
        "why",
        "fp1",
        FindingStatus.OPEN,
        ["t1"],
        [full_ev],
    )
    assert store.assets() == [store.asset(a.id), got]


def test_asset_of_unknown_id_raises_not_found_naming_the_id(store: Store) -> None:
    with pytest.raises(NotFoundError, match="a-doesnotexist"):
        store.asset("a-doesnotexist")


def test_text_databases_reject_is_stored_with_replacement_characters(store: Store) -> None:
    weird_path = "/estate/bad-\udcff-name.py"
    m = model("evil\x00model", weird_path)
    store.apply([src("bad-\udcff-name.py", m)], scan_id="s1", actor="t")
    [got] = store.assets()
    assert got.id == m.id
    assert got.name == "evil\ufffdmodel"
    assert got.evidence[0].path == "/estate/bad-?-name.py"
    assert list(store.file_states(ROOT)) == ["/estate/bad-?-name.py"]


# --- identity and merging --------------------------------------------------------------


def test_same_asset_from_two_sources_is_one_asset_with_evidence_from_both(store: Store) -> None:
    store.apply(
        [
            src("a.py", model("gpt-4o", "/estate/a.py", 3)),
            src("b.py", model("GPT-4o ", "/estate/b.py", 7)),
        ],
        scan_id="s1",
        actor="t",
    )
    assets = store.assets()
    assert len(assets) == 1
    assert [(e.path, e.line) for e in assets[0].evidence] == [
        ("/estate/a.py", 3),
        ("/estate/b.py", 7),
    ]
    assert assets[0].name == "gpt-4o"  # identity fields from the first sighting


def test_rescan_merges_into_stored_asset_with_the_new_scan_refreshing_attributes(
    store: Store,
) -> None:
    first = model(
        "gpt-4o", "/estate/a.py", attributes={"a": 1}, tags=["x"], locations=["/estate/a.py"]
    )
    store.apply([src("a.py", first)], scan_id="s1", actor="t")
    before = store.asset(first.id)
    again = model(
        "gpt-4o",
        "/estate/a.py",
        version="v2",
        environment=Environment.DEV,
        attributes={"a": 99, "b": 2},
        tags=["y"],
        locations=["/estate/b.py"],
    )
    stats = store.apply([src("a.py", again, n=2)], scan_id="s2", actor="t")
    after = store.asset(first.id)
    assert stats.assets_new == []
    assert after.version == "v2"  # filled in: the stored value was empty
    assert after.environment == Environment.DEV  # filled in: the stored value was unknown
    assert after.attributes == {"a": 99, "b": 2}  # the newer scan's values win
    assert after.tags == ["x", "y"]
    assert after.locations == ["/estate/a.py", "/estate/b.py"]
    assert after.first_seen == before.first_seen
    assert after.last_seen > before.last_seen
    updates = [e for e in store.audit_log() if e.action == "asset.update"]
    assert [sorted(e.details["fields"]) for e in updates] == [
        ["attributes", "environment", "locations", "tags", "version"]
    ]
    # The same observation once more changes nothing, so nothing is audited.
    assert store.apply([src("a.py", again, n=3)], scan_id="s3", actor="t").audit_entries == 0


def test_unchanged_source_keeps_its_objects_active_and_marks_them_seen(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py")
    f = Finding.new(m.id, "R1", "t", Severity.LOW, fingerprint="x", evidence=[ev("/estate/a.py")])
    store.apply([src("a.py", m, f), src("b.py")], scan_id="s1", actor="t")
    before = store.asset(m.id)
    stats = store.apply([unchanged("a.py"), unchanged("b.py")], scan_id="s2", actor="t")
    after = store.asset(m.id)
    assert stats.audit_entries == 0 and stats.assets_stale == []
    assert not after.stale
    assert after.evidence == before.evidence
    assert after.last_seen > before.last_seen
    assert store.findings()[0].last_seen > store.findings()[0].first_seen


def test_source_rescanned_with_fewer_observations_makes_the_missing_asset_stale_not_deleted(
    store: Store,
) -> None:
    keep, lose = (
        model("gpt-4o", "/estate/a.py", 1),
        model("claude-3", "/estate/a.py", 2, provider="anthropic"),
    )
    rel = Relation.new(
        keep.id, RelationKind.CALLS_SERVICE, lose.id, evidence=[ev("/estate/a.py", 2)]
    )
    fnd = Finding.new(
        lose.id, "R1", "t", Severity.HIGH, fingerprint="a.py:2", evidence=[ev("/estate/a.py", 2)]
    )
    store.apply([src("a.py", keep, lose, rel, fnd)], scan_id="s1", actor="t")

    stats = store.apply([src("a.py", keep, n=2)], scan_id="s2", actor="t")

    assert stats.assets_stale == [lose.id]
    assets = by_name(store)
    assert assets["claude-3"].stale and not assets["gpt-4o"].stale
    # A stale asset still shows where it was last seen.
    assert [(e.path, e.line) for e in assets["claude-3"].evidence] == [("/estate/a.py", 2)]
    assert store.relations()[0].stale and store.findings()[0].stale
    assert [a.name for a in store.assets(include_stale=False)] == ["gpt-4o"]
    assert store.relations(include_stale=False) == [] and store.findings(include_stale=False) == []
    actions = [e.action for e in store.audit_log(since_seq=4)]
    assert sorted(actions) == ["asset.stale", "finding.stale", "relation.stale"]

    # Seen again: active again, with the new evidence only.
    back = model("claude-3", "/estate/c.py", 9, provider="anthropic")
    stats = store.apply([src("c.py", back)], scan_id="s3", actor="t")
    again = store.asset(lose.id)
    assert stats.assets_new == [] and not again.stale
    assert [(e.path, e.line) for e in again.evidence] == [("/estate/c.py", 9)]
    assert "asset.unstale" in [e.action for e in store.audit_log()]
    assert store.verify_audit().ok


def test_asset_still_seen_in_another_source_stays_active(store: Store) -> None:
    store.apply(
        [
            src("a.py", model("gpt-4o", "/estate/a.py")),
            src("b.py", model("gpt-4o", "/estate/b.py")),
        ],
        scan_id="s1",
        actor="t",
    )
    stats = store.apply([src("a.py", n=2)], scan_id="s2", actor="t")
    [a] = store.assets()
    assert stats.assets_stale == [] and not a.stale
    assert [e.path for e in a.evidence] == ["/estate/b.py"]


def test_gone_source_makes_its_objects_stale_and_forgets_the_file(store: Store) -> None:
    store.apply(
        [src("a.py", model("gpt-4o", "/estate/a.py")), src("b.py", app("/estate/b.py"), n=2)],
        scan_id="s1",
        actor="t",
    )
    assert set(store.file_states(ROOT)) == {"/estate/a.py", "/estate/b.py"}
    stats = store.apply([SourceUpdate("/estate/a.py", ROOT, gone=True)], scan_id="s2", actor="t")
    assets = by_name(store)
    assert stats.assets_stale == [assets["gpt-4o"].id]
    assert assets["gpt-4o"].stale and not assets["shop"].stale
    assert set(store.file_states(ROOT)) == {"/estate/b.py"}


def test_one_batch_may_replace_a_sighting_in_one_source_with_one_in_another(store: Store) -> None:
    store.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
    # The model moved from a.py to b.py within one batch: never stale.
    stats = store.apply(
        [
            SourceUpdate("/estate/a.py", ROOT, gone=True),
            src("b.py", model("gpt-4o", "/estate/b.py"), n=2),
        ],
        scan_id="s2",
        actor="t",
    )
    [a] = store.assets()
    assert stats.assets_stale == [] and not a.stale
    assert [e.path for e in a.evidence] == ["/estate/b.py"]
    assert "asset.stale" not in [e.action for e in store.audit_log()]


# --- human edits -------------------------------------------------------------------------


def test_human_edits_survive_a_rescan(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py", tags=["scanned"])
    store.apply([src("a.py", m)], scan_id="s1", actor="t")
    edited = store.update_asset(
        m.id,
        actor="alice",
        owner="alice",
        environment="prod",
        tags=["reviewed"],
        sanctioned=Sanctioned.SANCTIONED,
    )
    assert (edited.owner, edited.environment, edited.tags, edited.sanctioned) == (
        "alice",
        Environment.PROD,
        ["reviewed"],
        Sanctioned.SANCTIONED,
    )
    rescanned = model(
        "gpt-4o",
        "/estate/a.py",
        owner="scanner-guess",
        environment=Environment.DEV,
        tags=["scanned", "more"],
        sanctioned=Sanctioned.UNSANCTIONED,
        data_sensitivity=Sensitivity.INTERNAL,
    )
    store.apply([src("a.py", rescanned, n=2)], scan_id="s2", actor="t")
    after = store.asset(m.id)
    assert after.owner == "alice"
    assert after.environment == Environment.PROD
    assert after.tags == ["reviewed"]
    assert after.sanctioned == Sanctioned.SANCTIONED
    assert after.data_sensitivity == Sensitivity.INTERNAL  # not set by a human: the scan fills it


def test_a_scan_may_change_what_an_earlier_scan_concluded_but_not_what_a_human_set(
    store: Store,
) -> None:
    # A configuration change (a service newly sanctioned) shows on the next scan ...
    m = model("gpt-4o", "/estate/a.py", sanctioned=Sanctioned.UNSANCTIONED)
    store.apply([src("a.py", m)], scan_id="s1", actor="t")
    again = model("gpt-4o", "/estate/a.py", sanctioned=Sanctioned.SANCTIONED)
    store.apply([src("a.py", again, n=2)], scan_id="s2", actor="t")
    assert store.asset(m.id).sanctioned == Sanctioned.SANCTIONED
    # ... a scan that knows nothing keeps the last conclusion ...
    store.apply([src("a.py", model("gpt-4o", "/estate/a.py"), n=3)], scan_id="s3", actor="t")
    assert store.asset(m.id).sanctioned == Sanctioned.SANCTIONED
    # ... and a human's decision outlives every later scan.
    store.update_asset(m.id, actor="alice", sanctioned=Sanctioned.UNSANCTIONED)
    store.apply([src("a.py", again, n=4)], scan_id="s4", actor="t")
    assert store.asset(m.id).sanctioned == Sanctioned.UNSANCTIONED


def test_a_human_may_clear_a_field_and_a_scan_does_not_refill_it(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py", owner="from-codeowners")
    store.apply([src("a.py", m)], scan_id="s1", actor="t")
    assert store.update_asset(m.id, actor="bob", owner=None).owner is None
    store.apply([src("a.py", m, n=2)], scan_id="s2", actor="t")
    assert store.asset(m.id).owner is None


def test_update_asset_is_audited_with_the_fields_and_values_set(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py")
    store.apply([src("a.py", m)], scan_id="s1", actor="t")
    store.update_asset(m.id, actor="alice", owner="alice", data_sensitivity="restricted")
    last = store.audit_log()[-1]
    assert (last.action, last.actor, last.object_type, last.object_id) == (
        "asset.human_edit",
        "alice",
        "asset",
        m.id,
    )
    assert last.details["fields"] == ["data_sensitivity", "owner"]
    assert last.details["set"] == {"owner": "alice", "data_sensitivity": "restricted"}


def test_update_asset_rejects_fields_a_human_may_not_set(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py")
    store.apply([src("a.py", m)], scan_id="s1", actor="t")
    with pytest.raises(ValueError, match=r"'name'.*not a field a human may set"):
        store.update_asset(m.id, actor="alice", name="renamed")
    with pytest.raises(ValueError, match="environment"):
        store.update_asset(m.id, actor="alice", environment="moon")
    with pytest.raises(ValueError, match="tags"):
        store.update_asset(m.id, actor="alice", tags="not-a-list")
    with pytest.raises(NotFoundError, match="a-missing"):
        store.update_asset("a-missing", actor="alice", owner="x")
    assert store.asset(m.id).environment == Environment.UNKNOWN
    assert [e.action for e in store.audit_log()] == ["asset.create"]


# --- findings -------------------------------------------------------------------------------


def test_finding_status_survives_a_rescan_and_its_change_is_audited(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py")
    f = Finding.new(
        m.id, "R1", "Old title", Severity.LOW, fingerprint="x", evidence=[ev("/estate/a.py")]
    )
    store.apply([src("a.py", m, f)], scan_id="s1", actor="t")
    changed = store.set_finding_status(f.id, FindingStatus.FALSE_POSITIVE, actor="bob")
    assert changed.status == FindingStatus.FALSE_POSITIVE
    rescanned = Finding.new(
        m.id, "R1", "New title", Severity.HIGH, fingerprint="x", evidence=[ev("/estate/a.py")]
    )
    store.apply([src("a.py", m, rescanned, n=2)], scan_id="s2", actor="t")
    [after] = store.findings()
    assert after.status == FindingStatus.FALSE_POSITIVE
    assert (after.title, after.severity) == ("New title", Severity.HIGH)  # the rule's current text
    status_entries = [e for e in store.audit_log() if e.action == "finding.status"]
    assert [(e.actor, e.details) for e in status_entries] == [
        ("bob", {"from": "open", "to": "false_positive"})
    ]


def test_set_finding_status_rejects_unknown_findings_and_statuses(store: Store) -> None:
    m = model("gpt-4o", "/estate/a.py")
    f = Finding.new(m.id, "R1", "t", Severity.LOW, fingerprint="x")
    store.apply([src("a.py", m, f)], scan_id="s1", actor="t")
    with pytest.raises(NotFoundError, match="f-missing"):
        store.set_finding_status("f-missing", FindingStatus.RESOLVED, actor="bob")
    with pytest.raises(ValueError, match="invalid finding status"):
        store.set_finding_status(f.id, "fixed", actor="bob")  # type: ignore[arg-type]
    assert (
        store.set_finding_status(f.id, FindingStatus.OPEN, actor="bob").status == FindingStatus.OPEN
    )
    assert "finding.status" not in [e.action for e in store.audit_log()]


def test_findings_are_sorted_worst_first_then_newest_and_filter_by_severity_and_asset(
    store: Store,
) -> None:
    m1, m2 = model("gpt-4o", "/estate/a.py"), model("o1", "/estate/b.py")
    low = Finding.new(m1.id, "R-low", "low", Severity.LOW, fingerprint="1")
    crit = Finding.new(m1.id, "R-crit", "crit", Severity.CRITICAL, fingerprint="1")
    high_old = Finding.new(m2.id, "R-high", "high old", Severity.HIGH, fingerprint="1")
    store.apply(
        [src("a.py", m1, low, crit), src("b.py", m2, high_old, n=2)], scan_id="s1", actor="t"
    )
    high_new = Finding.new(m2.id, "R-high", "high new", Severity.HIGH, fingerprint="2")
    store.apply([src("c.py", high_new, n=3)], scan_id="s2", actor="t")
    assert [f.title for f in store.findings()] == ["crit", "high new", "high old", "low"]
    assert [f.title for f in store.findings(min_severity=Severity.HIGH)] == [
        "crit",
        "high new",
        "high old",
    ]
    assert [f.title for f in store.findings(asset_id=m1.id)] == ["crit", "low"]


# --- other reads ----------------------------------------------------------------------------------


def test_relations_filter_by_asset_at_either_end(store: Store) -> None:
    a, m, m2 = app("/estate/a.py"), model("gpt-4o", "/estate/a.py"), model("o1", "/estate/a.py")
    r1 = Relation.new(a.id, RelationKind.USES_MODEL, m.id)
    r2 = Relation.new(m.id, RelationKind.TRAINED_ON, m2.id)
    store.apply([src("a.py", a, m, m2, r1, r2)], scan_id="s1", actor="t")
    assert {r.id for r in store.relations(asset_id=m.id)} == {r1.id, r2.id}
    assert [r.id for r in store.relations(asset_id=a.id)] == [r1.id]
    assert [r.id for r in store.relations(asset_id=m2.id)] == [r2.id]


def test_assets_filter_by_kind(store: Store) -> None:
    store.apply(
        [src("a.py", app("/estate/a.py"), model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t"
    )
    assert [a.name for a in store.assets(kind=AssetKind.MODEL)] == ["gpt-4o"]
    assert [a.name for a in store.assets(kind=AssetKind.APPLICATION)] == ["shop"]
    assert store.assets(kind=AssetKind.DATASET) == []


def test_file_states_are_remembered_per_root(store: Store) -> None:
    store.apply(
        [
            src("a.py", n=1),
            SourceUpdate("/other/x.py", "/other", [], state(5)),
            SourceUpdate("env:/py", None, []),
        ],
        scan_id="s1",
        actor="t",
    )
    assert store.file_states(ROOT) == {"/estate/a.py": state(1)}
    assert store.file_states("/other") == {"/other/x.py": state(5)}
    store.apply([SourceUpdate("/estate/a.py", ROOT, None, state(9))], scan_id="s2", actor="t")
    assert store.file_states(ROOT) == {"/estate/a.py": state(9)}


def test_scan_runs_are_saved_updated_and_listed_newest_first(store: Store) -> None:
    old = ScanRun(id="scan-old", roots=["/a"], started_at=datetime(2024, 1, 1, tzinfo=UTC))
    new = ScanRun(
        id="scan-new",
        roots=["/b"],
        scanners=["python_code"],
        started_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    store.save_scan(old)
    store.save_scan(new)
    done = new.model_copy(
        update={
            "status": ScanStatus.COMPLETED,
            "finished_at": datetime(2024, 6, 1, 0, 5, tzinfo=UTC),
            "counts": ScanCounts(files_seen=3, assets_new=2),
        }
    )
    store.save_scan(done)
    runs = store.scans()
    assert [r.id for r in runs] == ["scan-new", "scan-old"]
    assert runs[0] == done and runs[0].duration_s == 300
    assert [r.id for r in store.scans(limit=1)] == ["scan-new"]
    assert [e.action for e in store.audit_log()] == ["scan.save"] * 3


# --- failures ---------------------------------------------------------------------------------


class Unserialisable:
    pass


def test_failed_batch_keeps_nothing_of_itself_and_loses_nothing_stored_before(store: Store) -> None:
    store.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
    entries = store.audit_log()
    bad = model("o1", "/estate/b.py", attributes={"client": Unserialisable()})
    with pytest.raises(StoreError, match=r"scan s2.*nothing of the batch was kept"):
        store.apply(
            [
                src("c.py", model("claude-3", "/estate/c.py"), n=3),
                src("b.py", bad, n=2),
                SourceUpdate("/estate/a.py", ROOT, gone=True),
            ],
            scan_id="s2",
            actor="t",
        )
    assert [(a.name, a.stale) for a in store.assets()] == [("gpt-4o", False)]
    assert set(store.file_states(ROOT)) == {"/estate/a.py"}
    assert store.audit_log() == entries
    assert store.verify_audit().ok


def test_database_failure_in_the_middle_of_a_batch_rolls_all_of_it_back(store: Store) -> None:
    store.apply([src("a.py", model("gpt-4o", "/estate/a.py"))], scan_id="s1", actor="t")
    # Assets and sightings are written before file states; a size no BIGINT
    # holds makes the database refuse the batch only after those writes.
    huge = FileState(size=2**70, mtime_ns=1, sha256="0" * 64, scanners="x@1")
    with pytest.raises(StoreError, match="nothing of the batch was kept"):
        store.apply(
            [
                src("b.py", model("o1", "/estate/b.py")),
                SourceUpdate("/estate/a.py", ROOT, [], huge),
            ],
            scan_id="s2",
            actor="t",
        )
    assets = store.assets()
    assert [(a.name, a.stale, len(a.evidence)) for a in assets] == [("gpt-4o", False, 1)]
    assert store.file_states(ROOT) == {"/estate/a.py": state(1)}
    assert len(store.audit_log()) == 1 and store.verify_audit().ok
    # The store is still usable after the failure.
    assert store.apply(
        [src("b.py", model("o1", "/estate/b.py"))], scan_id="s3", actor="t"
    ).assets_new


# --- scale (speed figures come from `make bench`, not from here) -------------------------------


def _estate(files: int, with_ai_every: int) -> list[SourceUpdate]:
    packages = [
        Asset.new(AssetKind.PACKAGE, f"pkg{i}", key=f"package|pypi|pkg{i}|1") for i in range(50)
    ]
    updates = []
    for i in range(files):
        path = f"{ROOT}/proj{i % 40}/mod{i}.py"
        obs: list[Asset | Relation | Finding] = []
        if i % with_ai_every == 0:
            k = i // with_ai_every
            application = Asset.new(
                AssetKind.APPLICATION,
                f"proj{k % 40}",
                key=f"app|/estate/proj{k % 40}",
                evidence=[ev(path, 1)],
            )
            mdl = model(f"model-{k % 300}", path, 5)
            pkg = packages[k % 50].model_copy(update={"evidence": [ev(path, 2)]})
            rel = Relation.new(
                application.id, RelationKind.USES_MODEL, mdl.id, evidence=[ev(path, 5)]
            )
            obs = [application, mdl, pkg, rel]
        updates.append(SourceUpdate(path, ROOT, obs, state(i)))
    return updates


def test_twenty_thousand_file_scan_and_rescan_keep_every_file_and_asset(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "p.db"))
    updates = _estate(20_000, with_ai_every=10)
    for i in range(0, len(updates), 200):
        store.apply(updates[i : i + 200], scan_id="s1", actor="t")
    rescan = [SourceUpdate(u.source, ROOT, None, u.state) for u in updates]
    for i in range(0, len(rescan), 200):
        store.apply(rescan[i : i + 200], scan_id="s2", actor="t")
    assert len(store.file_states(ROOT)) == 20_000
    assert len(store.assets()) == 40 + 300 + 50
    assert not any(a.stale for a in store.assets())
    assert store.verify_audit().ok
    store.close()


def test_ten_thousand_assets_are_read_with_their_evidence(store: Store) -> None:
    batch = [
        src(f"f{i}.py", *[model(f"m-{i}-{j}", f"/estate/f{i}.py", j) for j in range(10)], n=i)
        for i in range(1000)
    ]
    store.apply(batch, scan_id="s1", actor="t")
    assets = store.assets()
    assert len(assets) == 10_000 and all(len(a.evidence) == 1 for a in assets)


def test_accepting_a_risk_needs_a_reason_and_a_future_expiry_and_keeps_who_when_why(
    store: Store,
) -> None:
    m = model("gpt-4o", "/estate/a.py")
    f = Finding.new(m.id, "R1", "t", Severity.HIGH, fingerprint="x", remediation="Fix it.")
    store.apply([src("a.py", m, f)], scan_id="s1", actor="t")
    soon = datetime.now(UTC) + timedelta(days=30)
    with pytest.raises(ValueError, match="reason"):
        store.set_finding_status(f.id, FindingStatus.ACCEPTED, actor="ann", until=soon)
    with pytest.raises(ValueError, match="expiry"):
        store.set_finding_status(f.id, FindingStatus.ACCEPTED, actor="ann", reason="vendor fix")
    with pytest.raises(ValueError, match="not in the future"):
        store.set_finding_status(
            f.id,
            FindingStatus.ACCEPTED,
            actor="ann",
            reason="vendor fix",
            until=datetime.now(UTC) - timedelta(days=1),
        )
    with pytest.raises(ValueError, match="only an accepted risk"):
        store.set_finding_status(f.id, FindingStatus.RESOLVED, actor="ann", until=soon)

    accepted = store.set_finding_status(
        f.id, FindingStatus.ACCEPTED, actor="ann", reason="vendor fix due in March", until=soon
    )
    assert accepted.status is FindingStatus.ACCEPTED
    assert (accepted.status_by, accepted.status_reason) == ("ann", "vendor fix due in March")
    assert accepted.accepted_until == soon and accepted.status_at is not None
    assert accepted.remediation == "Fix it."
    [entry] = [e for e in store.audit_log() if e.action == "finding.status"]
    assert entry.actor == "ann"
    assert entry.details == {
        "from": "open",
        "to": "accepted",
        "reason": "vendor fix due in March",
        "until": soon.isoformat(),
    }
    # a rescan keeps the acceptance
    store.apply([src("a.py", m, f, n=2)], scan_id="s2", actor="t")
    assert store.findings()[0].status is FindingStatus.ACCEPTED


def test_risk_snapshots_are_stored_newest_first_and_audited(store: Store) -> None:
    first = RiskSnapshot(id="risk-1", taken_at=datetime(2026, 1, 1, tzinfo=UTC), actor="ann")
    second = RiskSnapshot(
        id="risk-2", taken_at=datetime(2026, 2, 1, tzinfo=UTC), actor="bob", rules_run=3
    )
    store.save_snapshot(first)
    store.save_snapshot(second)
    assert [s.id for s in store.snapshots()] == ["risk-2", "risk-1"]
    assert store.snapshots(limit=1)[0] == second
    assert [e.object_id for e in store.audit_log() if e.action == "risk.snapshot"] == [
        "risk-1",
        "risk-2",
    ]
