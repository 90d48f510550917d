"""The custody ledger in the catalogue: one writer appends, so the hash chain never forks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from integrity.canonical import canonical_json
from integrity.ledger import FIRST_SEQ, GENESIS_PREV, LedgerEntry, entry_hash, make_entry
from server.access import Principal
from server.catalogue.models import LedgerRow, utcnow

logger = logging.getLogger(__name__)

# PostgreSQL advisory lock id serialising appends across every server and worker process.
LEDGER_LOCK = 7_236_372_911


def actor_of(who: Principal | None) -> str:
    """How an actor is named in the ledger."""
    return "system" if who is None else f"user:{who.user_id}:{who.username}"


def _lock(s: Session) -> None:
    """Serialise appends with a lock the database holds until the transaction ends.

    SQLite: our sessions BEGIN IMMEDIATE, so the write lock is already held. PostgreSQL: a
    transaction-scoped advisory lock."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK})


def append(
    s: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> LedgerEntry:
    """Append one entry in the caller's transaction (it commits with the act it records)."""
    _lock(s)
    last = s.execute(
        select(LedgerRow.seq, LedgerRow.entry_hash).order_by(LedgerRow.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (FIRST_SEQ, GENESIS_PREV)
    entry = make_entry(
        seq=seq,
        time=now or utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=prev,
    )
    s.add(
        LedgerRow(
            seq=entry.seq,
            time=entry.time,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            details=canonical_json(dict(details)).decode(),
            details_hash=entry.details_hash,
            prev_hash=entry.prev_hash,
            entry_hash=entry_hash(entry),
        )
    )
    s.flush()
    logger.info("ledger %d %s %s by %s", entry.seq, action, subject, actor)
    return entry


def row_entry(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        details_hash=row.details_hash,
        prev_hash=row.prev_hash,
    )


def row_json(row: LedgerRow) -> dict[str, Any]:
    return {
        **row_entry(row).to_dict(),
        "details": json.loads(row.details),
        "entry_hash": row.entry_hash,
    }


def iter_rows(s: Session, batch: int = 2000) -> Iterator[LedgerRow]:
    """Every row in seq order, in batches (the ledger may be large)."""
    after = 0
    while True:
        rows = list(
            s.scalars(
                select(LedgerRow).where(LedgerRow.seq > after).order_by(LedgerRow.seq).limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
