"""signing keys with validity windows (key rotation)

Revision ID: 0106
Revises: 0105
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0106"
down_revision = "0105"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key_hex", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.String(length=40), nullable=True),
        sa.Column("valid_to", sa.String(length=40), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
        sa.UniqueConstraint("fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
