"""Rate-limited ledger entries for noisy kinds (failed logins): at most N entries per window
per key; the rest are counted, and the next entry written carries that count."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.catalogue.models import LedgerThrottle
from server.custody.ledger import _lock


def admit(s: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> int | None:
    """May one more entry of `key` be written now? Returns the number of entries suppressed
    since the last one written (to put in its details), or None when this one is only
    counted. Runs in the caller's transaction, under the ledger's lock (one writer)."""
    _lock(s)  # serialises with ledger appends, so two processes never race on the row
    row = s.get(LedgerThrottle, key)
    if row is None:
        row = LedgerThrottle(key=key, window_start=now, written=0, suppressed=0)
        s.add(row)
    elif now - row.window_start >= window or now < row.window_start:
        row.window_start = now
        row.written = 0
    if limit and row.written >= limit:
        row.suppressed += 1
        s.flush()
        return None
    suppressed = row.suppressed
    row.written += 1
    row.suppressed = 0
    s.flush()
    return suppressed
