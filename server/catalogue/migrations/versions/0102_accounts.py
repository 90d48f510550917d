"""accounts: per-user token version, ledger throttles

Revision ID: 0102
Revises: 0103
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0102"
down_revision = "0103"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("updated_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "ledger_throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("ledger_throttles")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("token_version")
