"""Catalogue engine and sessions: SQLite (embedded default) or PostgreSQL, one set of sync
query functions run off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from server.catalogue.outage import OutageLog, classify
from server.settings import Settings

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def make_engine(settings: Settings) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            pool_size=8,
            max_overflow=8,
        )
        busy = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions; the sqlite3 module's implicit BEGIN is disabled.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy)}")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
            # instead of failing with "database is locked" on lock upgrade. Sessions opened
            # for reading only (Database.read) begin DEFERRED: readers never wait for writers.
            if conn.info.get("custodian_readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


# Threads that run catalogue work. Reads and writes have their own pools: a write waits for
# SQLite's write lock (up to the busy timeout) while an ingest or a media job commits, and
# writers waiting for the lock must not take the threads readers need (thread-pool starvation:
# listing evidence would queue behind a view entry waiting for the lock). Eight readers, as
# measured (bench/api_latency.py, 50 clients on a busy 2-core machine): 8 read threads answered
# about twice the requests of 4 (and /healthz sooner), since a read spends much of its wall time
# waiting for a core, not running.
READ_THREADS = 8
WRITE_THREADS = 4


class Database:
    """Owns the engine, a session factory and the thread pools that run queries."""

    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self.engine = engine or make_engine(settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._pool = ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="db")
        self._read_pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="db-read")
        self.outage = OutageLog("catalogue")

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self):  # type: ignore[no-untyped-def]
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as s, s.begin():
            yield s

    @contextmanager
    def read_session(self):  # type: ignore[no-untyped-def]
        """A session for reading only: on SQLite it begins DEFERRED (no write lock), so reads
        proceed while a writer holds the lock. Anything written in it is rolled back."""
        with self.engine.connect() as conn:
            if not self.is_postgres:
                conn.info["custodian_readonly"] = True
            try:
                with self.sessions(bind=conn) as s:  # closed = rolled back
                    yield s
            finally:
                conn.info.pop("custodian_readonly", None)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(session, *args) in one transaction (synchronously). An outage of the
        catalogue (down, restarting, locked past the busy timeout) raises a 503 error
        (server.outage) and is logged once per outage, not once per call."""
        return self._guarded(self.session, fn, args, kwargs)

    def call_read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like call(), in a read-only session."""
        return self._guarded(self.read_session, fn, args, kwargs)

    def _guarded(
        self, opener: Callable[[], Any], fn: Callable[..., T], args: Any, kwargs: Any
    ) -> T:
        try:
            with opener() as s:
                result = fn(s, *args, **kwargs)
        except Exception as exc:
            mapped = classify(exc)
            if mapped is None:
                raise
            self.outage.failed(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        self.outage.ok()
        return result

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(session, *args) in one transaction on the DB thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: self.call(fn, *args, **kwargs))

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read-only fn(session, *args) on the DB thread pool without taking SQLite's
        write lock. fn must not write: its session is rolled back."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._read_pool, lambda: self.call_read(fn, *args, **kwargs)
        )

    def close(self) -> None:
        self._read_pool.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self.engine.dispose()
