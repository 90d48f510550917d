"""tus uploads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("metadata_raw", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("claimed_sha256", sa.String(length=64), nullable=True),
        sa.Column("server_sha256", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("officer_id", sa.String(length=100), nullable=True),
        sa.Column("station_id", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("case_ref", sa.String(length=200), nullable=True),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("evidence_id", sa.String(length=32), nullable=True),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploads_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_evidence_id"), ["evidence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_expires_at"))
        batch_op.drop_index(batch_op.f("ix_uploads_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_uploads_state"))
        batch_op.drop_index(batch_op.f("ix_uploads_user_id"))
    op.drop_table("uploads")
