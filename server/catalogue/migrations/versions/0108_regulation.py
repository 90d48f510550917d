"""spot checks (抽查 / 案卷评查) and rectification orders (责令限期整改)

Revision ID: 0108
Revises: 0101
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0108"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("period_from", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("period_to", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("population_sha256", sa.String(length=64), nullable=False),
        sa.Column("pack", sa.String(length=200), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spot_checks_agency_id", "spot_checks", ["agency_id"])
    op.create_table(
        "spot_check_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spot_check_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("scored_by", sa.Integer(), nullable=True),
        sa.Column("scored_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["spot_check_id"], ["spot_checks.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["scored_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spot_check_cases_spot_check_id", "spot_check_cases", ["spot_check_id"])
    op.create_table(
        "rectification_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("spot_check_id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("deadline", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("issued_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("response_by", sa.Integer(), nullable=True),
        sa.Column("response_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["spot_check_id"], ["spot_checks.id"]),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["issued_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["response_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_rectification_orders_spot_check_id", "rectification_orders", ["spot_check_id"]
    )
    op.create_index("ix_rectification_orders_agency_id", "rectification_orders", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_rectification_orders_agency_id", table_name="rectification_orders")
    op.drop_index("ix_rectification_orders_spot_check_id", table_name="rectification_orders")
    op.drop_table("rectification_orders")
    op.drop_index("ix_spot_check_cases_spot_check_id", table_name="spot_check_cases")
    op.drop_table("spot_check_cases")
    op.drop_index("ix_spot_checks_agency_id", table_name="spot_checks")
    op.drop_table("spot_checks")
