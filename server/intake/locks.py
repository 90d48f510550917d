"""One PATCH (or commit, or termination) of an upload at a time, across every server process.

On PostgreSQL a session advisory lock, keyed by the upload id, held on a connection of its own
for as long as the request runs: a second server asking for it is refused at once (the client
hears 423 and retries), and a server killed mid-PATCH loses its connection and so its locks,
letting the station resume through another server straight away. On SQLite (one server
process by design) a set of the ids held in this process, emptied as each request ends, so it
never grows with the number of uploads. Either way the offset is also advanced by
compare-and-set (server.intake.upload_rows.advance), so a lock lost in the middle of a request
cannot make two writers both succeed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
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
    return int.from_bytes(hashlib.sha256(_NAMESPACE + upload_id.encode()).digest()[:8], "big",
                          signed=True)


class UploadLocks:
    def __init__(self, db: Database):
        self.db = db
        self._held: set[str] = set()  # ids held by this process (both backends)

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
        conn: Any = None
        try:
            if self.db.is_postgres:
                conn = await asyncio.to_thread(self._pg_acquire, upload_id)
                if conn is None:
                    raise Busy(busy_message)
            yield
        finally:
            self._held.discard(upload_id)
            if conn is not None:
                await asyncio.shield(asyncio.to_thread(self._pg_release, conn, upload_id))

    def _pg_acquire(self, upload_id: str) -> Any:
        conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": lock_key(upload_id)}).scalar()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return None
        return conn

    def _pg_release(self, conn: Any, upload_id: str) -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(upload_id)})
        except Exception:
            # The connection is broken: it must not go back to the pool still holding the
            # lock (if the server still does); dropping it ends the session and the lock.
            logger.warning("upload %s: could not release its lock; dropping the connection",
                           upload_id)
            conn.invalidate()
        finally:
            conn.close()
