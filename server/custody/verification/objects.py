"""Verification step: every stored object re-hashed against the catalogue (rate-limited,
in parallel, cancellable)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.errors import (
    MISSING,
    UNEXPECTED,
    ChecksumMismatch,
    Problem,
)
from integrity.hashing import hash_file
from server.catalogue.db import Database
from server.catalogue.models import StoredObject
from server.custody.verification.report import (
    CATALOGUE_MISMATCH,
    Cancelled,
    ProgressFn,
    Report,
    Throttle,
)
from server.http.errors import StoreError
from server.store.base import ObjectStore


def _catalogued_objects(s: Session) -> dict[str, tuple[int, str]]:
    return {
        r[0]: (r[1], r[2])
        for r in s.execute(select(StoredObject.sha256, StoredObject.size, StoredObject.role))
    }


def _location(store: ObjectStore, key: str) -> str:
    return store.location(key)


def _hash_object(store: ObjectStore, key: str, on_bytes: Callable[[int], None]) -> tuple[str, int]:
    """(sha256 hex, size) of one stored object, reading it once in fixed blocks."""
    local_file = store.local_path(key)
    if local_file is not None:
        seen = 0

        def progress(total: int) -> None:
            nonlocal seen
            on_bytes(total - seen)
            seen = total

        digest = hash_file(local_file, progress=progress)["sha256"].hex
        return digest, seen
    h = hashlib.sha256()
    size = 0
    for chunk in store.open_range(key):
        h.update(chunk)
        size += len(chunk)
        on_bytes(len(chunk))
    return h.hexdigest(), size


def check_objects(
    db: Database,
    store: ObjectStore,
    report: Report,
    *,
    progress: ProgressFn | None = None,
    max_bytes_per_second: int = 0,
    jobs: int = 1,
    cancel: threading.Event | None = None,
) -> None:
    """Re-hash every stored object; report missing, changed and unknown (planted) objects."""
    catalogue = db.call(_catalogued_objects)
    try:
        stored = list(store.iter_keys())
    except (OSError, StoreError) as exc:
        report.problems.append(Problem(MISSING, "store", f"the store cannot be listed: {exc}"))
        return
    stored_set = set(stored)
    problems: list[Problem] = []
    try:
        strays = list(store.stray_files())
    except (OSError, StoreError) as exc:
        strays = []
        problems.append(Problem(MISSING, "store", f"the store cannot be walked: {exc}"))
    for path in strays:
        problems.append(
            Problem(
                UNEXPECTED,
                path,
                f"{path} is in the store but is not an object at "
                "its key's place (planted or misplaced file)",
            )
        )
    for key in stored:
        if key not in catalogue:
            problems.append(
                Problem(
                    UNEXPECTED,
                    f"object {key}",
                    f"object {key} at {_location(store, key)} is in the store but not in the "
                    "catalogue (unknown or planted object)",
                )
            )
    for key, (size, role) in sorted(catalogue.items()):
        if key not in stored_set and role == "pending":
            continue  # catalogued by a media job before storing; it stores it when it runs again
        if key not in stored_set:
            problems.append(
                Problem(
                    MISSING,
                    f"object {key}",
                    f"object {key} ({role}, {size} bytes) is in the catalogue but missing from the "
                    f"store (expected at {_location(store, key)}; deleted?)",
                )
            )
    present = [k for k in sorted(catalogue) if k in stored_set]
    total = sum(catalogue[k][0] for k in present)
    throttle = Throttle(max_bytes_per_second)
    lock = threading.Lock()
    done = 0

    def on_bytes(n: int) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():
            raise Cancelled("verification cancelled")
        throttle.consume(n)
        if progress is not None:
            with lock:
                done += n
                progress("objects", done, total)

    def one(key: str) -> tuple[int, list[Problem]]:
        where = f"object {key}"
        try:
            found, size = _hash_object(store, key, on_bytes)
        except (OSError, StoreError) as exc:
            return 0, [
                Problem(
                    MISSING, where, f"object {key} at {_location(store, key)} cannot be read: {exc}"
                )
            ]
        out: list[Problem] = []
        if found != key:
            out.append(
                ChecksumMismatch(f"object {key} at {_location(store, key)}", "sha256", key, found)
            )
        elif size != catalogue[key][0]:
            out.append(
                Problem(
                    CATALOGUE_MISMATCH,
                    where,
                    f"object {key}: the catalogue records {catalogue[key][0]} bytes, the store holds "
                    f"{size} (bytes intact, catalogue size wrong)",
                )
            )
        return size, out

    if progress is not None:
        progress("objects", 0, total)
    if jobs > 1 and len(present) > 1:
        # hashlib releases the GIL on large blocks, so threads hash several files at once.
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="verify") as pool:
            results = list(pool.map(one, present))
    else:
        results = [one(k) for k in present]
    for size, found in results:
        report.bytes_hashed += size
        problems.extend(found)
    report.objects = len(stored_set | set(catalogue))
    report.problems.extend(problems)
