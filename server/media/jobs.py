"""The job queue in the catalogue: claimed with SKIP LOCKED on PostgreSQL, leased, retried."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from server.catalogue.models import Job, utcnow

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0  # first retry after 5 s, then 10, 20, ...
BACKOFF_MAX_S = 600.0
TRANSIENT_RETRY_S = 10.0  # a job that failed for an outside cause is tried again after this


def enqueue(s: Session, kind: str, subject: str, *, max_attempts: int = 3) -> Job:
    """Queue a job unless one for the same kind and subject is already waiting or running."""
    existing = s.scalar(
        select(Job).where(
            Job.kind == kind, Job.subject == subject, Job.state.in_(("queued", "running"))
        )
    )
    if existing is not None:
        return existing
    job = Job(kind=kind, subject=subject, max_attempts=max_attempts)
    s.add(job)
    s.flush()
    return job


def claim(
    s: Session,
    worker: str,
    lease_s: float,
    kinds: tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> Job | None:
    """Take the oldest runnable job: queued and due, or running with an expired lease (its
    worker died). On PostgreSQL rows are locked with SKIP LOCKED so concurrent workers never
    take the same job; SQLite sessions hold the write lock (BEGIN IMMEDIATE) already."""
    now = now or utcnow()
    q = select(Job).where(
        or_(
            and_(Job.state == "queued", Job.run_after <= now),
            and_(Job.state == "running", Job.lease_until < now),
        )
    )
    if kinds:
        q = q.where(Job.kind.in_(kinds))
    q = q.order_by(Job.id).limit(1)
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    job = s.scalar(q)
    if job is None:
        return None
    if job.state == "running":
        logger.warning("job %d: lease of %s expired, reclaimed by %s", job.id, job.worker, worker)
        if job.attempts >= job.max_attempts:
            job.state, job.error, job.finished_at = (
                "failed",
                f"worker {job.worker} died; out of attempts",
                now,
            )
            return None
    job.state = "running"
    job.worker = worker
    job.attempts += 1
    job.progress = 0.0
    job.lease_until = now + timedelta(seconds=lease_s)
    job.started_at = now
    s.flush()
    return job


def heartbeat(s: Session, job_id: int, worker: str, progress: float, lease_s: float) -> bool:
    """Extend the lease and record progress; False when the job is no longer ours."""
    r = s.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == "running")
        .values(
            progress=max(0.0, min(1.0, progress)), lease_until=utcnow() + timedelta(seconds=lease_s)
        )
    )
    return bool(cast(CursorResult[Any], r).rowcount)  # an UPDATE's result


def finish(s: Session, job_id: int, worker: str, result: dict[str, Any] | None = None) -> bool:
    r = s.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == "running")
        .values(state="done", progress=1.0, result=result, finished_at=utcnow(), error="")
    )
    return bool(cast(CursorResult[Any], r).rowcount)  # an UPDATE's result


def fail(s: Session, job_id: int, worker: str, error: str) -> str:
    """Record a failure: back to the queue with exponential backoff, or failed for good."""
    job = s.get(Job, job_id)
    if job is None or job.worker != worker or job.state != "running":
        return "lost"
    job.error = error[:4000]
    if job.attempts >= job.max_attempts:
        job.state, job.finished_at = "failed", utcnow()
    else:
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (job.attempts - 1))
        job.state, job.run_after, job.lease_until = (
            "queued",
            utcnow() + timedelta(seconds=delay),
            None,
        )
    return job.state


def retry_later(s: Session, job_id: int, worker: str, error: str) -> str:
    """Put a job back in the queue without spending an attempt: its failure came from the
    environment (catalogue outage, full store). It is tried again after a growing pause."""
    job = s.get(Job, job_id)
    if job is None or job.worker != worker or job.state != "running":
        return "lost"
    job.error = f"waiting: {error}"[:4000]
    job.attempts = max(0, job.attempts - 1)
    job.state, job.lease_until = "queued", None
    job.run_after = utcnow() + timedelta(seconds=TRANSIENT_RETRY_S)
    return job.state


def start_held(
    s: Session, kind: str, subject: str, worker: str, lease_s: float, note: str = ""
) -> int:
    """A job that its creator runs itself at once (the command line's export): created
    running, held by `worker` under a lease; one attempt only, so a creator that dies leaves
    a job that the next claim marks failed instead of running it elsewhere."""
    now = utcnow()
    job = Job(
        kind=kind,
        subject=subject,
        state="running",
        worker=worker,
        attempts=1,
        max_attempts=1,
        progress=0.0,
        started_at=now,
        lease_until=now + timedelta(seconds=lease_s),
    )
    s.add(job)
    s.flush()
    if kind == "export":
        from server.catalogue.models import Export

        e = s.get(Export, subject)
        if e is not None:
            e.job_id = job.id
            e.package_path = note
    return job.id


def job_json(job: Job) -> dict[str, Any]:
    from server.isotime import iso

    return {
        "id": job.id,
        "kind": job.kind,
        "subject": job.subject,
        "state": job.state,
        "attempts": job.attempts,
        "progress": round(job.progress, 3),
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }
