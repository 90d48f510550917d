"""jobs queue and renditions

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("lease_until", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_after", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_subject", "jobs", ["subject"])
    op.create_index("ix_jobs_claim", "jobs", ["state", "run_after"])
    op.create_table(
        "renditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["stored_objects.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_renditions_item_id", "renditions", ["item_id"])
    op.create_index("ux_rendition_item_name", "renditions", ["item_id", "name"], unique=True)


def downgrade() -> None:
    op.drop_table("renditions")
    op.drop_table("jobs")
