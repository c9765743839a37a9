"""Risk: finding lifecycle columns, remediation text and dated risk snapshots.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the lifecycle columns to findings and the risk_snapshots table."""
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("remediation", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("accepted_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "risk_snapshots",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_risk_snapshots_taken_at", "risk_snapshots", ["taken_at"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index("ix_risk_snapshots_taken_at", table_name="risk_snapshots")
    op.drop_table("risk_snapshots")
    with op.batch_alter_table("findings") as batch:
        for name in ("accepted_until", "status_at", "status_by", "status_reason", "remediation"):
            batch.drop_column(name)
