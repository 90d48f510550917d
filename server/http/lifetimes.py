"""Lifetimes of the process's resources, as aiohttp cleanup contexts, in one place beside the app
factory: the catalogue, the store, the signing key, the scheduled tree heads and fixity scrub, the
upload manager, the access ledger, the login hash pool, the export sweep and in-process workers.
Domain modules provide the resources; only this module knows about the application object."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from server.catalogue.db import Database
from server.custody.access_ledger import AccessLedger
from server.custody.signing import load_or_create_key
from server.custody.treeheads import issue_tree_head, stamp_manifests
from server.custody.verification import Cancelled, ScrubMetrics, run_scrub
from server.http import appkeys as keys
from server.intake.hygiene import expire_exports
from server.intake.tus import UploadManager
from server.people.logins import HashPool
from server.people.passwords import dummy_hash
from server.store import open_store

logger = logging.getLogger(__name__)


async def executors_ctx(app: web.Application) -> AsyncIterator[None]:
    """One thread pool per kind of blocking work: streaming reads, upload writes and hashing,
    in-process jobs (the catalogue and password hashing have their own). A busy job pool or a
    burst of uploads then never queues playback behind it, and none of them shares asyncio's
    default executor. Registered first, so it is shut down after everything that uses it."""
    settings = app[keys.SETTINGS]
    pools = {
        keys.STREAM_POOL: ThreadPoolExecutor(settings.stream_threads, "stream"),
        keys.UPLOAD_POOL: ThreadPoolExecutor(settings.upload_threads, "upload"),
        keys.JOB_POOL: ThreadPoolExecutor(settings.worker_concurrency + 1, "job"),
    }
    for key, pool in pools.items():
        app[key] = pool
    yield
    for pool in pools.values():
        pool.shutdown(wait=True, cancel_futures=True)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """The catalogue, migrated to the head before anything uses it."""
    from server.catalogue.migrate import upgrade

    db = Database(app[keys.SETTINGS])
    upgrade(db.engine)
    app[keys.DB] = db
    yield
    db.close()


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    app[keys.STORE] = open_store(app[keys.SETTINGS])
    yield


async def signing_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load (or create) the key once when the app starts."""
    from server.custody.keyring import ensure_registered

    app[keys.SIGNING_KEY] = load_or_create_key(app[keys.SETTINGS])
    app[keys.DB].call(ensure_registered, app[keys.SIGNING_KEY])
    yield


async def tree_head_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every tree_head_interval_seconds: sign a head if the ledger grew, stamp new manifests;
    and one last head on shutdown, so no write is left outside a signed head."""

    settings = app[keys.SETTINGS]
    interval = settings.tree_head_interval_seconds
    running: list[asyncio.Future[Any]] = []

    def one_round() -> None:
        issue_tree_head(app[keys.DB], app[keys.SIGNING_KEY], settings, only_if_grown=True)
        stamp_manifests(app[keys.DB], settings)

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            fut = asyncio.get_running_loop().run_in_executor(None, one_round)
            running[:] = [fut]
            try:
                # Shielded so shutdown waits for a round in progress before the database closes.
                await asyncio.shield(fut)
            except Exception:  # a failed round must not end the schedule
                logger.exception("scheduled tree head failed")

    task = asyncio.create_task(loop(), name="tree-heads") if interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, *running, return_exceptions=True)
    if interval <= 0:
        return
    try:
        await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: issue_tree_head(
                app[keys.DB], app[keys.SIGNING_KEY], settings, only_if_grown=True
            ),
        )
    except Exception:  # shutting down: log, never block the exit
        logger.exception("final tree head on shutdown failed")


async def fixity_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every fixity_interval_seconds (0 = off), a rate-limited scrub in a thread."""

    settings = app[keys.SETTINGS]
    metrics = ScrubMetrics.register(app[keys.METRICS])
    app[keys.FIXITY_METRICS] = metrics
    interval = settings.fixity_interval_seconds
    cancel = threading.Event()
    running: list[asyncio.Future[Any]] = []

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            fut = asyncio.get_running_loop().run_in_executor(
                None,
                lambda: run_scrub(
                    app[keys.DB],
                    app[keys.STORE],
                    settings,
                    app[keys.SIGNING_KEY].public_keys(),
                    metrics=metrics,
                    cancel=cancel,
                ),
            )
            running[:] = [fut]
            try:
                # Shielded: shutdown cancels this task, but the thread stops only at `cancel`,
                # and teardown waits for it before the database closes.
                await asyncio.shield(fut)
            except Cancelled:
                return
            except Exception:  # a failed round must not end the schedule
                logger.exception("fixity scrub failed")

    task = asyncio.create_task(loop(), name="fixity-scrub") if interval > 0 else None
    yield
    if task is not None:
        cancel.set()
        task.cancel()
        await asyncio.gather(task, *running, return_exceptions=True)


