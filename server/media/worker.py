"""Workers: claim jobs from the catalogue and run them, in the server or as `custodian worker`."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from server.catalogue.db import Database
from server.catalogue.outage import OutageLog, classify
from server.media import jobs
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)
MAX_PAUSE_S = 30.0

Handler = Callable[[Settings, Database, ObjectStore, str, Callable[[float], None]], dict[str, Any]]


def handlers() -> dict[str, Handler]:
    """Job kinds and the functions that run them (each in a worker thread)."""
    from server.exports.job import EXPORT_JOB, export_job
    from server.media.job import MEDIA_JOB, process_item

    return {MEDIA_JOB: process_item, EXPORT_JOB: export_job}


def transient(exc: BaseException) -> bool:
    """A failure whose cause is the environment, not the job: retried without limit."""
    from server.errors import StoreFull, StoreUnavailable

    if isinstance(exc, StoreFull | StoreUnavailable) or classify(exc) is not None:
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class WorkerPool:
    """N concurrent job loops sharing one catalogue and store."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: ObjectStore,
        *,
        concurrency: int | None = None,
        name: str | None = None,
        executor: Executor | None = None,
    ):
        self.settings, self.db, self.store = settings, db, store
        self.concurrency = concurrency or settings.worker_concurrency
        # Jobs run on their own threads (the app's job pool in `custodian serve`), never on
        # asyncio's default executor where they would queue other work behind them.
        self.executor = executor or ThreadPoolExecutor(self.concurrency + 1, "job")
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers = handlers()
        self._stop = asyncio.Event()
        self.completed = 0
        self.outage = OutageLog("worker catalogue", logger)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        await asyncio.gather(self._sweeper(), *(self._loop(i) for i in range(self.concurrency)))

    async def _sweeper(self) -> None:
        """Remove work folders of killed jobs: on start and every lease period."""
        from server.media.sweep import sweep_exports, sweep_work

        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            try:
                await loop.run_in_executor(self.executor, sweep_work, self.settings, self.db)
                await loop.run_in_executor(self.executor, sweep_exports, self.db)
            except Exception as exc:  # an outage: the next round tries again
                self.outage.failed(exc)
            await self._sleep(max(5.0, float(self.settings.job_lease_seconds)))

    async def _loop(self, n: int) -> None:
        """Claim and run jobs until stopped. Nothing ends this loop but stop(): a failing
        catalogue (outage, lock timeout) or a bug in recording a result is logged once per
        outage and waited out with a growing pause."""
        me = f"{self.name}/{n}"
        lease = float(self.settings.job_lease_seconds)
        pause = float(self.settings.job_poll_seconds)
        while not self._stop.is_set():
            try:
                job = await self.db.run(jobs.claim, me, lease, tuple(self.handlers))
            except Exception as exc:
                self.outage.failed(exc)
                pause = min(MAX_PAUSE_S, max(pause * 2, 0.5))
                await self._sleep(pause)
                continue
            self.outage.ok()
            pause = float(self.settings.job_poll_seconds)
            if job is None:
                await self._sleep(pause)
                continue
            try:
                await self._run(job.id, job.kind, job.subject, me, lease)
            except Exception as exc:  # the job's lease expires and another claim retries it
                self.outage.failed(exc)
                await self._sleep(min(MAX_PAUSE_S, 1.0))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    async def _record(self, fn: Callable[..., Any], *args: Any, deadline: float) -> Any:
        """Write a job's outcome, retrying through a catalogue outage until `deadline`
        (monotonic); after that the lease lapses and the job is claimed again."""
        pause = 0.5
        while True:
            try:
                result = await self.db.run(fn, *args)
                self.outage.ok()
                return result
            except Exception as exc:
                self.outage.failed(exc)
                if time.monotonic() + pause > deadline or self._stop.is_set():
                    raise
                await asyncio.sleep(pause)
                pause = min(MAX_PAUSE_S, pause * 2)

    async def _run(self, job_id: int, kind: str, subject: str, me: str, lease: float) -> None:
        progress = [0.0]
        loop = asyncio.get_running_loop()

        async def beat() -> None:
            while True:
                await asyncio.sleep(max(1.0, lease / 3))
                try:
                    ours = await self.db.run(jobs.heartbeat, job_id, me, progress[0], lease)
                except Exception as exc:  # an outage: keep beating; a lapsed lease means a retry
                    self.outage.failed(exc)
                    continue
                if not ours:
                    logger.warning("job %d: lease lost by %s", job_id, me)
                    return

        beater = asyncio.create_task(beat())
        try:
            handler = self.handlers[kind]
            result = await loop.run_in_executor(
                self.executor,
                handler,
                self.settings,
                self.db,
                self.store,
                subject,
                lambda f: progress.__setitem__(0, f),
            )
        except Exception as exc:  # every failure is recorded on the job, never crashes the loop
            deadline = time.monotonic() + lease
            if transient(exc):
                # The cause is outside the job (catalogue outage, full or unreachable store):
                # wait for it to go away instead of spending the job's attempts on it.
                logger.warning(
                    "job %d (%s %s) waits for %s: %s",
                    job_id,
                    kind,
                    subject,
                    type(exc).__name__,
                    exc,
                )
                await self._record(
                    jobs.retry_later, job_id, me, f"{type(exc).__name__}: {exc}", deadline=deadline
                )
                return
            logger.warning("job %d (%s %s) failed: %s", job_id, kind, subject, exc)
            state = await self._record(
                jobs.fail, job_id, me, str(exc) or type(exc).__name__, deadline=deadline
            )
            if state == "failed" and kind == "media":
                from server.media.job import set_status

                await self._record(
                    set_status,
                    subject,
                    "unplayable",
                    f"processing failed: {exc}",
                    deadline=deadline,
                )
        else:
            await self._record(jobs.finish, job_id, me, result, deadline=time.monotonic() + lease)
            self.completed += 1
        finally:
            beater.cancel()
