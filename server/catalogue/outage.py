"""Outages of the catalogue: recognised, answered 503 with Retry-After, logged once per outage.

A database that is down, restarting or (SQLite) busy beyond its timeout is not a bug in the
request: clients (the station agent, the browser) should wait and retry. This module tells such
errors apart from real defects and keeps the log to one line when an outage starts and one when
it ends, however many requests were refused in between.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from server.errors import CustodianError

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5


class CatalogueUnavailable(CustodianError):
    status = 503
    code = "catalogue_unavailable"


class CatalogueBusy(CustodianError):
    status = 503
    code = "catalogue_busy"


def classify(exc: BaseException) -> CustodianError | None:
    """The 503 error that stands for `exc`, or None when `exc` is not an outage."""
    if isinstance(exc, CatalogueUnavailable | CatalogueBusy):
        return exc
    if isinstance(exc, PoolTimeout):
        return CatalogueBusy("the catalogue has no free connection; retry shortly")
    text = str(getattr(exc, "orig", None) or exc).lower()
    if isinstance(exc, OperationalError) and (
        "database is locked" in text or "database is busy" in text
    ):
        return CatalogueBusy("the catalogue is busy; retry shortly")
    if isinstance(exc, DisconnectionError):
        return CatalogueUnavailable("the catalogue cannot be reached; retry shortly")
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    ):
        return CatalogueUnavailable("the catalogue cannot be reached; retry shortly")
    try:  # psycopg raised outside SQLAlchemy's wrapping (e.g. while connecting)
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            return CatalogueUnavailable("the catalogue cannot be reached; retry shortly")
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return None


class OutageLog:
    """One log line when an outage starts, one when it ends (with how many were refused)."""

    def __init__(self, what: str, log: logging.Logger = logger):
        self.what = what
        self.log = log
        self._lock = threading.Lock()
        self.since: float | None = None
        self.refused = 0
        self.outages = 0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.refused += 1
            if self.since is None:
                self.since = time.monotonic()
                self.outages += 1
                self.log.error(
                    "%s unavailable: %s (logged once until it recovers)",
                    self.what,
                    str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300],
                )

    def ok(self) -> None:
        if self.since is None:  # the common case, no lock
            return
        with self._lock:
            if self.since is None:
                return
            self.log.warning(
                "%s available again after %.1f s (%d operations refused)",
                self.what,
                time.monotonic() - self.since,
                self.refused,
            )
            self.since, self.refused = None, 0

    @property
    def down(self) -> bool:
        return self.since is not None
