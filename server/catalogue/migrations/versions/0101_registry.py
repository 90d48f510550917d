"""the officer, device and station registry: assignments, stations, item attributions

Revision ID: 0101
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import server.catalogue.models

revision = "0101"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("officers", sa.Column("unit", sa.String(length=200), nullable=False,
                                        server_default=""))
    op.add_column("officers", sa.Column("status", sa.String(length=20), nullable=False,
                                        server_default="active"))
    op.add_column("officers", sa.Column("left_at", server.catalogue.models.UTCDateTime(), nullable=True))
    op.add_column("officers", sa.Column("created_at", server.catalogue.models.UTCDateTime(), nullable=True))
    op.create_index("ux_officer_agency_certificate", "officers", ["agency_id", "certificate_no"],
                    unique=True, sqlite_where=sa.text("certificate_no != ''"),
                    postgresql_where=sa.text("certificate_no != ''"))
    op.add_column("devices", sa.Column("model", sa.String(length=200), nullable=False,
                                       server_default=""))
    op.add_column("devices", sa.Column("status", sa.String(length=20), nullable=False,
                                       server_default="in_service"))
    op.add_column("devices", sa.Column("created_at", server.catalogue.models.UTCDateTime(), nullable=True))
    op.create_table(
        "device_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", server.catalogue.models.UTCDateTime(), nullable=False),
        sa.Column("valid_to", server.catalogue.models.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_assignments_device_id", "device_assignments", ["device_id"])
    op.create_index("ix_device_assignments_officer_id", "device_assignments", ["officer_id"])
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("last_contact", server.catalogue.models.UTCDateTime(), nullable=True),
        sa.Column("last_heartbeat", server.catalogue.models.UTCDateTime(), nullable=True),
        sa.Column("files_waiting", sa.Integer(), nullable=False),
        sa.Column("bytes_waiting", sa.BigInteger(), nullable=False),
        sa.Column("disk_free", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("agent_version", sa.String(length=100), nullable=False),
        sa.Column("created_at", server.catalogue.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
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
        sa.Column("updated_at", server.catalogue.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index("ix_item_attributions_device_serial", "item_attributions", ["device_serial"])
    op.create_index("ix_item_attributions_officer_id", "item_attributions", ["officer_id"])
    op.create_index("ix_item_attributions_flag", "item_attributions", ["flag"])


def downgrade() -> None:
    op.drop_table("item_attributions")
    op.drop_table("stations")
    op.drop_table("device_assignments")
    op.drop_index("ux_officer_agency_certificate", table_name="officers")
    with op.batch_alter_table("devices") as b:
        b.drop_column("created_at")
        b.drop_column("status")
        b.drop_column("model")
    with op.batch_alter_table("officers") as b:
        b.drop_column("created_at")
        b.drop_column("left_at")
        b.drop_column("status")
        b.drop_column("unit")
