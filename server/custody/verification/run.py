"""The whole verification run, and recording its result in the custody ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import VERIFY, LedgerEntry
from server.catalogue.db import Database
from server.custody.ledger import append
from server.custody.verification.ledger import check_ledger
from server.custody.verification.manifests import check_manifests
from server.custody.verification.objects import check_objects
from server.custody.verification.report import (
    ProgressFn,
    Report,
)
from server.store.base import ObjectStore


def verify_all(
    db: Database,
    store: ObjectStore,
    public_keys: Mapping[str, Any],
    *,
    tsa_roots: bytes | None = None,
    progress: ProgressFn | None = None,
    max_bytes_per_second: int = 0,
    jobs: int = 1,
    cancel: threading.Event | None = None,
) -> Report:
    """Run every check; the report holds every problem found (none: everything holds)."""
    started = time.perf_counter()
    report = Report()
    # Every key the installation has signed with (rotation keeps old public keys).
    public_keys = {**db.call(_catalogue_keys), **dict(public_keys)}
    # Step 1: the ledger and tree heads first (cheap), so a long object pass reports them too.
    check_ledger(db, report, public_keys, tsa_roots=tsa_roots, progress=progress)
    # Step 2: manifests.
    check_manifests(db, report, public_keys, tsa_roots=tsa_roots, progress=progress)
    # Step 3: every stored object, re-hashed.
    check_objects(
        db,
        store,
        report,
        progress=progress,
        max_bytes_per_second=max_bytes_per_second,
        jobs=jobs,
        cancel=cancel,
    )
    report.seconds = time.perf_counter() - started
    return report


def _catalogue_keys(s: Session) -> dict[str, Any]:
    from integrity.signing import public_key_of
    from server.catalogue.models import SigningKeyRow

    return {r.key_id: public_key_of(r.public_key_hex) for r in s.scalars(select(SigningKeyRow))}


def record_result(
    s: Session, report: Report, *, action: str = VERIFY, actor: str = "system"
) -> LedgerEntry:
    """Append the run's result to the custody ledger (in the caller's transaction)."""
    return append(s, actor=actor, action=action, subject="installation", details=report.summary())
