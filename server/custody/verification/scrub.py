"""The scheduled fixity scrub: one server process at a time re-verifies on an interval, records
a FIXITY entry and sets the gauges."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from integrity.ledger import FIXITY
from server.catalogue.db import Database
from server.catalogue.models import LedgerRow
from server.custody.verification.report import (
    Report,
    load_tsa_roots,
)
from server.custody.verification.run import record_result, verify_all
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)


# PostgreSQL advisory lock held by the one server process that runs a scheduled scrub.
SCRUB_LOCK = 7_236_372_912


@dataclass
class ScrubMetrics:
    """Gauges on the app's registry describing the last scrub."""

    last_run: Gauge
    last_ok: Gauge
    problems: Gauge
    bytes_checked: Gauge
    duration: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ScrubMetrics:
        return cls(
            Gauge(
                "custodian_fixity_last_run_timestamp_seconds",
                "When the last fixity scrub ended (Unix time)",
                registry=registry,
            ),
            Gauge(
                "custodian_fixity_last_ok",
                "1 when the last fixity scrub found no problem, 0 otherwise",
                registry=registry,
            ),
            Gauge(
                "custodian_fixity_problems",
                "Problems found by the last fixity scrub",
                ["kind"],
                registry=registry,
            ),
            Gauge(
                "custodian_fixity_bytes_checked",
                "Bytes re-hashed by the last fixity scrub",
                registry=registry,
            ),
            Gauge(
                "custodian_fixity_duration_seconds",
                "How long the last fixity scrub took",
                registry=registry,
            ),
        )

    def update(self, report: Report) -> None:
        self.last_run.set(time.time())
        self.last_ok.set(1 if report.ok else 0)
        self.problems.clear()
        self.problems.labels("all").set(len(report.problems))
        for kind, count in report.counts().items():
            self.problems.labels(kind).set(count)
        self.bytes_checked.set(report.bytes_hashed)
        self.duration.set(report.seconds)


def _last_scrub_age(s: Session) -> float | None:
    from integrity.timefmt import parse_rfc3339

    moment = s.scalar(
        select(LedgerRow.time)
        .where(LedgerRow.action == FIXITY)
        .order_by(LedgerRow.seq.desc())
        .limit(1)
    )
    if moment is None:
        return None
    return time.time() - parse_rfc3339(moment).timestamp()


def run_scrub(
    db: Database,
    store: ObjectStore,
    settings: Settings,
    public_keys: Mapping[str, Any],
    *,
    metrics: ScrubMetrics | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> Report | None:
    """One scheduled scrub (blocking): skipped (None) when another process scrubbed within the
    interval or holds the scrub lock; otherwise verify, record a FIXITY entry, set gauges."""
    interval = settings.fixity_interval_seconds
    if not force and interval > 0:
        age = db.call(_last_scrub_age)
        if age is not None and age < interval * 0.9:
            return None
    conn = db.engine.connect() if db.is_postgres else None
    try:
        if conn is not None:
            if not conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": SCRUB_LOCK}
            ).scalar():
                return None
            conn.commit()
        report = verify_all(
            db,
            store,
            public_keys,
            tsa_roots=load_tsa_roots(settings),
            max_bytes_per_second=settings.fixity_max_bytes_per_second,
            cancel=cancel,
        )
        db.call(record_result, report, action=FIXITY)
        if metrics is not None:
            metrics.update(report)
        log = logger.info if report.ok else logger.error
        log(
            "fixity scrub: %d problem(s), %d objects, %d bytes in %.1fs",
            len(report.problems),
            report.objects,
            report.bytes_hashed,
            report.seconds,
        )
        for p in report.problems:
            logger.error("fixity problem [%s] %s", p.kind, p.message)
        return report
    finally:
        if conn is not None:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCRUB_LOCK})
            conn.commit()
            conn.close()
