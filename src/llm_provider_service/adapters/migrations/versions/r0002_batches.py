"""Vendor batches in flight: the batches table, so that a batch's id outlives the worker that submitted it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the table at this revision: later changes get their own revision, never edits here.
TIMESTAMP = sa.DateTime(timezone=True)
OPEN = "phase <> 'ended'"


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("job_ids", sa.JSON, nullable=False),
        sa.Column("vendor_batch_id", sa.String(255), nullable=True),
        sa.Column("vendor_state", sa.String(32), nullable=True),
        sa.Column("poll_owner", sa.String(128), nullable=True),
        sa.Column("poll_lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_index(
        "ix_batches_open", "batches", ["created_at"], postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN)
    )


def downgrade() -> None:
    op.drop_index("ix_batches_open", table_name="batches")
    op.drop_table("batches")
