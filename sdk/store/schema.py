"""Tables of the SQL store, as SQLAlchemy Core objects.

This module describes the schema at the head migration; the migrations in
``migrations/versions`` create it (they never import this module, so an old
migration keeps meaning what it meant). Types are portable: the same
definitions work on SQLite and PostgreSQL.

Times are stored in UTC and always come back timezone-aware
(:class:`UTCDateTime`). Text columns replace characters no database accepts
(NUL, unpaired surrogates from undecodable file names) instead of failing a
whole batch (:class:`SafeText`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "METADATA",
    "SafeText",
    "UTCDateTime",
    "alerts",
    "assets",
    "audit_log",
    "clean_text",
    "events",
    "files",
    "findings",
    "json_dumps",
    "json_loads",
    "relations",
    "scan_runs",
    "sightings",
]


def clean_text(value: str) -> str:
    """``value`` with NUL characters and unpaired surrogates replaced.

    Neither can be encoded for PostgreSQL (and surrogates not for SQLite
    either); both only occur in names read from broken or hostile files.
    """
    if value.isascii():
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


_EMPTY_LIST = ("[]", b"[]")
_EMPTY_OBJECT = ("{}", b"{}")


def json_dumps(value: Any) -> str:
    """Serialise a JSON column value (compact; unencodable characters replaced).

    Raises:
        TypeError: ``value`` holds something JSON cannot represent.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return clean_text(text) if not text.isascii() else text


def json_loads(text: str | bytes) -> Any:
    """Deserialise a JSON column value (empty lists and objects without the parser)."""
    if text in _EMPTY_LIST:
        return []
    if text in _EMPTY_OBJECT:
        return {}
    return json.loads(text)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC, returned aware in UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite has no time zones: store the naive UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SafeText(TypeDecorator[str]):
    """Text that never fails to encode (see :func:`clean_text`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return clean_text(value) if value is not None else None


#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

METADATA = MetaData()

assets = Table(
    "assets",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", SafeText(), nullable=False),
    Column("key", SafeText(), nullable=False),
    Column("provider", SafeText(), nullable=True),
    Column("version", SafeText(), nullable=True),
    Column("owner", SafeText(), nullable=True),
    Column("environment", String(16), nullable=False),
    Column("data_sensitivity", String(16), nullable=False),
    Column("sanctioned", String(16), nullable=False),
    Column("tags", JSON(), nullable=False),
    Column("locations", JSON(), nullable=False),
    Column("attributes", JSON(), nullable=False),
    Column("human", JSON(), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("stale", Boolean(), nullable=False),
    Index("ix_assets_kind", "kind"),
)

relations = Table(
    "relations",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("source_id", SafeText(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target_id", SafeText(), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("stale", Boolean(), nullable=False),
    Index("ix_relations_source_id", "source_id"),
    Index("ix_relations_target_id", "target_id"),
)

findings = Table(
    "findings",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("asset_id", SafeText(), nullable=False),
    Column("rule_id", SafeText(), nullable=False),
    Column("title", SafeText(), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("severity_rank", SmallInteger(), nullable=False),
    Column("description", SafeText(), nullable=True),
    Column("fingerprint", SafeText(), nullable=False),
    Column("status", String(32), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("stale", Boolean(), nullable=False),
    Column("tags", JSON(), nullable=False),
    Column("remediation", SafeText(), nullable=True),
    Column("status_reason", SafeText(), nullable=True),
    Column("status_by", SafeText(), nullable=True),
    Column("status_at", UTCDateTime(), nullable=True),
    Column("accepted_until", UTCDateTime(), nullable=True),
    Index("ix_findings_asset_id", "asset_id"),
)

sightings = Table(
    "sightings",
    METADATA,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("source", SafeText(), nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("object_id", SafeText(), nullable=False),
    Column("evidence", JSON(), nullable=False),
    Column("scan_id", SafeText(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Index("ix_sightings_source", "source"),
    Index("ix_sightings_object_id", "object_id"),
)

files = Table(
    "files",
    METADATA,
    Column("path", SafeText(), primary_key=True),
    Column("root", SafeText(), nullable=True),
    Column("size", BigInteger(), nullable=False),
    Column("mtime_ns", BigInteger(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("scanners", SafeText(), nullable=False),
    Column("scan_id", SafeText(), nullable=False),
    Index("ix_files_root", "root"),
)

scan_runs = Table(
    "scan_runs",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Index("ix_scan_runs_started_at", "started_at"),
)

rate_buckets = Table(
    "rate_buckets",
    METADATA,
    Column("key", SafeText(), primary_key=True),
    Column("tokens", Float(), nullable=False),
    Column("updated_at", Float(), nullable=False),  # seconds since the epoch
)

approval_requests = Table(
    "approval_requests",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("action", SafeText(), nullable=False),
    Column("resource", SafeText(), nullable=False),
    Column("requester", SafeText(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Index("ix_approval_requests_status", "status"),
)

events = Table(
    "events",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("principal", SafeText(), nullable=True),
    Column("application", SafeText(), nullable=True),
    Column("model", SafeText(), nullable=True),
    Column("asset_id", SafeText(), nullable=True),
    Column("source", SafeText(), nullable=False),
    Column("text_mode", String(16), nullable=False),  # full | redacted | none
    Column("detections", Integer(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Index("ix_events_at", "at"),
    Index("ix_events_principal", "principal"),
    Index("ix_events_asset_id", "asset_id"),
)

alerts = Table(
    "alerts",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("group_key", SafeText(), nullable=False),
    Column("detector", SafeText(), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("severity_rank", SmallInteger(), nullable=False),
    Column("status", String(32), nullable=False),
    Column("principal", SafeText(), nullable=True),
    Column("model", SafeText(), nullable=True),
    Column("asset_id", SafeText(), nullable=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Index("ix_alerts_group_key", "group_key"),
    Index("ix_alerts_status", "status"),
    Index("ix_alerts_last_seen", "last_seen"),
)

risk_snapshots = Table(
    "risk_snapshots",
    METADATA,
    Column("id", SafeText(), primary_key=True),
    Column("taken_at", UTCDateTime(), nullable=False),
    Column("actor", SafeText(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Index("ix_risk_snapshots_taken_at", "taken_at"),
)

audit_log = Table(
    "audit_log",
    METADATA,
    Column("seq", BigInteger(), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", SafeText(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", SafeText(), nullable=False),
    Column("details", JSON(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
