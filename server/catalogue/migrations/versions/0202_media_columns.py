"""media_info split: the duration of an item's recording becomes a typed column

Revision ID: 0202
Revises: 0201
Create Date: 2026-12-02

`evidence_items.duration_s` (seconds, null when unknown) is what case summaries, bookmarks and
filters read; it was queried out of the `media_info` JSON (`probe.duration_s`), which stays for
the rest of the probe, the fallback chain and the photo/text-track details. Backfilled from
that JSON.
"""

import sqlalchemy as sa
from alembic import op

revision = "0202"
down_revision = "0201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
    items = sa.table(
        "evidence_items",
        sa.column("id", sa.String),
        sa.column("media_info", sa.JSON),
        sa.column("duration_s", sa.Float),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(items.c.id, items.c.media_info).where(items.c.media_info.is_not(None))
    ).all()
    for item_id, info in rows:
        probe = (info or {}).get("probe") if isinstance(info, dict) else None
        value = probe.get("duration_s") if isinstance(probe, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            bind.execute(
                items.update().where(items.c.id == item_id).values(duration_s=float(value))
            )


def downgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.drop_column("duration_s")
