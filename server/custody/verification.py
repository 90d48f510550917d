"""The full integrity check of a Custodian installation, and the scheduled fixity scrub.

Read-only: it re-hashes every stored object against the catalogue, checks every manifest
version (signature, version chain, original matches the catalogue), recomputes the custody
ledger's hash chain and every signed tree head's root, and checks RFC 3161 tokens when roots
are configured. It collects every problem and never stops at the first; it never rewrites
anything. The caller records the result as a ledger entry (`record_result`)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from integrity import tsa
from integrity.canonical import loads
from integrity.errors import (
    CHECKSUM_MISMATCH,
    DETAILS_MISMATCH,
    MANIFEST_INVALID,
    MISSING,
    UNEXPECTED,
    ChecksumMismatch,
    Problem,
)
from integrity.hashing import hash_file
from integrity.ledger import FIXITY, VERIFY, LedgerEntry, check_chain, check_tree_heads
from integrity.manifest import ItemManifest, check_versions, verify_manifest
from server.catalogue.db import Database
from server.catalogue.models import EvidenceItem, LedgerRow, ManifestRow, StoredObject, TreeHeadRow
from server.custody.ledger import append, iter_rows, row_entry
from server.custody.manifests import signed_of
from server.custody.treeheads import head_of
from server.errors import SettingsError, StoreError
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)

# Problem kind for a catalogue that disagrees with itself (sizes, manifests vs items).
CATALOGUE_MISMATCH = "catalogue_mismatch"
# Problem messages kept in the ledger entry that records a run (all are printed by the CLI).
RECORDED_PROBLEMS_MAX = 50
# PostgreSQL advisory lock held by the one server process that runs a scheduled scrub.
SCRUB_LOCK = 7_236_372_912

# progress(stage, done, total): stage is "objects" (bytes), "manifests", "ledger", "tree heads".
ProgressFn = Callable[[str, int, int], None]


class Cancelled(Exception):
    """The run was asked to stop (server shutting down)."""


@dataclass
class Report:
    """What one verification run checked and every problem it found."""

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    bytes_hashed: int = 0
    items: int = 0
    manifests: int = 0
    entries: int = 0
    tree_heads: int = 0
    tokens_checked: int = 0
    tokens_unchecked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        return dict(Counter(p.kind for p in self.problems))

    def summary(self) -> dict[str, Any]:
        """The run as ledger-entry details (JSON-able, bounded in size)."""
        return {
            "ok": self.ok,
            "problem_count": len(self.problems),
            "problem_kinds": self.counts(),
            "problems": [
                {"kind": p.kind, "where": p.where, "message": p.message}
                for p in self.problems[:RECORDED_PROBLEMS_MAX]
            ],
            "objects": self.objects,
            "bytes_hashed": self.bytes_hashed,
            "items": self.items,
            "manifests": self.manifests,
            "ledger_entries": self.entries,
            "tree_heads": self.tree_heads,
            "tokens_checked": self.tokens_checked,
            "tokens_unchecked": self.tokens_unchecked,
            "seconds": round(self.seconds, 3),
        }


class Throttle:
    """Keeps reads at or under a byte rate (0 = unlimited), shared by every hashing thread."""

    def __init__(self, bytes_per_second: int) -> None:
        self.rate = bytes_per_second
        self._start = time.monotonic()
        self._done = 0
        self._lock = threading.Lock()

    def consume(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            self._done += n
            ahead = self._done / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


def load_tsa_roots(settings: Settings) -> bytes | None:
    """The trusted TSA roots (PEM) from tsa_roots_file, or None when not configured."""
    if not settings.tsa_roots_file:
        return None
    path = Path(settings.tsa_roots_file).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"setting 'tsa_roots_file': cannot read {path}: {exc}") from None


# -- step 1: stored objects --------------------------------------------------------------------
def _catalogued_objects(s: Session) -> dict[str, tuple[int, str]]:
    return {
        r[0]: (r[1], r[2])
        for r in s.execute(select(StoredObject.sha256, StoredObject.size, StoredObject.role))
    }


def _location(store: ObjectStore, key: str) -> str:
    path_for = getattr(store, "path_for", None)
    if path_for is not None:
        try:
            return str(path_for(key))
        except Exception:  # a planted name that is not a hash still has a place
            return str(Path(getattr(store, "root", ".")) / key[:2] / key[2:4] / key)
    return f"{store.name}:{getattr(store, 'key', lambda k: k)(key)}"


def _hash_object(store: ObjectStore, key: str, on_bytes: Callable[[int], None]) -> tuple[str, int]:
    """(sha256 hex, size) of one stored object, reading it once in fixed blocks."""
    local = getattr(store, "local_path", None)
    if local is not None:
        seen = 0

        def progress(total: int) -> None:
            nonlocal seen
            on_bytes(total - seen)
            seen = total

        digest = hash_file(local(key), progress=progress)["sha256"].hex
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
        problems.append(Problem(UNEXPECTED, path, f"{path} is in the store but is not an object at "
                                "its key's place (planted or misplaced file)"))
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


# -- step 2: manifests -------------------------------------------------------------------------
def _manifest_data(s: Session) -> tuple[dict[str, tuple[str, int]], list[ManifestRow]]:
    items = {
        r[0]: (r[1], r[2])
        for r in s.execute(select(EvidenceItem.id, EvidenceItem.sha256, EvidenceItem.size))
    }
    rows = list(s.scalars(select(ManifestRow).order_by(ManifestRow.item_id, ManifestRow.version)))
    s.expunge_all()
    return items, rows


def check_manifests(
    db: Database,
    report: Report,
    public_keys: Mapping[str, Any],
    *,
    tsa_roots: bytes | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Every manifest version: signature, bytes, version chain, original vs the catalogue."""
    items, rows = db.call(_manifest_data)
    by_item: dict[str, list[ManifestRow]] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    report.items = len(items)
    report.manifests = len(rows)
    done = 0
    for item_id in sorted(set(items) | set(by_item)):
        versions = by_item.get(item_id, [])
        label = f"evidence item {item_id}"
        if item_id not in items:
            report.problems.append(
                Problem(
                    MANIFEST_INVALID,
                    label,
                    f"{label}: has {len(versions)} manifest version(s) but no catalogue entry "
                    "(item row deleted?)",
                )
            )
        elif not versions:
            report.problems.append(
                Problem(
                    MANIFEST_INVALID, label, f"{label}: has no signed manifest (manifest deleted?)"
                )
            )
        parsed: list[ItemManifest] = []
        for row in versions:
            where = f"{label} manifest v{row.version}"
            signed = signed_of(row)
            found = signed.sha256()
            if found != row.sha256:
                report.problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        where,
                        f"{where}: bytes hash to {found}, the catalogue records {row.sha256} "
                        "(manifest edited)",
                    )
                )
            problems = verify_manifest(signed, public_keys, where=where)
            report.problems.extend(problems)
            try:
                manifest = signed.manifest()
            except (ValueError, TypeError, KeyError):
                continue  # verify_manifest reported it
            if manifest.item_id != row.item_id or manifest.version != row.version:
                report.problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        where,
                        f"{where}: the signed bytes describe item {manifest.item_id} "
                        f"v{manifest.version} (manifest moved to another item or version)",
                    )
                )
            if item_id in items:
                sha, size = items[item_id]
                if manifest.original.sha256 != sha or manifest.original.size != size:
                    report.problems.append(
                        Problem(
                            MANIFEST_INVALID,
                            where,
                            f"{where}: the manifest's original is {manifest.original.sha256} "
                            f"({manifest.original.size} bytes), the catalogue's item is {sha} "
                            f"({size} bytes)",
                        )
                    )
            parsed.append(manifest)
            if row.tsa_token:
                if tsa_roots is None:
                    report.tokens_unchecked += 1
                else:
                    report.tokens_checked += 1
                    _, bad = tsa.check_token(
                        row.tsa_token,
                        signed.manifest_bytes,
                        tsa_roots,
                        where=f"{where}: RFC 3161 token",
                    )
                    report.problems.extend(bad)
        report.problems.extend(check_versions(parsed, where="evidence item"))
        done += 1
        if progress is not None:
            progress("manifests", done, len(items))


