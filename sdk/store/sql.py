"""The SQL store: SQLite by default, PostgreSQL by URL (SQLAlchemy Core).

Opening a store migrates it to the newest schema (Alembic, configured in
code, so it works from an installed package). Every write runs in one
serialised transaction: on SQLite it starts with ``BEGIN IMMEDIATE`` (the
writer takes the database's write lock before it reads anything), on
PostgreSQL it first takes a transaction-scoped advisory lock. So several
processes can write one store at once without losing an update, and the
audit chain gains entries strictly one after another.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    create_engine,
    event,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from aiposture.errors import NotFoundError, StoreError
from aiposture.models import (
    Asset,
    AssetKind,
    AuditEntry,
    AuditReport,
    Evidence,
    Finding,
    FindingStatus,
    Relation,
    RiskSnapshot,
    ScanRun,
    Severity,
    utcnow,
)
from aiposture.store import schema as t
from aiposture.store.audit import PendingEntry, digest, verify_chain
from aiposture.store.base import ApplyStats, FileState, SourceUpdate, Store
from aiposture.store.batch import (
    ASSET_DATA_FIELDS,
    HUMAN_FIELDS,
    BatchWriter,
    asset_fields,
    write_audit,
)

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "DEFAULT_PATH",
    "HEAD_REVISION",
    "SYSTEM_ACTOR",
    "SQLStore",
    "alembic_config",
    "mask_url",
    "normalise_url",
    "open_store",
]

#: Where the store lives when no URL is given.
DEFAULT_PATH = Path("~/.aiposture/posture.db")
#: The newest schema revision.
HEAD_REVISION = "0004"
#: Actor recorded for changes no person asked for (saving a scan run).
SYSTEM_ACTOR = "aiposture"
#: How long a SQLite writer waits for another one, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Key of the PostgreSQL advisory lock that serialises writers ("aipo").
PG_LOCK_KEY = 0x6169706F

_WRITE = "aiposture_write"
#: What a write can fail with: database errors, and values the driver or JSON
#: cannot represent (raised by the driver before the database sees them).
_WRITE_ERRORS = (SQLAlchemyError, TypeError, ValueError, OverflowError)
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# --- URLs ---------------------------------------------------------------------
_PASSWORD_RE = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^/@:]*:)[^@/]*@")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print or log)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _PASSWORD_RE.sub(r"\g<head>***@", url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def _sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


def _prepare_sqlite_file(path: Path, shown: str) -> Path:
    path = path.expanduser()
    try:
        path = path.resolve()
    except OSError as exc:
        raise StoreError(f"cannot open the store at {shown}: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise StoreError(f"cannot open the store at {shown}: {path} is a directory, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot open the store at {shown}: cannot create the folder {path.parent} "
            f"({exc.strerror or exc}); is a part of that path a file?"
        ) from exc
    return path


def normalise_url(url: str | None) -> URL:
    """The SQLAlchemy URL for a store URL or path (SQLite parent folders are created).

    ``None`` means the SQLite file :data:`DEFAULT_PATH`; a string without
    ``://`` is a SQLite file path; ``sqlite:///path`` and ``sqlite://`` (in
    memory) are SQLite; ``postgresql://`` and ``postgres://`` use psycopg 3.

    Raises:
        StoreError: The URL is malformed, names an unsupported database, or
            the SQLite file's folder cannot be created.
    """
    if url is None:
        return _sqlite_url(_prepare_sqlite_file(DEFAULT_PATH, str(DEFAULT_PATH)))
    raw = url.strip()
    shown = mask_url(raw)
    if not raw:
        raise StoreError("the store URL is empty: give a SQLite path or a database URL")
    if "://" not in raw:
        return _sqlite_url(_prepare_sqlite_file(Path(raw), shown))
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"{shown!r} is not a valid store URL ({exc}); use a file path, "
            "sqlite:///path/to/posture.db or postgresql://user@host/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise StoreError(f"unsupported SQLite driver in {shown}: use sqlite:///path")
        if not parsed.database or parsed.database == ":memory:":
            return URL.create("sqlite", database=":memory:")
        return _sqlite_url(_prepare_sqlite_file(Path(parsed.database), shown))
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    raise StoreError(
        f"unsupported store URL {shown}: aiposture stores in SQLite (a path or sqlite:///path) "
        "or PostgreSQL (postgresql://user@host/db)"
    )


def alembic_config() -> Config:
    """The Alembic configuration of the store, built in code (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    return cfg


# --- engines --------------------------------------------------------------------
def _sqlite_engine(url: URL) -> Engine:
    memory = url.database == ":memory:"
    engine = create_engine(
        url,
        json_serializer=t.json_dumps,
        json_deserializer=t.json_loads,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy: the driver's own BEGIN
        # handling would start writes DEFERRED and skip BEGIN for SELECTs.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                _ensure_wal(cur)
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE, False):
            _begin_immediate(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _ensure_wal(cur: Any) -> None:
    """Switch the database to WAL mode unless it is in it already.

    Changing the mode needs the database to itself and fails at once, without
    waiting, while another connection is busy with it; only the first opener
    of a new file changes it, so the others read the mode and move on.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(0.001, 0.01))  # noqa: S311 - jitter, not security


def _begin_immediate(dbapi_conn: Any) -> None:
    """``BEGIN IMMEDIATE``, retried every few milliseconds until the write lock is ours.

    SQLite's own busy handler backs off to sleeps of 100 ms, so a writer that
    waits on another one committing batch after batch rarely catches the lock
    free and can starve; polling often keeps waits short and roughly fair.

    Raises:
        sqlite3.OperationalError: The lock stayed taken for the whole busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    dbapi_conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.0005, 0.003))  # noqa: S311 - jitter, not security
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _pg_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "options" not in url.query:
        # Sessions in UTC: times come back in UTC, with nothing to convert.
        connect_args["options"] = "-c TimeZone=UTC"
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    try:
        return create_engine(
            url,
            json_serializer=t.json_dumps,
            json_deserializer=t.json_loads,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(
            f"cannot open the store at {mask_url(url.render_as_string(hide_password=False))}: "
            f"the database driver is not installed ({exc}); "
            "install it with: pip install 'aiposture[postgres]'"
        ) from exc


def _reason(exc: BaseException, secret: str | None = None) -> str:
    """A one-line reason for a database error, without SQL, parameters or password."""
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip()
    msg = msg.split("\n[SQL:", 1)[0].split("\n(Background on this error", 1)[0]
    msg = " ".join(msg.split())
    if secret:
        msg = msg.replace(secret, "***")
    return msg or type(exc).__name__


# --- the store ----------------------------------------------------------------
class SQLStore(Store):
    """The :class:`~aiposture.store.base.Store` on SQLite or PostgreSQL.

    Build it with :func:`open_store`. ``url`` is the database URL with any
    password masked.
    """

    def __init__(self, url: URL) -> None:
        """Connect to ``url`` and migrate the schema to the newest revision.

        Raises:
            StoreError: The database cannot be reached, opened or migrated.
        """
        self.url = url.render_as_string(hide_password=True)
        self._password = url.password if isinstance(url.password, str) else None
        self._dialect = url.get_backend_name()
        if self._dialect == "sqlite":
            self._engine = _sqlite_engine(url)
        else:
            self._engine = _pg_engine(url)
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"SQLStore({self.url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for maintenance and tests; writes belong in methods)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    # --- transactions -----------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A serialised write transaction (committed on success, rolled back on error)."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                if self._dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction that sees one consistent snapshot."""
        with self._engine.connect() as conn, conn.begin():
            if self._dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"{what} in the store at {self.url}: {_reason(exc, self._password)}")

    def _at_head(self) -> bool:
        with self._read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        return [v[0] for v in versions] == [HEAD_REVISION]

    def _migrate(self) -> None:
        """Upgrade the schema to :data:`HEAD_REVISION` (Alembic is only loaded when needed)."""
        try:
            if self._at_head():
                return
            from alembic import command
            from alembic.util.exc import CommandError

            cfg = alembic_config()
            try:
                with self._write() as conn:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            except CommandError as exc:
                raise StoreError(
                    f"cannot migrate the store at {self.url}: {exc} (was it written by a newer "
                    "aiposture?)"
                ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the store at {self.url}: {_reason(exc, self._password)}"
            ) from exc

    # --- scan bookkeeping -------------------------------------------------
    def file_states(self, root: str) -> dict[str, FileState]:
        """Remembered state of every file source under ``root`` (path -> state)."""
        f = t.files
        try:
            with self._read() as conn:
                rows = conn.execute(
                    select(f.c.path, f.c.size, f.c.mtime_ns, f.c.sha256, f.c.scanners).where(
                        f.c.root == root
                    )
                ).all()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read file states", exc) from exc
        return {
            str(r.path): FileState(
                size=int(r.size), mtime_ns=int(r.mtime_ns), sha256=r.sha256, scanners=r.scanners
            )
            for r in rows
        }

    def apply(self, updates: Sequence[SourceUpdate], *, scan_id: str, actor: str) -> ApplyStats:
        """Apply a batch of source updates in one transaction.

        See :meth:`aiposture.store.base.Store.apply`.

        Raises:
            StoreError: The batch could not be written; nothing of it is kept.
        """
        if not updates:
            return ApplyStats()
        try:
            with self._write() as conn:
                return BatchWriter(conn, scan_id=scan_id, actor=actor, now=utcnow()).run(updates)
        except _WRITE_ERRORS as exc:
            raise StoreError(
                f"cannot apply a batch of {len(updates)} source update(s) of scan {scan_id} "
                f"to the store at {self.url}; nothing of the batch was kept: "
                f"{_reason(exc, self._password)}"
            ) from exc

    def save_scan(self, run: ScanRun) -> None:
        """Insert or update a scan run (audited as ``scan.save``)."""
        s = t.scan_runs
        payload = run.model_dump(mode="json")
        try:
            with self._write() as conn:
                exists = conn.execute(select(s.c.id).where(s.c.id == run.id)).first()
                if exists is None:
                    conn.execute(
                        insert(s).values(id=run.id, started_at=run.started_at, payload=payload)
                    )
                else:
                    conn.execute(
                        update(s)
                        .where(s.c.id == run.id)
                        .values(started_at=run.started_at, payload=payload)
                    )
                details = {"status": run.status.value, "digest": digest(payload)}
                write_audit(
                    conn,
                    [PendingEntry(SYSTEM_ACTOR, "scan.save", "scan", run.id, details)],
                    utcnow(),
                )
        except _WRITE_ERRORS as exc:
            raise self._fail(f"cannot save scan run {run.id}", exc) from exc

    def scans(self, limit: int | None = None) -> list[ScanRun]:
        """Scan runs, newest first."""
        s = t.scan_runs
        q = select(s.c.payload).order_by(s.c.started_at.desc(), s.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        try:
            with self._read() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read scan runs", exc) from exc
        return [ScanRun.model_validate(r.payload) for r in rows]

    # --- reads ------------------------------------------------------------
    def _evidence(
        self, conn: Connection, object_type: str, ids: Select[Any] | None
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
        """Evidence of the selected objects: (active by id, inactive by id), in sighting order."""
        s = t.sightings
        q = select(s.c.object_id, s.c.active, s.c.evidence).where(s.c.object_type == object_type)
        if ids is not None:
            q = q.where(s.c.object_id.in_(ids.scalar_subquery()))
        active: dict[str, list[dict[str, Any]]] = {}
        inactive: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(q.order_by(s.c.id)):
            (active if r.active else inactive).setdefault(r.object_id, []).extend(r.evidence)
        return active, inactive

    @staticmethod
    def _pick_evidence(
        oid: str,
        stale: bool,
        active: dict[str, list[dict[str, Any]]],
        inactive: dict[str, list[dict[str, Any]]],
    ) -> list[Evidence]:
        raw = active.get(oid) or (inactive.get(oid, []) if stale else [])
        out: list[Evidence] = []
        seen: set[Any] = set()
        for item in raw:
            ev = Evidence.model_validate(item)
            ident = ev.identity()
            if ident not in seen:
                seen.add(ident)
                out.append(ev)
        return out

    @staticmethod
    def _asset(row: Any, evidence: list[Evidence]) -> Asset:
        m = row._mapping
        return Asset.model_validate(
            {
                **{f: m[f] for f in ASSET_DATA_FIELDS},
                "id": m["id"],
                "first_seen": m["first_seen"],
                "last_seen": m["last_seen"],
                "stale": bool(m["stale"]),
                "evidence": evidence,
            }
        )

    def _load_assets(self, conn: Connection, where: list[Any]) -> list[Asset]:
        a = t.assets
        cols = [a.c[c] for c in (*ASSET_DATA_FIELDS, "id", "first_seen", "last_seen", "stale")]
        q = select(*cols).where(*where).order_by(a.c.kind, a.c.name, a.c.id)
        rows = conn.execute(q).all()
        if not rows:
            return []
        active, inactive = self._evidence(
            conn, "asset", select(a.c.id).where(*where) if where else None
        )
        return [
            self._asset(r, self._pick_evidence(r.id, bool(r.stale), active, inactive)) for r in rows
        ]

    def assets(
        self,
        *,
        kind: AssetKind | None = None,
        include_stale: bool = True,
    ) -> list[Asset]:
        """All assets (with their evidence), optionally of one kind, by kind and name."""
        a = t.assets
        where: list[Any] = []
        if kind is not None:
            where.append(a.c.kind == AssetKind(kind).value)
        if not include_stale:
            where.append(a.c.stale.is_(False))
        try:
            with self._read() as conn:
                return self._load_assets(conn, where)
        except SQLAlchemyError as exc:
            raise self._fail("cannot read assets", exc) from exc

    def asset(self, asset_id: str) -> Asset:
        """One asset by id.

        Raises:
            NotFoundError: No asset has this id.
        """
        try:
            with self._read() as conn:
                found = self._load_assets(conn, [t.assets.c.id == asset_id])
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot read asset {asset_id}", exc) from exc
        if not found:
            raise NotFoundError(f"no asset with id {asset_id!r} in the store")
        return found[0]

    def relations(
        self, *, asset_id: str | None = None, include_stale: bool = True
    ) -> list[Relation]:
        """All relations, or those with ``asset_id`` at either end."""
        r = t.relations
        where: list[Any] = []
        if asset_id is not None:
            where.append(or_(r.c.source_id == asset_id, r.c.target_id == asset_id))
        if not include_stale:
            where.append(r.c.stale.is_(False))
        try:
            with self._read() as conn:
                rows = conn.execute(
                    select(r).where(*where).order_by(r.c.source_id, r.c.kind, r.c.target_id)
                ).all()
                if not rows:
                    return []
                active, inactive = self._evidence(
                    conn, "relation", select(r.c.id).where(*where) if where else None
                )
        except SQLAlchemyError as exc:
            raise self._fail("cannot read relations", exc) from exc
        return [
            Relation.model_validate(
                {
                    "id": row.id,
                    "source_id": row.source_id,
                    "kind": row.kind,
                    "target_id": row.target_id,
                    "first_seen": row.first_seen,
                    "last_seen": row.last_seen,
                    "stale": bool(row.stale),
                    "evidence": self._pick_evidence(row.id, bool(row.stale), active, inactive),
                }
            )
            for row in rows
        ]

    @staticmethod
    def _finding(row: Any, evidence: list[Evidence]) -> Finding:
        return Finding.model_validate(
            {
                "id": row.id,
                "asset_id": row.asset_id,
                "rule_id": row.rule_id,
                "title": row.title,
                "severity": row.severity,
                "description": row.description,
                "fingerprint": row.fingerprint,
                "status": row.status,
                "first_seen": row.first_seen,
                "last_seen": row.last_seen,
                "stale": bool(row.stale),
                "tags": row.tags,
                "evidence": evidence,
                "remediation": row.remediation,
                "status_reason": row.status_reason,
                "status_by": row.status_by,
                "status_at": row.status_at,
                "accepted_until": row.accepted_until,
            }
        )

    def _load_findings(self, conn: Connection, where: list[Any]) -> list[Finding]:
        f = t.findings
        rows = conn.execute(
            select(f)
            .where(*where)
            .order_by(f.c.severity_rank.desc(), f.c.first_seen.desc(), f.c.id)
        ).all()
        if not rows:
            return []
        active, inactive = self._evidence(
            conn, "finding", select(f.c.id).where(*where) if where else None
        )
        return [
            self._finding(r, self._pick_evidence(r.id, bool(r.stale), active, inactive))
            for r in rows
        ]

    def findings(
        self,
        *,
        asset_id: str | None = None,
        min_severity: Severity | None = None,
        include_stale: bool = True,
    ) -> list[Finding]:
        """Findings, worst severity first, then newest first."""
        f = t.findings
        where: list[Any] = []
        if asset_id is not None:
            where.append(f.c.asset_id == asset_id)
        if min_severity is not None:
            where.append(f.c.severity_rank >= Severity(min_severity).rank)
        if not include_stale:
            where.append(f.c.stale.is_(False))
        try:
            with self._read() as conn:
                return self._load_findings(conn, where)
        except SQLAlchemyError as exc:
            raise self._fail("cannot read findings", exc) from exc

    # --- human edits ------------------------------------------------------
    @staticmethod
    def _validate_human_fields(fields: dict[str, object]) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(HUMAN_FIELDS))
        if unknown:
            raise ValueError(
                f"{', '.join(repr(u) for u in unknown)}: not a field a human may set "
                f"(allowed: {', '.join(HUMAN_FIELDS)})"
            )
        probe = Asset.new(AssetKind.APPLICATION, "probe")
        for name, value in fields.items():
            try:
                setattr(probe, name, value)
            except ValidationError as exc:
                errors = "; ".join(str(e["msg"]) for e in exc.errors())
                raise ValueError(f"invalid value for {name}: {value!r} ({errors})") from None
        values = asset_fields(probe)
        return {name: values[name] for name in fields}

    def update_asset(self, asset_id: str, *, actor: str, **fields: object) -> Asset:
        """Set human-owned fields (owner, environment, data_sensitivity, sanctioned, tags).

        The fields are remembered as set by a human, so no later scan
        overwrites them. The change is audited as ``asset.human_edit``.

        Raises:
            NotFoundError: No asset has this id.
            ValueError: A field is not one a human may set, or its value is invalid.
        """
        values = self._validate_human_fields(fields)
        a = t.assets
        try:
            with self._write() as conn:
                row = conn.execute(select(a).where(a.c.id == asset_id)).first()
                if row is None:
                    raise NotFoundError(f"no asset with id {asset_id!r} in the store")
                if values:
                    human = sorted(set(row.human or ()) | set(values))
                    data = {f: row._mapping[f] for f in ASSET_DATA_FIELDS} | values
                    conn.execute(update(a).where(a.c.id == asset_id).values(**values, human=human))
                    details = {"fields": sorted(values), "set": values, "digest": digest(data)}
                    write_audit(
                        conn,
                        [PendingEntry(actor, "asset.human_edit", "asset", asset_id, details)],
                        utcnow(),
                    )
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot update asset {asset_id}", exc) from exc
        return self.asset(asset_id)

    def set_finding_status(
        self,
        finding_id: str,
        status: FindingStatus,
        *,
        actor: str,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> Finding:
        """Change a finding's triage status (audited as ``finding.status``; no-op if unchanged).

        Args:
            finding_id: The finding.
            status: The new status.
            actor: Who sets it (recorded on the finding and in the audit log).
            reason: Why; required to accept a risk.
            until: When an accepted risk expires (required to accept, in the future).

        Raises:
            NotFoundError: No finding has this id.
            ValueError: ``status`` is not a finding status, or an acceptance without a
                reason or a future expiry, or an expiry given for another status.
        """
        try:
            new = FindingStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in FindingStatus)
            raise ValueError(f"invalid finding status {status!r} (allowed: {allowed})") from None
        now = utcnow()
        if new is FindingStatus.ACCEPTED:
            if not reason or not reason.strip():
                raise ValueError("accepting a risk needs a reason")
            if until is None:
                raise ValueError("accepting a risk needs an expiry (until)")
            if until.tzinfo is None:
                raise ValueError("the expiry must be timezone-aware")
            if until <= now:
                raise ValueError(f"the expiry {until.isoformat()} is not in the future")
        elif until is not None:
            raise ValueError("only an accepted risk has an expiry")
        f = t.findings
        try:
            with self._write() as conn:
                row = conn.execute(
                    select(f.c.status, f.c.status_reason, f.c.accepted_until).where(
                        f.c.id == finding_id
                    )
                ).first()
                if row is None:
                    raise NotFoundError(f"no finding with id {finding_id!r} in the store")
                changed = (
                    row.status != new.value
                    or (reason is not None and row.status_reason != reason)
                    or row.accepted_until != until
                )
                if changed:
                    conn.execute(
                        update(f)
                        .where(f.c.id == finding_id)
                        .values(
                            status=new.value,
                            status_reason=reason,
                            status_by=actor,
                            status_at=now,
                            accepted_until=until,
                        )
                    )
                    details: dict[str, Any] = {"from": row.status, "to": new.value}
                    if reason is not None:
                        details["reason"] = reason
                    if until is not None:
                        details["until"] = until.isoformat()
                    write_audit(
                        conn,
                        [PendingEntry(actor, "finding.status", "finding", finding_id, details)],
                        now,
                    )
                found = self._load_findings(conn, [f.c.id == finding_id])
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot update finding {finding_id}", exc) from exc
        return found[0]

    # --- risk snapshots -------------------------------------------------------
    def save_snapshot(self, snapshot: RiskSnapshot) -> None:
        """Store a risk snapshot (audited as ``risk.snapshot``)."""
        r = t.risk_snapshots
        payload = snapshot.model_dump(mode="json")
        try:
            with self._write() as conn:
                conn.execute(
                    insert(r).values(
                        id=snapshot.id,
                        taken_at=snapshot.taken_at,
                        actor=snapshot.actor,
                        payload=payload,
                    )
                )
                details = {
                    "assets": len(snapshot.risks),
                    "by_priority": snapshot.by_priority(),
                    "digest": digest(payload),
                }
                write_audit(
                    conn,
                    [
                        PendingEntry(
                            snapshot.actor, "risk.snapshot", "snapshot", snapshot.id, details
                        )
                    ],
                    utcnow(),
                )
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot save risk snapshot {snapshot.id}", exc) from exc

    def snapshots(self, limit: int | None = None) -> list[RiskSnapshot]:
        """Risk snapshots, newest first."""
        r = t.risk_snapshots
        q = select(r.c.payload).order_by(r.c.taken_at.desc(), r.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        try:
            with self._read() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read risk snapshots", exc) from exc
        return [RiskSnapshot.model_validate(row.payload) for row in rows]

    def latest_snapshot_id(self) -> str | None:
        """The id of the newest risk snapshot (None before the first assessment)."""
        r = t.risk_snapshots
        q = select(r.c.id).order_by(r.c.taken_at.desc(), r.c.id.desc()).limit(1)
        try:
            with self._read() as conn:
                return conn.execute(q).scalar()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read risk snapshots", exc) from exc

    def snapshot_data(self, snapshot_id: str) -> dict[str, Any]:
        """A snapshot as stored JSON data, not validated into models (fast for big ones).

        Raises:
            NotFoundError: No snapshot has this id.
        """
        r = t.risk_snapshots
        try:
            with self._read() as conn:
                payload = conn.execute(select(r.c.payload).where(r.c.id == snapshot_id)).scalar()
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot read risk snapshot {snapshot_id}", exc) from exc
        if not isinstance(payload, dict):
            raise NotFoundError(f"no risk snapshot {snapshot_id!r}")
        return payload

    # --- audit ------------------------------------------------------------
    @staticmethod
    def _entry(row: Any) -> AuditEntry:
        return AuditEntry.model_construct(
            seq=int(row.seq),
            at=row.at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            details=row.details if isinstance(row.details, dict) else {},
            prev_hash=row.prev_hash,
            hash=row.hash,
        )

    def audit_log(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries with ``seq`` greater than ``since_seq``, in order."""
        al = t.audit_log
        q = select(al).where(al.c.seq > since_seq).order_by(al.c.seq)
        if limit is not None:
            q = q.limit(limit)
        try:
            with self._read() as conn:
                return [self._entry(r) for r in conn.execute(q)]
        except SQLAlchemyError as exc:
            raise self._fail("cannot read the audit log", exc) from exc

    def append_audit(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the hash-chained audit log (for actions outside the store,
        such as a call to the MCP server)."""
        entry = PendingEntry(actor, action, object_type, object_id, dict(details or {}))
        try:
            with self._write() as conn:
                write_audit(conn, [entry], utcnow())
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot write the audit entry {action} {object_id}", exc) from exc

    def verify_audit(self) -> AuditReport:
        """Recompute the hash chain and report the first broken or missing entry."""
        al = t.audit_log
        try:
            with self._read() as conn:
                result = conn.execution_options(yield_per=2000).execute(
                    select(al).order_by(al.c.seq)
                )
                return verify_chain(self._entry(r) for r in result)
        except SQLAlchemyError as exc:
            raise self._fail("cannot read the audit log", exc) from exc

    def close(self) -> None:
        """Release connections (the store can be opened again with :func:`open_store`)."""
        self._engine.dispose()


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``.

    Args:
        url: ``None`` for the SQLite file ``~/.aiposture/posture.db``; a file
            path or ``sqlite:///path`` for another SQLite file;
            ``postgresql://user:password@host/db`` (psycopg 3) for PostgreSQL.
            The environment is not read here: the caller passes the URL.

    Raises:
        StoreError: The URL is invalid, or the database cannot be reached,
            opened or migrated; the message names the URL, password masked.
    """
    return SQLStore(normalise_url(url))
