"""One PATCH (or commit, or termination) of an upload at a time, across every server process.

On PostgreSQL a session advisory lock keyed by the upload id, taken and released on one
connection this process keeps for its upload locks (one connection however many uploads run,
so stations docking at once do not drain the pool): a second server asking for the lock is
refused at once (the client hears 423 and retries), and a server killed mid-PATCH loses that
connection and so its locks, letting the station resume through another server straight away.
Inside one process (and on SQLite, one server process by design) a set of the ids held here,
emptied as each request ends, so it never grows with the number of uploads. Either way the
offset is also advanced by compare-and-set (server.intake.upload_rows.advance), so a lock
lost with a broken connection cannot make two writers both succeed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text

from server.catalogue.db import Database
from server.http.errors import CustodianError

logger = logging.getLogger(__name__)
_NAMESPACE = b"custodian-upload:"


class Busy(CustodianError):
    status = 423
    code = "upload_busy"


def lock_key(upload_id: str) -> int:
    """A signed 64-bit advisory lock key for an upload id."""
    return int.from_bytes(
        hashlib.sha256(_NAMESPACE + upload_id.encode()).digest()[:8], "big", signed=True
    )


class UploadLocks:
    def __init__(self, db: Database):
        self.db = db
        self._held: set[str] = set()  # ids held by this process (both backends)
        self._conn: Any = None  # PostgreSQL: the session holding this process's locks
        self._mutex = threading.Lock()

    @property
    def held(self) -> int:
        return len(self._held)

    def locked_here(self, upload_id: str) -> bool:
        return upload_id in self._held

    @asynccontextmanager
    async def hold(self, upload_id: str, busy_message: str) -> AsyncIterator[None]:
        """Hold the upload's lock for the block, or raise Busy at once."""
        if upload_id in self._held:
            raise Busy(busy_message)
        self._held.add(upload_id)
        taken = False
        try:
            if self.db.is_postgres:
                taken = await asyncio.to_thread(self._pg, "pg_try_advisory_lock", upload_id)
                if not taken:
                    raise Busy(busy_message)
            yield
        finally:
            self._held.discard(upload_id)
            if taken:
                await asyncio.shield(asyncio.to_thread(self._pg, "pg_advisory_unlock", upload_id))

    def _pg(self, fn: str, upload_id: str) -> bool:
        with self._mutex:
            for attempt in (1, 2):
                try:
                    if self._conn is None:
                        self._conn = self.db.engine.connect().execution_options(
                            isolation_level="AUTOCOMMIT"
                        )
                    return bool(
                        self._conn.execute(
                            text(f"SELECT {fn}(:k)"), {"k": lock_key(upload_id)}
                        ).scalar()
                    )
                except Exception:
                    # The session is gone (and its locks with it): start a new one once.
                    self._drop()
                    if attempt == 2 or fn == "pg_advisory_unlock":
                        if fn == "pg_advisory_unlock":
                            logger.warning("upload %s: lock session lost before release", upload_id)
                            return False
                        raise
            raise AssertionError("unreachable")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        with self._mutex:
            self._drop()
