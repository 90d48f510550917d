"""evidence list filters: indexes by camera, officer and arrival

Revision ID: 0105
Revises: 0108
Create Date: 2026-12-02
"""

from alembic import op

revision = "0105"
down_revision = "0108"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_evidence_agency_device", "evidence_items", ["agency_id", "device_id"])
    op.create_index("ix_evidence_agency_officer", "evidence_items", ["agency_id", "officer_id"])
    op.create_index("ix_evidence_agency_received", "evidence_items", ["agency_id", "received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_agency_received", table_name="evidence_items")
    op.drop_index("ix_evidence_agency_officer", table_name="evidence_items")
    op.drop_index("ix_evidence_agency_device", table_name="evidence_items")
