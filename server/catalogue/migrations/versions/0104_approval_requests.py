"""approvals become requests decided by each named person at server time

Revision ID: 0104
Revises: 0102
Create Date: 2026-12-02

An approval row is now a *request*: `status` (pending, reviewed, approved, rejected),
`decisions` (each named person's decision with opinion and server time), `reviewed_at` and
`decided_at` (server times), and `approved_at` stays null until the approver approves. Rows made
before this revision were recorded as already approved and keep status "approved".
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0104"
down_revision = "0102"
branch_labels = None
depends_on = None

UTC = server.catalogue.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("case_approvals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="approved")
        )
        batch_op.add_column(
            sa.Column("decisions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("reviewed_at", UTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_at", UTC(timezone=True), nullable=True))
        batch_op.alter_column("approved_at", existing_type=UTC(timezone=True), nullable=True)
        batch_op.create_index("ix_case_approvals_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("case_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_case_approvals_status")
        batch_op.alter_column("approved_at", existing_type=UTC(timezone=True), nullable=False)
        batch_op.drop_column("decided_at")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("decisions")
        batch_op.drop_column("status")