async def uploads_ctx(app: web.Application) -> AsyncIterator[None]:
    """The upload manager and its expiry task (runs after the database and store contexts)."""
    settings = app[keys.SETTINGS]
    manager = UploadManager(
        settings,
        app[keys.DB],
        app[keys.STORE],
        app[keys.SIGNING_KEY],
        pool=app.get(keys.UPLOAD_POOL),
    )
    app[keys.UPLOADS] = manager

    async def sweep() -> None:
        grace = timedelta(seconds=0)  # at start nothing of ours is committing: finish all
        while True:
            try:
                await manager.finish_interrupted(grace)
                grace = timedelta(seconds=max(60, settings.upload_cleanup_interval_seconds))
            except Exception:  # keep sweeping; the next round may succeed
                logger.exception("finishing interrupted commits failed")
            try:
                await manager.expire()
            except Exception:  # keep sweeping; the next round may succeed
                logger.exception("expiring uploads failed")
            await asyncio.sleep(settings.upload_cleanup_interval_seconds)

    task = asyncio.create_task(sweep(), name="upload-expiry")
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    manager.close()


async def access_ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's access ledger (after the database context)."""
    metric = Counter(
        "custodian_access_denials_suppressed",
        "Permission denials counted but not ledgered one by one (over denial_ledger_limit)",
        registry=app[keys.METRICS],
    )
    ledger = AccessLedger(app[keys.SETTINGS], app[keys.DB], metric)
    app[keys.ACCESS_LEDGER] = ledger
    yield
    ledger.flush()


async def hash_pool_ctx(app: web.Application) -> AsyncIterator[None]:

    settings = app[keys.SETTINGS]
    app[keys.HASH_POOL] = HashPool(settings.login_hash_threads, settings.login_hash_queue)
    # The dummy hash is made now, so the first login of an unknown name costs what any other does.
    await asyncio.get_running_loop().run_in_executor(None, dummy_hash)
    yield
    app[keys.HASH_POOL].close()


async def exports_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    """Expire old export packages at start and then hourly."""

    async def loop() -> None:
        while True:
            try:
                await app[keys.DB].run(expire_exports, app[keys.SETTINGS])
            except Exception:  # never kill the server over housekeeping
                logger.exception("export retention sweep failed")
            await asyncio.sleep(3600)

    task = asyncio.create_task(loop()) if app[keys.SETTINGS].export_retention_days else None
    yield
    if task:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """In-process job workers (media processing) for the embedded single-machine setup."""
    from server.media.worker import WorkerPool

    pool = WorkerPool(
        app[keys.SETTINGS], app[keys.DB], app[keys.STORE], executor=app[keys.JOB_POOL]
    )
    app[keys.WORKERS] = pool
    task = asyncio.create_task(pool.run())
    yield
    pool.stop()
    try:
        await asyncio.wait_for(task, timeout=30)
    except TimeoutError:
        task.cancel()
