"""cases, stage records, links, approvals, complaints, legal holds, disposal requests

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-27

Numbered 0006 but chained after 0007 (bookmarks), the head when it was written.
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = server.catalogue.models.UTCDateTime


def _fk_user(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("enforcement_type", sa.String(20), nullable=False),
        sa.Column("procedure", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stage", sa.String(30), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("officers", sa.JSON(), nullable=False),
        sa.Column("emergency_start", sa.Boolean(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("stage_history", sa.JSON(), nullable=False),
        sa.Column("opened_at", UTC(timezone=True), nullable=False),
        sa.Column("archived_at", UTC(timezone=True), nullable=True),
        _fk_user("created_by"),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
    )
    op.create_index("ux_case_agency_number", "cases", ["agency_id", "number"], unique=True)
    op.create_index("ix_case_opened", "cases", ["opened_at"])
    op.create_index("ix_case_number", "cases", ["number"])

    op.create_table(
        "case_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("stage", sa.String(30), nullable=False),
        sa.Column("doc_type", sa.String(60), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("end_at", UTC(timezone=True), nullable=True),
        sa.Column("officers", sa.JSON(), nullable=False),
        sa.Column("signature_status", sa.String(20), nullable=False),
        sa.Column("service_method", sa.String(40), nullable=True),
        sa.Column("execution_type", sa.String(40), nullable=True),
        sa.Column("witness", sa.String(200), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("supersedes", sa.String(32), nullable=True),
        _fk_user("created_by"),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
    )
    op.create_index("ix_case_records_case_id", "case_records", ["case_id"])

    op.create_table(
        "case_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("item_id", sa.String(32), sa.ForeignKey("evidence_items.id"), nullable=False),
        sa.Column("stage", sa.String(30), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        _fk_user("linked_by"),
        sa.Column("linked_at", UTC(timezone=True), nullable=False),
        _fk_user("unlinked_by"),
        sa.Column("unlinked_at", UTC(timezone=True), nullable=True),
        sa.Column("unlink_reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_links_case_id", "case_links", ["case_id"])
    op.create_index("ix_case_links_item_id", "case_links", ["item_id"])

    op.create_table(
        "case_approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(30), nullable=False),
        _fk_user("handler_id"),
        _fk_user("reviewer_id"),
        _fk_user("approver_id"),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("approved_at", UTC(timezone=True), nullable=False),
        _fk_user("created_by"),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
    )
    op.create_index("ix_case_approvals_case_id", "case_approvals", ["case_id"])

    op.create_table(
        "case_complaints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("complainant", sa.String(200), nullable=False),
        sa.Column("named", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        _fk_user("created_by"),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
    )
    op.create_index("ix_case_complaints_case_id", "case_complaints", ["case_id"])

    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(32), sa.ForeignKey("evidence_items.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk_user("placed_by"),
        sa.Column("placed_at", UTC(timezone=True), nullable=False),
        _fk_user("released_by"),
        sa.Column("released_at", UTC(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_legal_holds_item_id", "legal_holds", ["item_id"])

    op.create_table(
        "disposal_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("item_id", sa.String(32), sa.ForeignKey("evidence_items.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _fk_user("requested_by", nullable=False),
        sa.Column("requested_at", UTC(timezone=True), nullable=False),
        _fk_user("decided_by"),
        sa.Column("decided_at", UTC(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
    )
    op.create_index("ix_disposal_requests_item_id", "disposal_requests", ["item_id"])


def downgrade() -> None:
    for table in (
        "disposal_requests",
        "legal_holds",
        "case_complaints",
        "case_approvals",
        "case_links",
        "case_records",
        "cases",
    ):
        op.drop_table(table)
