"""Leftovers of killed jobs: work folders that no live job owns are removed.

A media job works in `DATA/work/media-<item>-<random>`; an export builds its package in
`<exports>/.export-<export>-<random>`. A job killed mid-way (kill -9, power cut) leaves its
folder behind, and some are large (a re-encode's scratch). The sweep runs when a worker pool
starts and again every lease period: a folder is removed when no job for its subject is
running under a live lease, and it is older than one lease (so a job that just started on
another process sharing the folder keeps its scratch)."""

from __future__ import annotations

import logging
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.catalogue.db import Database
from server.catalogue.models import Export, Job, utcnow
from server.settings import Settings

logger = logging.getLogger(__name__)

MEDIA_DIR = re.compile(r"^media-(?P<subject>[A-Za-z0-9_-]+?)-[A-Za-z0-9_]{6,}$")
EXPORT_DIR = re.compile(r"^\.export-(?P<subject>[A-Za-z0-9_-]+?)-[A-Za-z0-9_]{6,}$")


def _live_subjects(s: Session, now: datetime) -> set[tuple[str, str]]:
    rows = s.execute(
        select(Job.kind, Job.subject).where(Job.state == "running", Job.lease_until >= now)
    )
    return {(kind, subject) for kind, subject in rows}


def sweep_work(settings: Settings, db: Database) -> list[Path]:
    """Remove the work folders of jobs that are no longer running; returns what was removed."""
    candidates: list[tuple[str, str, Path]] = []
    work_root = settings.data_path / "work"
    if work_root.is_dir():
        for p in work_root.iterdir():
            m = MEDIA_DIR.match(p.name)
            if m and p.is_dir() and not p.is_symlink():
                candidates.append(("media", m["subject"], p))
    exports = settings.resolved_export_path
    if exports.is_dir():
        for p in exports.iterdir():
            m = EXPORT_DIR.match(p.name)
            if m and p.is_dir() and not p.is_symlink():
                candidates.append(("export", m["subject"], p))
    if not candidates:
        return []
    live = db.call(_live_subjects, utcnow())
    young = time.time() - float(settings.job_lease_seconds)
    removed = []
    for kind, subject, path in candidates:
        if (kind, subject) in live:
            continue
        try:
            if path.stat().st_mtime > young:
                continue
        except FileNotFoundError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        logger.warning(
            "removed %s: left by a %s job for %s that is no longer running", path, kind, subject
        )
    return removed


def _orphaned_exports(s: Session, now: datetime) -> list[tuple[str, str]]:
    """Exports still queued or running whose job is gone for good (failed: its process died
    with its one attempt, e.g. a killed `custodian export`), marked failed here."""
    out = []
    rows = s.execute(
        select(Export, Job)
        .join(Job, Job.id == Export.job_id)
        .where(Export.state.in_(("queued", "running")), Job.state == "failed")
    )
    for e, job in rows:
        e.state, e.finished_at = "failed", now
        e.error = f"the process building it is gone ({job.worker}: {job.error})"[:4000]
        out.append((e.id, e.package_path or ""))
    return out


def sweep_exports(db: Database) -> list[str]:
    """Mark exports whose process died as failed and remove the partial package it left next
    to its target (the command line writes `.NAME.partial` beside --out)."""
    done = []
    for export_id, target in db.call(_orphaned_exports, utcnow()):
        if target:
            t = Path(target)
            t.with_name(f".{t.name}.partial").unlink(missing_ok=True)
        logger.warning("export %s marked failed: the process building it is gone", export_id)
        done.append(export_id)
    return done
