"""Initial schema: inventory, sightings, file states, scan runs and the audit chain.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


_SQLITE_GUARDS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
)

_PG_GUARDS = (
    """CREATE FUNCTION aiposture_audit_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
       END
       $$""",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION aiposture_audit_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION aiposture_audit_append_only()""",
)


def upgrade() -> None:
    """Create every table, index and the audit log's append-only guard."""
    op.create_table(
        "assets",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("data_sensitivity", sa.String(16), nullable=False),
        sa.Column("sanctioned", sa.String(16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("locations", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("human", sa.JSON(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("stale", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_assets_kind", "assets", ["kind"])

    op.create_table(
        "relations",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("stale", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_relations_source_id", "relations", ["source_id"])
    op.create_index("ix_relations_target_id", "relations", ["target_id"])

    op.create_table(
        "findings",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("severity_rank", sa.SmallInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
    )
    op.create_index("ix_findings_asset_id", "findings", ["asset_id"])

    op.create_table(
        "sightings",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("scan_id", sa.Text(), nullable=False),
        _ts("seen_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sightings_source", "sightings", ["source"])
    op.create_index("ix_sightings_object_id", "sightings", ["object_id"])

    op.create_table(
        "files",
        sa.Column("path", sa.Text(), primary_key=True),
        sa.Column("root", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("scanners", sa.Text(), nullable=False),
        sa.Column("scan_id", sa.Text(), nullable=False),
    )
    op.create_index("ix_files_root", "files", ["root"])

    op.create_table(
        "scan_runs",
        sa.Column("id", sa.Text(), primary_key=True),
        _ts("started_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_scan_runs_started_at", "scan_runs", ["started_at"])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        _ts("at"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    guards = (
        _SQLITE_GUARDS if dialect == "sqlite" else _PG_GUARDS if dialect == "postgresql" else ()
    )
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS aiposture_audit_append_only()")
    for table in (
        "audit_log",
        "scan_runs",
        "files",
        "sightings",
        "findings",
        "relations",
        "assets",
    ):
        op.drop_table(table)
