"""stateless uploads: the running SHA-256 state and staging reference of a tus upload, and
deployment marks (the id written into a shared staging folder, checked by every server)

Revision ID: 0201
Revises: 0104
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("hash_state", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("staging", sa.Text(), nullable=True))
    op.create_table(
        "deployment_marks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("deployment_marks")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("staging")
        batch.drop_column("hash_state")
