"""The access ledger: who looked at what.

Every access that reveals footage or case content leaves a `view` entry in the custody ledger
before the first byte is sent:

- the original (`GET /evidence/{id}/original`): one entry per request; ranged reads (a video
  element seeking in the original) are grouped into one entry per *range session* of that
  user on that item (`view_session_seconds`); a `HEAD` is one entry per request;
- HLS playback: one entry per *playback session*: fetching the playlist starts a session; a
  segment, sprite sheet, thumbnail track, waveform or preview fetched outside a live session
  (the playlist skipped) starts one too; fetches inside a live session ride on its entry;
- a case opened (`GET /cases/{id}`), a package downloaded (server/export.py).

Sessions live in the catalogue (`view_sessions`), so every server process of a deployment
shares them; a short in-process cache saves the catalogue lookup for the segments of a session
this process already knows. View entries are short transactions written by one writer task, and
the entries that arrive while one commits go together in the next (a group commit: one lock and
one fsync for many reviewers starting playback at once); each caller waits for its own entry to
be committed. The access check before it is a read that does not hold SQLite's write lock, and
nothing is streamed inside it.

Permission denials (403, and the 404 that answers for another agency's object) leave an
`access_denied` entry, at most `denial_ledger_limit` per user per `denial_ledger_window_seconds`
(counted in the catalogue, so across processes); the ones over the limit are counted and the
count travels in the user's next denial entry (and in a last entry when the server stops), and
in the metric `custodian_access_denials_suppressed_total`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from integrity.ledger import ACCESS_DENIED, VIEW
from integrity.timefmt import rfc3339
from server.access import Principal
from server.catalogue.db import Database
from server.catalogue.models import LedgerRow, ViewSession, utcnow
from server.custody.ledger import _lock, actor_of, append
from server.isotime import iso
from server.settings import Settings

logger = logging.getLogger(__name__)

PLAYBACK = "playback"
ORIGINAL_RANGE = "original_range"
CACHE_MAX = 50_000  # sessions remembered in-process (each a few hundred bytes)
PRUNE_EVERY_S = 3600.0  # how often finished sessions older than a day are removed
BATCH_MAX = 64  # view entries written in one transaction at most
Key = tuple[int, str, str]


# -- transactions -----------------------------------------------------------------------------
def _append_view(s: Session, who: Principal, subject: str, details: dict[str, Any]) -> int:
    return append(s, actor=actor_of(who), action=VIEW, subject=subject, details=details).seq


def _start_session(
    s: Session,
    who: Principal,
    item_id: str,
    kind: str,
    details: dict[str, Any],
    window: timedelta,
    force: bool,
    prune: bool,
) -> datetime:
    """A live session of (user, item, kind) or, when none (or force), a new one with its entry.
    The ledger lock is taken first, so two processes cannot both start the same session."""
    _lock(s)
    now = utcnow()
    if not force:
        live = s.scalar(
            select(ViewSession.expires_at)
            .where(
                ViewSession.user_id == who.user_id,
                ViewSession.item_id == item_id,
                ViewSession.kind == kind,
                ViewSession.expires_at > now,
            )
            .order_by(ViewSession.expires_at.desc())
            .limit(1)
        )
        if live is not None:
            return live
    until = now + window
    entry = append(
        s,
        actor=actor_of(who),
        action=VIEW,
        subject=f"evidence:{item_id}",
        details={**details, "session": kind, "session_until": iso(until)},
        now=now,
    )
    s.add(
        ViewSession(
            user_id=who.user_id,
            item_id=item_id,
            kind=kind,
            started_at=now,
            expires_at=until,
            ledger_seq=entry.seq,
        )
    )
    if prune:
        s.execute(delete(ViewSession).where(ViewSession.expires_at < now - timedelta(days=1)))
    return until


def _append_denial(
    s: Session,
    who: Principal,
    details: dict[str, Any],
    limit: int,
    window: timedelta,
    force: bool = False,
) -> bool:
    """Ledger one denial unless the user already has `limit` of them in the window."""
    _lock(s)
    subject = f"user:{who.user_id}"
    if not force:
        since = rfc3339(utcnow() - window)
        count = s.scalar(
            select(func.count())
            .select_from(LedgerRow)
            .where(
                LedgerRow.action == ACCESS_DENIED,
                LedgerRow.subject == subject,
                LedgerRow.time >= since,
            )
        )
        if (count or 0) >= limit:
            return False
    append(s, actor=actor_of(who), action=ACCESS_DENIED, subject=subject, details=details)
    return True


def _all(s: Session, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    """Several entries in one transaction, in order (a group commit)."""
    return [fn(s, *args) for fn, args in calls]


# -- the recorder -------------------------------------------------------------------------------
class AccessLedger:
    """Writes view and denial entries for one server process."""

    def __init__(self, settings: Settings, db: Database, suppressed_metric: Counter | None = None):
        self.db = db
        self.window = timedelta(seconds=settings.view_session_seconds)
        self.denial_limit = settings.denial_ledger_limit
        self.denial_window = timedelta(seconds=settings.denial_ledger_window_seconds)
        self._sessions: dict[Key, datetime] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._denials: dict[int, deque[float]] = {}
        self._users: dict[int, Principal] = {}
        self.suppressed: dict[int, int] = {}
        self._metric = suppressed_metric
        self._last_prune = 0.0
        self._queue: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def view(self, who: Principal, subject: str, details: dict[str, Any]) -> int:
        """One `view` entry now (per request); returns its seq."""
        return int(await self._write(_append_view, who, subject, details))

    # -- group commit --------------------------------------------------------------------------
    # View entries are written by one writer task: the entries that arrive while a transaction
    # is committing go together in the next one (one lock, one fsync for all of them). Each
    # caller still waits until its own entry is committed before its first byte is sent.
    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, args, fut))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="view-entries")
        # A caller that goes away does not take the entry out of a transaction in flight.
        return await asyncio.shield(fut)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
                try:
                    results = await self.db.run(_all, [(fn, args) for fn, args, _ in batch])
                except Exception as exc:
                    if len(batch) == 1 or getattr(exc, "status", None) == 503:  # or an outage
                        for _, _, fut in batch:
                            _settle(fut, exc=exc)
                        continue
                    # One failing entry must not fail the others: each in its own transaction.
                    for fn, args, fut in batch:
                        try:
                            _settle(fut, await self.db.run(fn, *args))
                        except Exception as one:
                            _settle(fut, exc=one)
                    continue
                for (_, _, fut), result in zip(batch, results, strict=True):
                    _settle(fut, result)
        finally:
            self._writer = None

    async def session(
        self,
        who: Principal,
        item_id: str,
        kind: str,
        details: dict[str, Any],
        *,
        force: bool = False,
    ) -> None:
        """Make sure a live (user, item, kind) session covers this fetch; `force` starts a new
        one (a playlist fetch is the start of a playback)."""
        key = (who.user_id, item_id, kind)
        if force:  # always a new entry: nothing to wait for (the writer keeps the order)
            self._remember(
                key,
                await self._write(
                    _start_session,
                    who,
                    item_id,
                    kind,
                    details,
                    self.window,
                    True,
                    self._prune_due(),
                ),
            )
            return
        if self._live(key):
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one session start per (user, item, kind) at a time
            if self._live(key):
                return
            until = await self._write(
                _start_session, who, item_id, kind, details, self.window, False, self._prune_due()
            )
            self._remember(key, until)
        if not lock.locked():
            self._locks.pop(key, None)

    def _prune_due(self) -> bool:
        prune = time.monotonic() - self._last_prune > PRUNE_EVERY_S
        if prune:
            self._last_prune = time.monotonic()
        return prune

    def _live(self, key: Key) -> bool:
        until = self._sessions.get(key)
        return until is not None and until > utcnow()

    def _remember(self, key: Key, until: datetime) -> None:
        if len(self._sessions) >= CACHE_MAX:
            now = utcnow()
            for k in [k for k, u in self._sessions.items() if u <= now]:
                del self._sessions[k]
            if len(self._sessions) >= CACHE_MAX:
                self._sessions.clear()  # the catalogue still has them
        self._sessions[key] = until

    async def denied(
        self, who: Principal, status: int, code: str, *, method: str, path: str, address: str
    ) -> None:
        """Ledger a permission denial, rate-limited per user; never fails the request."""
        now = time.monotonic()
        recent = self._denials.setdefault(who.user_id, deque())
        while recent and recent[0] <= now - self.denial_window.total_seconds():
            recent.popleft()
        if len(recent) >= self.denial_limit:
            self._suppress(who, 1)
            return
        recent.append(now)
        carried = self.suppressed.pop(who.user_id, 0)
        details = {
            "method": method,
            "path": path[:300],
            "status": status,
            "code": code,
            "role": who.role,
            "agency_id": who.agency_id,
            "address": address,
            "suppressed_before": carried,
        }
        try:
            written = await self.db.run(
                _append_denial, who, details, self.denial_limit, self.denial_window
            )
        except Exception:  # a busy catalogue must not turn a 403 into a 500
            logger.exception("could not ledger a denial for user %s", who.user_id)
            written = False
        if not written:
            self.suppressed[who.user_id] = self.suppressed.get(who.user_id, 0) + carried
            self._suppress(who, 1)

    def _suppress(self, who: Principal, n: int) -> None:
        self.suppressed[who.user_id] = self.suppressed.get(who.user_id, 0) + n
        self._users[who.user_id] = who
        if self._metric is not None:
            self._metric.inc(n)

    def flush(self) -> None:
        """Ledger the counts of denials not ledgered one by one (when the server stops)."""
        for user_id, n in list(self.suppressed.items()):
            who = self._users.get(user_id)
            if not n or who is None:
                continue
            details = {
                "suppressed_before": n,
                "flush": True,
                "role": who.role,
                "agency_id": who.agency_id,
            }
            try:
                self.db.call(
                    _append_denial, who, details, self.denial_limit, self.denial_window, True
                )
                self.suppressed.pop(user_id, None)
            except Exception:
                logger.exception("could not ledger %d suppressed denials of user %s", n, user_id)


def _settle(
    fut: asyncio.Future[Any], result: Any = None, *, exc: BaseException | None = None
) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
        fut.exception()  # retrieved here too: the caller may have gone away
    else:
        fut.set_result(result)
