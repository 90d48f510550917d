"""Scale-out for real: nginx (TLS, a throwaway CA) in front of two `custodian serve` processes
and one `custodian worker` on PostgreSQL and S3 (moto). The agent docks files in small PATCHes
that alternate between the servers; every file is stored once, processed once, playable
through either server, and `custodian verify` passes. Then one server is killed with -9 in the
middle of an upload and the agent finishes it through the other."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scaleout_support import ROOT, Deployment, Nginx, clean_env, make_tls, stop_process
from sqlalchemy import func, select

from helpers import PASSWORD, free_port, make_clip
from integrity.hashing import sha256_bytes
from server.catalogue.db import Database
from server.catalogue.migrate import upgrade
from server.catalogue.models import EvidenceItem, Job, StoredObject, Upload
from server.people.accounts import add_agency, add_user
from server.settings import load_settings
from server.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]


@pytest.fixture
def deployment(pg_url: str, moto_endpoint: str, tmp_path: Path) -> Iterator[Deployment]:
    ca, cert, key = make_tls(tmp_path / "tls")
    ports = [free_port(), free_port()]
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    config = tmp_path / "custodian.toml"
    config.write_text(
        f'database_url = "{pg_url}"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        f'signing_key_path = "{tmp_path / "keys" / "signing_key.pem"}"\n'
        f'jwt_secret = "{"s" * 48}"\n'
        'store_backend = "s3"\n'
        f's3_endpoint_url = "{moto_endpoint}"\n'
        f's3_bucket = "{bucket}"\n'
        's3_access_key = "testing"\ns3_secret_key = "testing"\n'
        "upload_staging_part_bytes = 5242880\n"
        "worker_in_server = false\n"
        "job_poll_seconds = 0.2\n"
        "store_min_free_bytes = 0\n"
        'trusted_proxies = "127.0.0.1"\n'
        'log_level = "INFO"\n'
    )
    (tmp_path / "keys").mkdir()
    settings = load_settings(config, env={})
    db = Database(settings)
    upgrade(db.engine)
    open_store(settings).ensure_bucket()  # type: ignore[attr-defined]

    def users(s: Any) -> None:
        add_agency(s, "A1", "Agency one")
        add_user(s, "station", PASSWORD, "station", "A1")
        add_user(s, "reviewer", PASSWORD, "reviewer", "A1")

    db.call(users)
    db.close()
    nginx = Nginx(tmp_path / "nginx", free_port(), ports, cert, key)
    dep = Deployment(tmp_path, config, ports, nginx, ca)
    try:
        dep.start_server(0)  # the first creates the shared signing key
        dep.start_server(1)
        dep.worker = dep.custodian("worker", log="worker.log")
        nginx.start()
        yield dep
    finally:
        dep.stop()


def run_agent(dep: Deployment, dock: Path, *extra: str, wait: bool = True) -> Any:
    creds = dep.folder / "station.toml"
    creds.write_text(f'username = "station"\npassword = "{PASSWORD}"\n')
    creds.chmod(0o600)
    argv = [
        sys.executable,
        "-m",
        "server.cli",
        "ingest",
        "--server",
        dep.url,
        "--dock",
        str(dock),
        "--credentials",
        str(creds),
        "--once",
        "--station",
        "ST-1",
        "--state",
        str(dep.folder / "agent-state"),
        "--quiet-seconds",
        "0",
        "--scan-interval",
        "0.2",
        "--concurrency",
        "1",
        "--heartbeat",
        "0",
        *extra,
    ]
    # The agency's CA is given to the agent the standard way, nothing Custodian-specific.
    env = clean_env(SSL_CERT_FILE=str(dep.ca))
    log = open(dep.folder / "agent.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    if wait:
        code = proc.wait(timeout=240)
        assert code == 0, (dep.folder / "agent.log").read_text()[-4000:]
    return proc


def api(
    url: str,
    path: str,
    token: str | None = None,
    ctx: ssl.SSLContext | None = None,
    body: Any = None,
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def login(url: str, ctx: ssl.SSLContext | None = None) -> str:
    status, body = api(
        url, "/api/v1/auth/login", ctx=ctx, body={"username": "reviewer", "password": PASSWORD}
    )
    assert status == 200, body
    return str(json.loads(body)["token"])


def catalogue(dep: Deployment) -> Database:
    return Database(load_settings(dep.config, env={}))


def test_round_robin_through_nginx(deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    dock = tmp_path / "dock"
    dock.mkdir()
    # One clip over a 5 MiB S3 part (pieces become parts), two small ones.
    make_clip(
        dock / "cam1_big.mp4",
        seconds=4,
        size="640x480",
        extra=("-b:v", "14M", "-maxrate", "14M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr"),
    )
    make_clip(dock / "cam1_small0.mp4", seconds=1)
    make_clip(dock / "cam1_small1.mp4", seconds=1, size="160x120")
    files = {p.name: p.read_bytes() for p in dock.glob("*.mp4")}
    assert len(files["cam1_big.mp4"]) > 5 * 1024 * 1024
    hashes = {name: sha256_bytes(data) for name, data in files.items()}
    run_agent(dep, dock, "--chunk-mb", "0.5")

    db = catalogue(dep)
    try:
        # Every PATCH of an upload went through nginx; they alternated between the servers.
        patches = [ln for ln in dep.nginx.upstream_lines() if ln[0] == "PATCH"]
        by_upload: dict[str, set[str]] = {}
        for _m, uri, status, upstream in patches:
            assert status == "204", patches
            by_upload.setdefault(uri, set()).add(upstream)
        both = {f"127.0.0.1:{p}" for p in dep.ports}
        assert len(by_upload) == 3
        big = db.call(
            lambda s: s.scalar(select(Upload.id).where(Upload.filename == "cam1_big.mp4"))
        )
        assert by_upload[f"/api/v1/uploads/{big}"] == both
        assert {u for ups in by_upload.values() for u in ups} == both

        # Stored once, one item each, processed once.
        deadline = time.monotonic() + 180
        while db.call(
            lambda s: s.scalar(
                select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running")))
            )
        ):
            assert time.monotonic() < deadline, "media jobs not done"
            assert dep.worker is not None and dep.worker.poll() is None, "the worker died"
            time.sleep(0.5)
        items = db.call(lambda s: list(s.scalars(select(EvidenceItem))))
        assert sorted(i.sha256 for i in items) == sorted(hashes.values())
        originals = db.call(
            lambda s: list(s.scalars(select(StoredObject).where(StoredObject.role == "original")))
        )
        assert sorted(o.sha256 for o in originals) == sorted(hashes.values())
        jobs = db.call(lambda s: list(s.scalars(select(Job))))
        assert sorted(j.subject for j in jobs) == sorted(i.id for i in items)
        assert all(j.state == "done" and j.attempts == 1 for j in jobs), [
            (j.state, j.attempts, j.error) for j in jobs
        ]
        store = open_store(load_settings(dep.config, env={}))
        for name, data in files.items():
            assert store.read_all(hashes[name]) == data
        assert list(store.stray_files()) == []
    finally:
        db.close()

    # Visible and playable through either server, and through nginx over TLS.
    ctx = dep.ssl_context()
    for url, c in [(f"http://127.0.0.1:{p}", None) for p in dep.ports] + [(dep.url, ctx)]:
        token = login(url, c)
        for item in items:
            status, body = api(url, f"/api/v1/evidence/{item.id}", token, c)
            assert status == 200, body
            assert json.loads(body)["status"] == "ready", body
            status, playlist = api(url, f"/api/v1/evidence/{item.id}/hls/index.m3u8", token, c)
            assert status == 200 and playlist.startswith(b"#EXTM3U"), playlist[:200]
            segment = next(
                line for line in playlist.decode().splitlines() if line and not line.startswith("#")
            )
            status, seg = api(url, f"/api/v1/evidence/{item.id}/hls/{segment}", token, c)
            assert status == 200 and len(seg) > 0

    verify = subprocess.run(
        [sys.executable, "-m", "server.cli", "verify", "--config", str(dep.config)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout[-4000:] + verify.stderr[-4000:]


def test_kill_9_of_a_server_mid_upload_loses_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    dock = tmp_path / "dock"
    dock.mkdir()
    data = os.urandom(24 * 1024 * 1024 + 4321)
    (dock / "cam1_long.mp4").write_bytes(data)
    digest = sha256_bytes(data)
    # 1 MiB PATCHes at 4 MiB/s: about six seconds of upload, alternating between the servers.
    agent = run_agent(
        dep,
        dock,
        "--chunk-mb",
        "1",
        "--limit-rate",
        str(4 * 1024 * 1024),
        "--backoff-max",
        "1",
        wait=False,
    )
    db = catalogue(dep)
    try:
        deadline = time.monotonic() + 60
        while True:  # a third of the way in, kill -9 one server in the middle of a PATCH
            assert time.monotonic() < deadline, "the upload never got going"
            got = db.call(lambda s: s.scalar(select(Upload.received)))
            if got is not None and got > len(data) // 3:
                break
            time.sleep(0.05)
        victim = dep.servers[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        seen = len(dep.nginx.upstream_lines())
        assert db.call(lambda s: s.scalar(select(Upload.received))) < len(data)
        code = agent.wait(timeout=240)
        assert code == 0, (dep.folder / "agent.log").read_text()[-4000:]
        (u,) = db.call(lambda s: list(s.scalars(select(Upload))))
        assert u.state == "committed" and u.server_sha256 == digest
        assert db.call(lambda s: s.scalar(select(EvidenceItem.sha256))) == digest
        assert open_store(load_settings(dep.config, env={})).read_all(digest) == data
        # The survivor took the PATCHes after the kill.
        after = [ln for ln in dep.nginx.upstream_lines()[seen:] if ln[0] == "PATCH"]
        done = [ln for ln in after if ln[2] == "204"]
        assert done and all(ln[3] == f"127.0.0.1:{dep.ports[1]}" for ln in done), after
    finally:
        db.close()
        stop_process(agent)
