"""item manifests (signed, versioned)

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-27

Chained after 0005 (jobs and renditions), which was the head when this was written.
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_manifests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    with op.batch_alter_table("item_manifests", schema=None) as batch_op:
        batch_op.create_index("ix_item_manifests_item_id", ["item_id"], unique=False)
        batch_op.create_index("ux_manifest_item_version", ["item_id", "version"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("item_manifests", schema=None) as batch_op:
        batch_op.drop_index("ux_manifest_item_version")
        batch_op.drop_index("ix_item_manifests_item_id")
    op.drop_table("item_manifests")
