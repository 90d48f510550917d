"""custody access: evidence unique per agency, deliveries, viewing sessions

Each agency that delivers the same bytes gets its own evidence item over the one stored
object, so the SHA-256 of an item is unique per agency, not globally. Every committed delivery
keeps its dock metadata in `evidence_deliveries` (backfilled from the committed uploads of the
item's own agency). `view_sessions` lets one `view` ledger entry cover a playback session.

Revision ID: 0103
Revises: 0106
Create Date: 2026-12-02
"""

import sqlite3
from typing import cast

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0103"
down_revision = "0106"
branch_labels = None
depends_on = None

UQ_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _sqlite_without_fk(work) -> None:  # type: ignore[no-untyped-def]
    """Run `work` on SQLite with foreign keys off: rebuilding evidence_items (SQLite cannot
    drop a table's inline UNIQUE) drops the old table, which the tables referring to it would
    otherwise refuse. The pragma only takes effect outside a transaction, so the migration's
    transaction is committed up to here, and a new one is begun for what follows."""
    raw = cast(sqlite3.Connection, op.get_bind().connection.dbapi_connection)
    if raw.in_transaction:
        raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("BEGIN IMMEDIATE")
    try:
        work()
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("BEGIN IMMEDIATE")


def _sha256_unique_constraints() -> list[str]:
    insp = sa.inspect(op.get_bind())
    return [uc["name"] for uc in insp.get_unique_constraints("evidence_items")
            if uc["column_names"] == ["sha256"] and uc["name"]]


def upgrade() -> None:
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
        sa.Column("received_at", server.catalogue.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["delivered_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_deliveries_item_id"), ["item_id"], unique=False)

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
    with op.batch_alter_table("view_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_view_sessions_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index("ix_view_session_key", ["user_id", "item_id", "kind", "expires_at"],
                              unique=False)

    # The SHA-256 of an item: unique per agency instead of globally.
    if op.get_bind().dialect.name == "sqlite":
        def rebuild() -> None:
            with op.batch_alter_table("evidence_items", recreate="always",
                                      naming_convention=UQ_CONVENTION) as batch_op:
                batch_op.drop_constraint("uq_evidence_items_sha256", type_="unique")
                batch_op.create_index("ux_evidence_sha256_agency", ["sha256", "agency_id"],
                                      unique=True)

        _sqlite_without_fk(rebuild)
    else:
        for name in _sha256_unique_constraints():
            op.drop_constraint(name, "evidence_items", type_="unique")
        op.create_index("ux_evidence_sha256_agency", "evidence_items", ["sha256", "agency_id"],
                        unique=True)

    # Deliveries so far: every committed upload of the item's own agency. (An upload another
    # agency's duplicate was absorbed into before this revision is not copied onto the item:
    # its dock metadata belongs to the other agency.)
    op.execute(
        """
        INSERT INTO evidence_deliveries (item_id, upload_id, agency_id, delivered_by, filename,
            device_id, officer_id, station_id, recorded_at, case_ref, stage, claimed_sha256,
            first, received_at)
        SELECT u.evidence_id, u.id, u.agency_id, u.user_id, u.filename, u.device_id,
            u.officer_id, u.station_id, u.recorded_at, u.case_ref, u.stage, u.claimed_sha256,
            NOT u.duplicate, u.updated_at
        FROM uploads u JOIN evidence_items e ON e.id = u.evidence_id
        WHERE u.state = 'committed'
          AND (u.agency_id = e.agency_id OR (u.agency_id IS NULL AND e.agency_id IS NULL))
        ORDER BY u.updated_at
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        def rebuild() -> None:
            with op.batch_alter_table("evidence_items", recreate="always") as batch_op:
                batch_op.drop_index("ux_evidence_sha256_agency")
                batch_op.create_unique_constraint("uq_evidence_items_sha256", ["sha256"])

        _sqlite_without_fk(rebuild)
    else:
        op.drop_index("ux_evidence_sha256_agency", table_name="evidence_items")
        op.create_unique_constraint("evidence_items_sha256_key", "evidence_items", ["sha256"])
    with op.batch_alter_table("view_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_view_session_key")
        batch_op.drop_index(batch_op.f("ix_view_sessions_expires_at"))
    op.drop_table("view_sessions")
    with op.batch_alter_table("evidence_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_deliveries_item_id"))
    op.drop_table("evidence_deliveries")
