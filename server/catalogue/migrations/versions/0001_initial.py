"""initial: the whole catalogue schema in one revision

Squashed from the chain 0001 → 0104 (foundation, custody ledger and tree heads, uploads,
integrity, jobs and renditions, cases, bookmarks, exports, registry, regulation, evidence UI,
keys, custody access, accounts, approval requests) before anything was deployed. Generated from
the models and checked against that chain's head on SQLite and PostgreSQL: the same tables,
columns, nullability, keys, indexes and unique constraints, and the same server defaults (the
chain added some columns with a default for the rows existing then; they are kept). The chain
seeded no rows. Only SQLite's spelling of the float columns differs (DOUBLE, as the models
declare, instead of FLOAT; both have REAL affinity).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
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
    op.create_index("ix_jobs_claim", "jobs", ["state", "run_after"], unique=False)
    op.create_index(op.f("ix_jobs_subject"), "jobs", ["subject"], unique=False)
    op.create_table(
        "ledger",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("details_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("entry_hash"),
    )
    op.create_index(op.f("ix_ledger_action"), "ledger", ["action"], unique=False)
    op.create_index(op.f("ix_ledger_subject"), "ledger", ["subject"], unique=False)
    op.create_table(
        "ledger_throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "window_start", server.catalogue.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"], unique=False)
    op.create_index(op.f("ix_login_failures_key"), "login_failures", ["key"], unique=False)
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
    op.create_table(
        "stored_objects",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("derived_from", sa.String(length=64), nullable=True),
        sa.Column(
            "retention_until", server.catalogue.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_tree_heads_size"), "tree_heads", ["size"], unique=False)
    op.create_table(
        "view_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_view_session_key",
        "view_sessions",
        ["user_id", "item_id", "kind", "expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_view_sessions_expires_at"), "view_sessions", ["expires_at"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("enforcement_type", sa.String(length=20), nullable=False),
        sa.Column("procedure", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("officers", sa.JSON(), nullable=False),
        sa.Column("emergency_start", sa.Boolean(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("stage_history", sa.JSON(), nullable=False),
        sa.Column("opened_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_number", "cases", ["number"], unique=False)
    op.create_index("ix_case_opened", "cases", ["opened_at"], unique=False)
    op.create_index("ux_case_agency_number", "cases", ["agency_id", "number"], unique=True)
    op.create_table(
        "evidence_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("original_filename", sa.String(length=500), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("officer_id", sa.String(length=100), nullable=True),
        sa.Column("station_id", sa.String(length=100), nullable=True),
        sa.Column("delivered_by", sa.Integer(), nullable=True),
        sa.Column("claimed_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "received_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("retention_class", sa.String(length=40), nullable=False),
        sa.Column(
            "retention_until", server.catalogue.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("media_info", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["delivered_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_objects.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_agency", "evidence_items", ["agency_id"], unique=False)
    op.create_index(
        "ix_evidence_agency_device", "evidence_items", ["agency_id", "device_id"], unique=False
    )
    op.create_index(
        "ix_evidence_agency_officer", "evidence_items", ["agency_id", "officer_id"], unique=False
    )
    op.create_index(
        "ix_evidence_agency_received",
        "evidence_items",
        ["agency_id", "received_at", "id"],
        unique=False,
    )
    op.create_index("ix_evidence_recorded", "evidence_items", ["recorded_at"], unique=False)
    op.create_index(
        "ux_evidence_sha256_agency", "evidence_items", ["sha256", "agency_id"], unique=True
    )
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("certificate_no", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'active'"), nullable=False
        ),
        sa.Column("left_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(
        "ux_officer_agency_certificate",
        "officers",
        ["agency_id", "certificate_no"],
        unique=True,
        sqlite_where=sa.text("certificate_no != ''"),
        postgresql_where=sa.text("certificate_no != ''"),
    )
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
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_spot_checks_agency_id"), "spot_checks", ["agency_id"], unique=False)
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "last_contact", server.catalogue.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_heartbeat", server.catalogue.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("files_waiting", sa.Integer(), nullable=False),
        sa.Column("bytes_waiting", sa.BigInteger(), nullable=False),
        sa.Column("disk_free", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("agent_version", sa.String(length=100), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
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
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_uploads_evidence_id"), "uploads", ["evidence_id"], unique=False)
    op.create_index(op.f("ix_uploads_expires_at"), "uploads", ["expires_at"], unique=False)
    op.create_index(op.f("ix_uploads_state"), "uploads", ["state"], unique=False)
    op.create_index(op.f("ix_uploads_user_id"), "uploads", ["user_id"], unique=False)
    op.create_table(
        "basket_clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("in_s", sa.Double(), nullable=False),
        sa.Column("out_s", sa.Double(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_basket_clips_case_id"), "basket_clips", ["case_id"], unique=False)
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("time_s", sa.Double(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_bookmarks_item_id"), "bookmarks", ["item_id"], unique=False)
    op.create_table(
        "case_approvals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("approved_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'approved'"), nullable=False
        ),
        sa.Column("decisions", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("reviewed_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_approvals_case_id"), "case_approvals", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_approvals_status"), "case_approvals", ["status"], unique=False)
    op.create_table(
        "case_complaints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column(
            "received_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("complainant", sa.String(length=200), nullable=False),
        sa.Column("named", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_case_complaints_case_id"), "case_complaints", ["case_id"], unique=False
    )
    op.create_table(
        "case_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("linked_by", sa.Integer(), nullable=True),
        sa.Column("linked_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unlinked_by", sa.Integer(), nullable=True),
        sa.Column("unlinked_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unlink_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unlinked_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_links_case_id"), "case_links", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_links_item_id"), "case_links", ["item_id"], unique=False)
    op.create_table(
        "case_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("doc_type", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("officers", sa.JSON(), nullable=False),
        sa.Column("signature_status", sa.String(length=20), nullable=False),
        sa.Column("service_method", sa.String(length=40), nullable=True),
        sa.Column("execution_type", sa.String(length=40), nullable=True),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("supersedes", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_records_case_id"), "case_records", ["case_id"], unique=False)
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'in_service'"), nullable=False
        ),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("serial"),
    )
    op.create_table(
        "disposal_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column(
            "requested_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_disposal_requests_item_id"), "disposal_requests", ["item_id"], unique=False
    )
    op.create_table(
        "evidence_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("delivered_by", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("officer_id", sa.String(length=100), nullable=True),
        sa.Column("station_id", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("case_ref", sa.String(length=200), nullable=True),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("claimed_sha256", sa.String(length=64), nullable=True),
        sa.Column("first", sa.Boolean(), nullable=False),
        sa.Column(
            "received_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["delivered_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_evidence_deliveries_item_id"), "evidence_deliveries", ["item_id"], unique=False
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("purpose", sa.String(length=1000), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=True),
        sa.Column("clips", sa.JSON(), nullable=True),
        sa.Column("watermark", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_by_name", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=True),
        sa.Column("package_path", sa.Text(), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.Column("package_size", sa.BigInteger(), nullable=True),
        sa.Column("verifier_sha256", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_exports_case_id"), "exports", ["case_id"], unique=False)
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
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index(op.f("ix_item_manifests_item_id"), "item_manifests", ["item_id"], unique=False)
    op.create_index(
        "ux_manifest_item_version", "item_manifests", ["item_id", "version"], unique=True
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.Integer(), nullable=True),
        sa.Column("placed_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("released_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["placed_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["released_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_legal_holds_item_id"), "legal_holds", ["item_id"], unique=False)
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
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["response_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["spot_check_id"],
            ["spot_checks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_rectification_orders_agency_id"),
        "rectification_orders",
        ["agency_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_rectification_orders_spot_check_id"),
        "rectification_orders",
        ["spot_check_id"],
        unique=False,
    )
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
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_objects.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_renditions_item_id"), "renditions", ["item_id"], unique=False)
    op.create_index("ux_rendition_item_name", "renditions", ["item_id", "name"], unique=True)
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
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["scored_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["spot_check_id"],
            ["spot_checks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_spot_check_cases_spot_check_id"),
        "spot_check_cases",
        ["spot_check_id"],
        unique=False,
    )
    op.create_table(
        "device_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", server.catalogue.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_device_assignments_device_id"), "device_assignments", ["device_id"], unique=False
    )
    op.create_index(
        op.f("ix_device_assignments_officer_id"), "device_assignments", ["officer_id"], unique=False
    )
    op.create_table(
        "item_attributions",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("device_serial", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("claimed_officer", sa.String(length=100), nullable=True),
        sa.Column("flag", sa.String(length=20), nullable=False),
        sa.Column("updated_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["evidence_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
        ),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        op.f("ix_item_attributions_device_serial"),
        "item_attributions",
        ["device_serial"],
        unique=False,
    )
    op.create_index(op.f("ix_item_attributions_flag"), "item_attributions", ["flag"], unique=False)
    op.create_index(
        op.f("ix_item_attributions_officer_id"), "item_attributions", ["officer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_item_attributions_officer_id"), table_name="item_attributions")
    op.drop_index(op.f("ix_item_attributions_flag"), table_name="item_attributions")
    op.drop_index(op.f("ix_item_attributions_device_serial"), table_name="item_attributions")
    op.drop_table("item_attributions")
    op.drop_index(op.f("ix_device_assignments_officer_id"), table_name="device_assignments")
    op.drop_index(op.f("ix_device_assignments_device_id"), table_name="device_assignments")
    op.drop_table("device_assignments")
    op.drop_index(op.f("ix_spot_check_cases_spot_check_id"), table_name="spot_check_cases")
    op.drop_table("spot_check_cases")
    op.drop_index("ux_rendition_item_name", table_name="renditions")
    op.drop_index(op.f("ix_renditions_item_id"), table_name="renditions")
    op.drop_table("renditions")
    op.drop_index(op.f("ix_rectification_orders_spot_check_id"), table_name="rectification_orders")
    op.drop_index(op.f("ix_rectification_orders_agency_id"), table_name="rectification_orders")
    op.drop_table("rectification_orders")
    op.drop_index(op.f("ix_legal_holds_item_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ux_manifest_item_version", table_name="item_manifests")
    op.drop_index(op.f("ix_item_manifests_item_id"), table_name="item_manifests")
    op.drop_table("item_manifests")
    op.drop_index(op.f("ix_exports_case_id"), table_name="exports")
    op.drop_table("exports")
    op.drop_index(op.f("ix_evidence_deliveries_item_id"), table_name="evidence_deliveries")
    op.drop_table("evidence_deliveries")
    op.drop_index(op.f("ix_disposal_requests_item_id"), table_name="disposal_requests")
    op.drop_table("disposal_requests")
    op.drop_table("devices")
    op.drop_index(op.f("ix_case_records_case_id"), table_name="case_records")
    op.drop_table("case_records")
    op.drop_index(op.f("ix_case_links_item_id"), table_name="case_links")
    op.drop_index(op.f("ix_case_links_case_id"), table_name="case_links")
    op.drop_table("case_links")
    op.drop_index(op.f("ix_case_complaints_case_id"), table_name="case_complaints")
    op.drop_table("case_complaints")
    op.drop_index(op.f("ix_case_approvals_status"), table_name="case_approvals")
    op.drop_index(op.f("ix_case_approvals_case_id"), table_name="case_approvals")
    op.drop_table("case_approvals")
    op.drop_index(op.f("ix_bookmarks_item_id"), table_name="bookmarks")
    op.drop_table("bookmarks")
    op.drop_index(op.f("ix_basket_clips_case_id"), table_name="basket_clips")
    op.drop_table("basket_clips")
    op.drop_index(op.f("ix_uploads_user_id"), table_name="uploads")
    op.drop_index(op.f("ix_uploads_state"), table_name="uploads")
    op.drop_index(op.f("ix_uploads_expires_at"), table_name="uploads")
    op.drop_index(op.f("ix_uploads_evidence_id"), table_name="uploads")
    op.drop_table("uploads")
    op.drop_table("stations")
    op.drop_index(op.f("ix_spot_checks_agency_id"), table_name="spot_checks")
    op.drop_table("spot_checks")
    op.drop_index(
        "ux_officer_agency_certificate",
        table_name="officers",
        sqlite_where=sa.text("certificate_no != ''"),
        postgresql_where=sa.text("certificate_no != ''"),
    )
    op.drop_table("officers")
    op.drop_index("ux_evidence_sha256_agency", table_name="evidence_items")
    op.drop_index("ix_evidence_recorded", table_name="evidence_items")
    op.drop_index("ix_evidence_agency_received", table_name="evidence_items")
    op.drop_index("ix_evidence_agency_officer", table_name="evidence_items")
    op.drop_index("ix_evidence_agency_device", table_name="evidence_items")
    op.drop_index("ix_evidence_agency", table_name="evidence_items")
    op.drop_table("evidence_items")
    op.drop_index("ux_case_agency_number", table_name="cases")
    op.drop_index("ix_case_opened", table_name="cases")
    op.drop_index("ix_case_number", table_name="cases")
    op.drop_table("cases")
    op.drop_table("users")
    op.drop_index(op.f("ix_view_sessions_expires_at"), table_name="view_sessions")
    op.drop_index("ix_view_session_key", table_name="view_sessions")
    op.drop_table("view_sessions")
    op.drop_index(op.f("ix_tree_heads_size"), table_name="tree_heads")
    op.drop_table("tree_heads")
    op.drop_table("stored_objects")
    op.drop_table("signing_keys")
    op.drop_index(op.f("ix_login_failures_key"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_table("ledger_throttles")
    op.drop_index(op.f("ix_ledger_subject"), table_name="ledger")
    op.drop_index(op.f("ix_ledger_action"), table_name="ledger")
    op.drop_table("ledger")
    op.drop_index(op.f("ix_jobs_subject"), table_name="jobs")
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("agencies")
