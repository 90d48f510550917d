"""Workers: claim jobs from the catalogue and run them, in the server or as `custodian worker`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from server import jobs
from server.db import Database
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)

Handler = Callable[[Settings, Database, ObjectStore, str, Callable[[float], None]], dict[str, Any]]


def handlers() -> dict[str, Handler]:
    """Job kinds and the functions that run them (each in a worker thread)."""
    from server.export import EXPORT_JOB, export_job
    from server.media import MEDIA_JOB, process_item

    return {MEDIA_JOB: process_item, EXPORT_JOB: export_job}


class WorkerPool:
    """N concurrent job loops sharing one catalogue and store."""

    def __init__(self, settings: Settings, db: Database, store: ObjectStore, *,
                 concurrency: int | None = None, name: str | None = None):
        self.settings, self.db, self.store = settings, db, store
        self.concurrency = concurrency or settings.worker_concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers = handlers()
        self._stop = asyncio.Event()
        self.completed = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        await asyncio.gather(*(self._loop(i) for i in range(self.concurrency)))

    async def _loop(self, n: int) -> None:
        me = f"{self.name}/{n}"
        lease = float(self.settings.job_lease_seconds)
        while not self._stop.is_set():
            try:
                job = await self.db.run(jobs.claim, me, lease, tuple(self.handlers))
            except Exception:
                logger.exception("worker %s: cannot claim a job", me)
                job = None
            if job is None:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.settings.job_poll_seconds)
                except TimeoutError:
                    pass
                continue
            await self._run(job.id, job.kind, job.subject, me, lease)

    async def _run(self, job_id: int, kind: str, subject: str, me: str, lease: float) -> None:
        progress = [0.0]
        loop = asyncio.get_running_loop()

        async def beat() -> None:
            while True:
                await asyncio.sleep(max(1.0, lease / 3))
                if not await self.db.run(jobs.heartbeat, job_id, me, progress[0], lease):
                    logger.warning("job %d: lease lost by %s", job_id, me)
                    return

        beater = asyncio.create_task(beat())
        try:
            handler = self.handlers[kind]
            result = await loop.run_in_executor(
                None, handler, self.settings, self.db, self.store, subject,
                lambda f: progress.__setitem__(0, f))
        except Exception as exc:  # every failure is recorded on the job, never crashes the loop
            logger.warning("job %d (%s %s) failed: %s", job_id, kind, subject, exc)
            state = await self.db.run(jobs.fail, job_id, me, str(exc) or type(exc).__name__)
            if state == "failed" and kind == "media":
                from server.media import set_status

                await self.db.run(set_status, subject, "unplayable", f"processing failed: {exc}")
        else:
            await self.db.run(jobs.finish, job_id, me, result)
            self.completed += 1
        finally:
            beater.cancel()
