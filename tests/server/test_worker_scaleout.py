"""Two `custodian worker` processes on the real PostgreSQL share one queue; one is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers import add_evidence, make_clip
from server.catalogue.db import Database
from server.catalogue.migrate import upgrade
from server.catalogue.models import Job, Rendition
from server.media import jobs
from server.media.job import MEDIA_JOB
from server.people.accounts import add_agency
from server.settings import load_settings
from server.store import open_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_drain_twenty_jobs_and_survive_a_kill(pg_url: str, tmp_path: Path) -> None:
    cfg = tmp_path / "custodian.toml"
    cfg.write_text(
        f'database_url = "{pg_url}"\ndata_dir = "{tmp_path / "data"}"\n'
        "job_lease_seconds = 3\njob_poll_seconds = 0.2\nstore_min_free_bytes = 0\n"
    )
    settings = load_settings(cfg, env={})
    db = Database(settings)
    upgrade(db.engine)
    store = open_store(settings)
    db.call(add_agency, "A1", "a")
    items = []
    for n in range(20):
        clip = make_clip(
            tmp_path / f"clip{n}.mp4", seconds=1, extra=("-metadata", f"title=clip {n}")
        )
        items.append(add_evidence(db, store, clip))
    for item in items:
        db.call(jobs.enqueue, MEDIA_JOB, item)

    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker", "--config", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    victim, survivor = workers
    killed_job = None
    try:
        deadline = time.monotonic() + 60
        while killed_job is None:  # wait until the victim holds a job, then kill -9 it mid-job
            assert time.monotonic() < deadline, "the victim never claimed a job"
            held = db.call(
                lambda s: s.scalar(
                    select(Job).where(Job.state == "running", Job.worker.like(f"%:{victim.pid}:%"))
                )
            )
            if held is not None:
                os.kill(victim.pid, signal.SIGKILL)
                killed_job = held.id
            time.sleep(0.05)
        victim.wait()
        deadline = time.monotonic() + 180
        while db.call(
            lambda s: s.scalar(select(func.count()).select_from(Job).where(Job.state != "done"))
        ):
            assert time.monotonic() < deadline, "queue not drained"
            assert survivor.poll() is None, "the surviving worker died"
            time.sleep(0.5)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()

    all_jobs = db.call(lambda s: list(s.scalars(select(Job).order_by(Job.id))))
    assert len(all_jobs) == 20 and all(j.state == "done" for j in all_jobs)
    # A job is claimed again only after its worker died: every other job ran exactly once.
    for j in all_jobs:
        assert j.attempts == (2 if j.id == killed_job else 1), (j.id, j.attempts, j.worker)
    assert f":{survivor.pid}:" in next(j.worker for j in all_jobs if j.id == killed_job)
    with_renditions = db.call(
        lambda s: s.scalar(select(func.count(func.distinct(Rendition.item_id))))
    )
    assert with_renditions == 20
    db.close()