# -- steps 3 and 4: ledger chain and tree heads ------------------------------------------------
def _ledger_data(
    s: Session,
) -> tuple[list[LedgerEntry], dict[int, Any], list[Problem], list[TreeHeadRow]]:  # noqa: D103
    entries: list[LedgerEntry] = []
    details: dict[int, Any] = {}
    bad: list[Problem] = []
    for row in iter_rows(s):
        entries.append(row_entry(row))
        try:
            details[row.seq] = loads(row.details.encode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            where = f"ledger entry {row.seq}"
            bad.append(
                Problem(DETAILS_MISMATCH, where, f"{where}: details are not valid JSON ({exc})")
            )
    heads = list(s.scalars(select(TreeHeadRow).order_by(TreeHeadRow.size, TreeHeadRow.id)))
    s.expunge_all()
    return entries, details, bad, heads


def check_ledger(
    db: Database,
    report: Report,
    public_keys: Mapping[str, Any],
    *,
    tsa_roots: bytes | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Recompute the hash chain (with every entry's details) and every signed tree head."""
    entries, details, bad, heads = db.call(_ledger_data)
    report.entries = len(entries)
    report.tree_heads = len(heads)
    report.problems.extend(bad)
    report.problems.extend(check_chain(entries, details))
    if progress is not None:
        progress("ledger", len(entries), len(entries))
    report.problems.extend(check_tree_heads(entries, [head_of(h) for h in heads], public_keys))
    # Each head against the window of the key that signed it (key rotation).
    report.problems.extend(db.call(check_key_windows, heads))
    # The tail: rows of the catalogue whose ledger entries are gone, and heads witnessed
    # outside the catalogue that it no longer holds.
    report.problems.extend(db.call(check_rows_have_entries, details, entries))
    report.problems.extend(check_witness(db, heads, entries))
    for row in heads:
        if not row.tsa_token:
            continue
        if tsa_roots is None:
            report.tokens_unchecked += 1
            continue
        report.tokens_checked += 1
        head = head_of(row)
        _, found = tsa.check_token(
            row.tsa_token, head.signing_bytes(), tsa_roots, where=f"{head.label()}: RFC 3161 token"
        )
        report.problems.extend(found)
    if progress is not None:
        progress("tree heads", len(heads), len(heads))


def check_key_windows(s: Session, heads: list[TreeHeadRow]) -> list[Problem]:
    """Every head signed by a recorded key must fall inside that key's validity window."""
    from integrity.errors import SIGNATURE_INVALID
    from integrity.timefmt import parse_rfc3339
    from server.catalogue.models import SigningKeyRow

    keys = {r.key_id: r for r in s.scalars(select(SigningKeyRow))}
    out: list[Problem] = []
    for head in heads:
        row = keys.get(head.key_id)
        if row is None:
            continue
        when = parse_rfc3339(head.time)
        start = parse_rfc3339(row.valid_from) if row.valid_from else None
        end = parse_rfc3339(row.valid_to) if row.valid_to else None
        if (start and when < start) or (end and when > end):
            where = head_of(head).label()
            out.append(Problem(SIGNATURE_INVALID, where, (
                f"{where}: signed by key {head.key_id}, valid only from "
                f"{row.valid_from or 'the start'} to {row.valid_to or 'now'} (a retired key "
                "signed after its rotation?)")))
    return out


# Catalogue rows that are acts and must each have their ledger entry: (label, model, id
# column, ledger action, details key naming the row, extra filter).
LEDGER_MISSING = "ledger_entry_missing"


def _row_rules() -> list[tuple[str, Any, Any, str, str | None, Any]]:
    from integrity import ledger as L
    from server.catalogue import models as M

    return [
        ("evidence item", M.EvidenceItem, M.EvidenceItem.id, L.INGEST, None, None),
        ("case", M.Case, M.Case.id, L.CASE_CHANGE, "opened", None),
        ("case record", M.CaseRecord, M.CaseRecord.id, L.RECORD, "record", None),
        ("case link", M.CaseLink, M.CaseLink.id, L.LINK, "link", None),
        ("approval", M.CaseApproval, M.CaseApproval.id, L.APPROVAL, "approval", None),
        ("complaint", M.CaseComplaint, M.CaseComplaint.id, L.COMPLAINT, "complaint", None),
        ("export", M.Export, M.Export.id, L.EXPORT, "export_id",
         M.Export.ledger_seq.is_not(None)),
        ("bookmark", M.Bookmark, M.Bookmark.id, L.ANNOTATION, "bookmark_id", None),
        ("basket clip", M.BasketClip, M.BasketClip.id, L.ANNOTATION, "clip_id", None),
        ("disposal request", M.DisposalRequest, M.DisposalRequest.id, L.DISPOSAL_REQUEST,
         "request", None),
        ("disposal approval", M.DisposalRequest, M.DisposalRequest.id, L.DISPOSAL_APPROVAL,
         "request", M.DisposalRequest.state == "approved"),
    ]


def check_rows_have_entries(
    s: Session, details: dict[int, Any], entries: list[LedgerEntry]
) -> list[Problem]:
    """Every catalogue row that records an act has its ledger entry; a missing one means the
    entry (or the ledger's unsigned tail) was deleted while the row stayed."""
    found: set[tuple[str, str]] = set()
    for e in entries:
        d = details.get(e.seq)
        if e.action == "ingest" and e.subject.startswith("evidence:"):
            found.add(("ingest", e.subject.removeprefix("evidence:")))
        if not isinstance(d, dict):
            continue
        if e.action == "case_change" and d.get("event") == "opened":
            found.add(("case_change:opened", e.subject.removeprefix("case:")))
        for key in ("record", "link", "approval", "complaint", "export_id", "bookmark_id",
                    "clip_id", "request"):
            if key in d and d[key] is not None:
                found.add((f"{e.action}:{key}", str(d[key])))
    last = entries[-1].seq if entries else 0
    out: list[Problem] = []
    for label, _model, column, action, key, extra in _row_rules():
        q = select(column)
        if extra is not None:
            q = q.where(extra)
        for (row_id,) in s.execute(q):
            if key is None:
                want = (action, str(row_id))
            elif key == "opened":
                want = ("case_change:opened", str(row_id))
            else:
                want = (f"{action}:{key}", str(row_id))
            if want not in found:
                where = f"{label} {row_id}"
                out.append(Problem(LEDGER_MISSING, where, (
                    f"{where}: exists in the catalogue but the custody ledger has no "
                    f"'{action}' entry for it (the ledger ends at entry {last}: its entry, or "
                    "the ledger's tail, was deleted)")))
    return out


def check_witness(db: Database, heads: list[TreeHeadRow], entries: list[LedgerEntry]) -> list[
        Problem]:
    """Heads published to the witness file must still be in the catalogue (a rollback of the
    catalogue, ledger and heads together shows here)."""
    from server.custody.treeheads import read_witness

    witnessed = read_witness(db.settings) if hasattr(db, "settings") else []
    have = {(h.size, h.root) for h in heads}
    out: list[Problem] = []
    for w in witnessed:
        if (w.get("size"), w.get("root")) not in have:
            where = f"witnessed tree head of size {w.get('size')} at {w.get('time')}"
            out.append(Problem("tree_head_mismatch", where, (
                f"{where}: published to the witness but missing from the catalogue, which "
                f"holds {len(entries)} ledger entries (ledger rolled back?)")))
    return out


# -- the whole run -----------------------------------------------------------------------------
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


# -- the scheduled fixity scrub ----------------------------------------------------------------
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


def problem_lines(report: Report) -> list[str]:
    """Every problem as one line: number, kind, message (what and where)."""
    return [f"{i}. [{p.kind}] {p.message}" for i, p in enumerate(report.problems, 1)]


def report_json(report: Report) -> str:
    """The whole report as JSON text (every problem, unlike the ledger summary)."""
    data = report.summary()
    data["problems"] = [
        {"kind": p.kind, "where": p.where, "message": p.message} for p in report.problems
    ]
    return json.dumps(data, ensure_ascii=False, indent=2)


__all__ = [
    "CHECKSUM_MISMATCH",
    "Report",
    "check_ledger",
    "check_manifests",
    "check_objects",
    "record_result",
    "run_scrub",
    "verify_all",
]
