"""Faults heal themselves (issue 19): a catalogue outage answers 503 and is waited out, workers
survive it, SQLite readers do not queue behind writers, outside causes do not use up a job.

The PostgreSQL outage tests run their own throwaway cluster on another port (initdb as the
`postgres` user), stop it mid-test and start it again; nothing is mocked."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from helpers import PASSWORD, app_db, bearer, free_port
from server.catalogue.db import Database
from server.catalogue.migrate import upgrade
from server.catalogue.models import Job
from server.errors import StoreFull
from server.media import jobs
from server.media.worker import WorkerPool

PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").is_dir()
        else "none"
    )
    / "bin"
)


class Cluster:
    """A PostgreSQL cluster of the test's own, started and stopped at will."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres", "postgres")
        self._as_pg(
            PG_BIN / "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _as_pg(self, *argv: object) -> None:
        cmd = [str(a) for a in argv]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_pg(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-w",
            "-l",
            self.root / "log",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._as_pg(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():  # type: ignore[no-untyped-def]
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"initdb not found under {PG_BIN}: install the postgresql package")
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="custodian-pg-"))
    os.chmod(root, 0o755)
    c = Cluster(root / "cluster")
    c.start()
    yield c
    try:
        c.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(root, ignore_errors=True)


def _outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.postgres
@pytest.mark.slow
async def test_catalogue_outage_answers_503_and_heals(cluster, make_client, make_settings, caplog):
    """Point 3: while PostgreSQL is down, API calls answer 503 + Retry-After with the code
    catalogue_unavailable (not 500), /healthz stays a liveness probe, /readyz says what is
    down, the log gets one line per outage, and everything answers again once it is back."""
    client = await make_client(make_settings(database_url=cluster.url, worker_in_server=False))
    from server.people.accounts import add_agency, add_user

    await app_db(client).run(
        lambda s: (add_agency(s, "A1", "One"), add_user(s, "rev", PASSWORD, "reviewer", "A1"))
    )
    r = await client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD})
    token = (await r.json())["token"]
    assert (await client.get("/api/v1/cases", headers=bearer(token))).status == 200
    assert (await client.get("/readyz")).status == 200

    caplog.set_level(logging.INFO)
    cluster.stop()
    statuses = []
    for _ in range(40):
        r = await client.get("/api/v1/cases", headers=bearer(token))
        statuses.append(r.status)
        body = await r.json()
    assert set(statuses) == {503}, statuses
    assert body["code"] == "catalogue_unavailable"
    assert r.headers["Retry-After"].isdigit()
    assert (await client.get("/healthz")).status == 200
    r = await client.get("/readyz")
    assert r.status == 503
    assert (await r.json())["checks"]["catalogue"] == "catalogue_unavailable"
    errors = _outage_lines(caplog)
    assert 1 <= len(errors) <= 3, errors  # one line per outage, not one per request
    assert not any("Traceback" in (r.exc_text or "") for r in caplog.records)

    cluster.start()
    for _ in range(50):
        r = await client.get("/readyz")
        if r.status == 200:
            break
        await asyncio.sleep(0.2)
    assert r.status == 200
    assert (await client.get("/api/v1/cases", headers=bearer(token))).status == 200
    assert any("available again" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
@pytest.mark.slow
async def test_worker_pool_survives_outage(cluster, make_settings, caplog):
    """Point 2: a database error inside the worker loop never ends it; after the outage the
    queued job runs without anyone restarting anything."""
    settings = make_settings(database_url=cluster.url, job_poll_seconds=0.2)
    db = Database(settings)
    upgrade(db.engine)
    pool = WorkerPool(settings, db, store=None, concurrency=2)  # type: ignore[arg-type]
    ran: list[str] = []
    pool.handlers = {"probe": lambda _s, _d, _st, subject, _p: ran.append(subject) or {"ok": 1}}
    task = asyncio.create_task(pool.run())
    try:
        await db.run(jobs.enqueue, "probe", "before")
        await _until(lambda: ran == ["before"])
        cluster.stop()
        await asyncio.sleep(3)  # claims fail for a while
        assert not task.done()
        assert pool.outage.down
        cluster.start()
        await db.run(jobs.enqueue, "probe", "after")  # retried by pre-ping after the restart
        await _until(lambda: ran == ["before", "after"], timeout=40)
        assert not pool.outage.down
        assert len([m for m in _outage_lines(caplog) if "unavailable" in m]) <= 2
    finally:
        pool.stop()
        await asyncio.wait_for(task, 30)
        db.close()


async def _until(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_transient_failure_does_not_spend_attempts(make_settings, tmp_path):
    """Point 4: a job that fails because the store is full waits for space instead of being
    failed for good after three quick attempts."""
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", job_poll_seconds=0.1)
    db = Database(settings)
    upgrade(db.engine)
    full = [True]
    runs: list[int] = []

    def handler(_s, _d, _st, subject, _p):  # type: ignore[no-untyped-def]
        runs.append(1)
        if full[0]:
            raise StoreFull("store is full")
        return {"ok": True}

    pool = WorkerPool(settings, db, store=None, concurrency=1)  # type: ignore[arg-type]
    pool.handlers = {"probe": handler}
    job_id = (await db.run(jobs.enqueue, "probe", "x", max_attempts=1)).id
    task = asyncio.create_task(pool.run())
    try:
        await _until(lambda: len(runs) >= 1)
        await asyncio.sleep(0.3)
        job = await db.run(lambda s: s.get(Job, job_id))
        assert job.state == "queued" and job.attempts == 0 and "waiting" in job.error
        full[0] = False
        await db.run(lambda s: s.execute(text("UPDATE jobs SET run_after = CURRENT_TIMESTAMP")))
        await _until(lambda: len(runs) >= 2)
        await asyncio.sleep(0.3)
        job = await db.run(lambda s: s.get(Job, job_id))
        assert job.state == "done", job.error
    finally:
        pool.stop()
        await asyncio.wait_for(task, 10)
        db.close()


async def test_sqlite_readers_do_not_wait_for_writers(make_settings, tmp_path, make_client):
    """Point 6: a plain read proceeds while another connection holds the write lock; a write
    that cannot get the lock within the busy timeout answers 503 catalogue_busy, never 500."""
    path = tmp_path / "c.db"
    settings = make_settings(
        database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=300, worker_in_server=False
    )
    client = await make_client(settings)
    from server.people.accounts import add_agency, add_user

    db = app_db(client)
    await db.run(
        lambda s: (add_agency(s, "A1", "One"), add_user(s, "adm", PASSWORD, "admin", None))
    )
    r = await client.post("/api/v1/auth/login", json={"username": "adm", "password": PASSWORD})
    token = (await r.json())["token"]

    new_user = {"username": "u9", "password": PASSWORD, "role": "officer", "agency": "A1"}
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process writing for a long time
    release = threading.Timer(5.0, holder.rollback)
    release.start()
    try:
        t0 = time.monotonic()
        n = await db.read(lambda s: s.execute(text("SELECT count(*) FROM agencies")).scalar())
        assert n == 1 and time.monotonic() - t0 < 0.3
        r = await client.post("/api/v1/users", headers=bearer(token), json=new_user)
        assert r.status == 503, await r.text()
        assert (await r.json())["code"] == "catalogue_busy"
        assert "Retry-After" in r.headers
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
    r = await client.post("/api/v1/users", headers=bearer(token), json=new_user)
    assert r.status in (200, 201), await r.text()


async def test_work_folders_of_killed_jobs_are_swept(make_settings, tmp_path):
    """Point 5: the scratch folders a killed media job or export leaves (its job still marked
    running, its lease run out) are removed when a worker pool starts; a folder whose job is
    alive under its lease is kept."""
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", job_lease_seconds=30)
    db = Database(settings)
    upgrade(db.engine)
    old = time.time() - 3600

    def leftover(path: Path) -> Path:
        path.mkdir(parents=True)
        (path / "out.ts").write_bytes(b"x" * 1000)
        os.utime(path, (old, old))
        return path

    dead = leftover(settings.data_path / "work" / "media-ITEMDEAD-abc123xy")
    alive = leftover(settings.data_path / "work" / "media-ITEMLIVE-zz9911aa")
    export_dead = leftover(settings.resolved_export_path / ".export-EXP1-q1w2e3r4")
    unrelated = leftover(settings.data_path / "work" / "notes")

    def jobs_as_left(s):  # type: ignore[no-untyped-def]
        from datetime import timedelta

        from server.catalogue.models import utcnow

        for kind, subject, lease in (
            ("media", "ITEMDEAD", -60),
            ("media", "ITEMLIVE", 600),
            ("export", "EXP1", -60),
        ):
            s.add(
                Job(
                    kind=kind,
                    subject=subject,
                    state="running",
                    worker="gone:1",
                    attempts=1,
                    lease_until=utcnow() + timedelta(seconds=lease),
                )
            )

    await db.run(jobs_as_left)
    pool = WorkerPool(settings, db, store=None, concurrency=1)  # type: ignore[arg-type]
    pool.handlers = {"probe": lambda *_a: {}}  # claims none of the left jobs
    task = asyncio.create_task(pool.run())
    try:
        await _until(lambda: not dead.exists() and not export_dead.exists(), timeout=10)
        assert alive.exists() and unrelated.exists()
    finally:
        pool.stop()
        await asyncio.wait_for(task, 10)
        db.close()


def test_same_stored_object_recorded_at_once_by_two_processes(db):
    """Point 9: two transactions record the same derived object at the same moment; neither
    fails with a unique violation (both backends; on SQLite the second waits for the lock)."""
    from server.catalogue.models import StoredObject
    from server.catalogue.objects import ensure_stored_object

    sha = "ab" * 32
    first_in = threading.Event()
    results: dict[str, object] = {}

    def one(name: str, hold: float) -> None:
        try:
            with db.session() as s:
                results[name] = ensure_stored_object(s, sha256=sha, size=10, role="derived")
                first_in.set()
                time.sleep(hold)
        except Exception as exc:  # reported below
            results[name] = exc

    a = threading.Thread(target=one, args=("a", 1.0))
    a.start()
    first_in.wait(10)
    b = threading.Thread(target=one, args=("b", 0.0))
    b.start()
    a.join(20)
    b.join(20)
    assert results == {"a": True, "b": False}, results
    assert db.call(lambda s: s.get(StoredObject, sha)).size == 10


def test_verify_package_accepts_config_like_every_command(tmp_path):
    """Point 11: `custodian verify-package … --config FILE` is not an argparse error."""
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    exe = Path(sys.executable).with_name("custodian")
    r = subprocess.run(
        [
            str(exe),
            "verify-package",
            str(tmp_path / "missing.zip"),
            "--config",
            str(cfg),
            "--data",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "unrecognized arguments" not in r.stderr, r.stderr
    assert r.returncode == 2 and "missing.zip" in (r.stdout + r.stderr)  # unreadable, named


async def test_media_job_dying_before_recording_leaves_no_unknown_object(
    make_client, make_settings, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    """Point 4: derived files are catalogued (as pending) before they reach the store, so a job
    that dies after storing them and before recording its renditions leaves nothing that
    `custodian verify` reports as planted; the re-run records them."""
    import server.media.job as media
    from helpers import add_evidence, app_store, make_clip
    from server.custody.signing import load_or_create_key
    from server.custody.verification import verify_all

    settings = make_settings(worker_in_server=False)
    client = await make_client(settings)
    db, store = app_db(client), app_store(client)
    from server.people.accounts import add_agency

    await db.run(lambda s: add_agency(s, "A1", "One"))
    item_id = await asyncio.to_thread(add_evidence, db, store, make_clip(tmp_path / "c.mp4"))
    real = media._record

    def dies(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("the worker died before recording its renditions")

    monkeypatch.setattr(media, "_record", dies)
    with pytest.raises(RuntimeError):
        await asyncio.to_thread(media.process_item, settings, db, store, item_id)
    key = load_or_create_key(settings)
    report = await asyncio.to_thread(verify_all, db, store, key.public_keys())
    assert not [p for p in report.problems if p.kind == "unexpected" or "planted" in p.message], (
        report.problems
    )
    monkeypatch.setattr(media, "_record", real)
    await asyncio.to_thread(media.process_item, settings, db, store, item_id)
    report = await asyncio.to_thread(verify_all, db, store, key.public_keys())
    # (The test's item was added without an ingest entry; only the objects are in question.)
    assert not [p for p in report.problems if p.where.startswith("object")], report.problems
    roles = await db.run(
        lambda s: {r for (r,) in s.execute(text("SELECT role FROM stored_objects"))}
    )
    assert "pending" not in roles


async def test_killed_cli_export_is_marked_failed_and_its_partial_removed(make_settings, tmp_path):
    """Point 5: `custodian export` holds its export as a leased job; when its process dies
    (the lease runs out), a worker pool marks the job and the export failed and removes the
    `.NAME.partial` it left beside --out. Nothing stays "running" for ever."""
    from server.catalogue.models import Case, Export
    from server.people.accounts import add_agency

    settings = make_settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}", job_lease_seconds=30, job_poll_seconds=0.2
    )
    db = Database(settings)
    upgrade(db.engine)
    target = tmp_path / "out" / "court.zip"
    target.parent.mkdir()
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(b"half a package")

    def as_left_by_a_killed_cli(s):  # type: ignore[no-untyped-def]
        agency = add_agency(s, "A1", "One")
        case = Case(
            agency_id=agency.id,
            number="K-1",
            title="t",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add(case)
        s.flush()
        e = Export(
            case_id=case.id, agency_id=agency.id, recipient="court", purpose="p", state="running"
        )
        s.add(e)
        s.flush()
        job_id = jobs.start_held(s, "export", e.id, "cli:host:99999", -1.0, str(target))
        return e.id, job_id

    export_id, job_id = await db.run(as_left_by_a_killed_cli)
    pool = WorkerPool(settings, db, store=None, concurrency=1)  # type: ignore[arg-type]
    ran: list[str] = []
    pool.handlers = {"export": lambda *_a: ran.append("ran") or {}}
    task = asyncio.create_task(pool.run())
    try:

        def state():  # type: ignore[no-untyped-def]
            return db.call(lambda s: (s.get(Export, export_id).state, s.get(Job, job_id).state))

        await _until(lambda: state() == ("failed", "failed"), timeout=40)
        assert not partial.exists()
        assert ran == []  # a held job is never run by someone else
        assert "gone" in db.call(lambda s: s.get(Export, export_id).error)
    finally:
        pool.stop()
        await asyncio.wait_for(task, 10)
        db.close()


@pytest.mark.slow
async def test_full_store_then_grown_media_job_heals(make_settings, tmp_path):
    """Point 4 with a real full store: the local store lives on a tmpfs that holds the original
    but not its renditions. The media job fails for lack of space, is re-queued without
    spending its attempts, leaves nothing unknown in the store, and once the tmpfs is grown
    it runs again and the item becomes ready."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run it as root (CI does)")
    from helpers import add_evidence, make_clip
    from server.catalogue.models import EvidenceItem
    from server.custody.signing import load_or_create_key
    from server.custody.verification import verify_all
    from server.media.job import MEDIA_JOB
    from server.store import open_store

    mnt = tmp_path / "store"
    mnt.mkdir()
    clip = make_clip(tmp_path / "DSJ9_20260301090000.mp4", seconds=4)
    size = clip.stat().st_size
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size + 64 * 1024}", "tmpfs", str(mnt)], check=True
    )
    db = None
    try:
        settings = make_settings(
            database_url=f"sqlite:///{tmp_path / 'c.db'}", store_path=str(mnt), job_poll_seconds=0.2
        )
        db = Database(settings)
        upgrade(db.engine)
        store = open_store(settings)
        from server.people.accounts import add_agency

        await db.run(lambda s: add_agency(s, "A1", "One"))
        item_id = await asyncio.to_thread(add_evidence, db, store, clip)
        job_id = (await db.run(jobs.enqueue, MEDIA_JOB, item_id, max_attempts=1)).id
        pool = WorkerPool(settings, db, store, concurrency=1)
        task = asyncio.create_task(pool.run())
        try:

            def job():  # type: ignore[no-untyped-def]
                return db.call(lambda s: s.get(Job, job_id))

            await _until(lambda: "waiting" in (job().error or ""), timeout=120)
            j = job()
            assert j.state == "queued" and j.attempts == 0, (j.state, j.attempts, j.error)
            key = load_or_create_key(settings)
            report = await asyncio.to_thread(verify_all, db, store, key.public_keys())
            assert not [p for p in report.problems if p.kind == "unexpected"], report.problems

            subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)  # grown
            await db.run(lambda s: s.execute(text("UPDATE jobs SET run_after = CURRENT_TIMESTAMP")))
            await _until(lambda: job().state == "done", timeout=180)
            item = await db.run(lambda s: s.get(EvidenceItem, item_id))
            assert item.status == "ready", (item.status, item.status_reason)
        finally:
            pool.stop()
            await asyncio.wait_for(task, 30)
    finally:
        if db is not None:
            db.close()
        subprocess.run(["umount", "-l", str(mnt)], check=False)
