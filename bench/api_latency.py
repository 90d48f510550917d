"""API latency under concurrent clients, measured from outside, with and without an ingest and a
media job running, on SQLite (embedded default) and PostgreSQL.

    .venv/bin/python bench/api_latency.py [--clients 50] [--seconds 20] [--rounds 3]
        [--backends sqlite,postgres] [--pg-url URL] [--busy both|idle|busy]

Each round and backend: a fresh catalogue (ITEMS evidence items of one agency, CASES cases with
LINKS items each) and a fresh `custodian serve` (local store, in-process workers). CLIENTS
clients of this process (the load client; it shares the machine's cores with the server) loop
over: list evidence (a page of 50), list cases (a page of 50), open a random case; one more
client asks /healthz every 50 ms. The figures: requests/s of the three API calls, p50/p99 of
their latency, /healthz p99. "busy" adds, for the whole window, an ingest (`custodian ingest`
docking footage and filler files again and again) and a media job (each docked clip is one).

`--think S` makes each client pause S seconds on average between requests (a person reading
the page), for sizing: how many such clients a server answers within the goal. The server's
CPU time per request (all its threads, from /proc) is printed too: on a machine shared with
other work it is steadier than latency.

Baseline in the same run: a trivial aiohttp server (one handler answering the bytes of a real
evidence page, no database) under the same clients, so the machine's noise and the load
client's own ceiling are visible. The goal is p99 < 200 ms for the API calls at 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _proc import WITH_CHILDREN, cpu_seconds, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).with_name("custodian")
PASSWORD = "bench password 123"
JWT_SECRET = "bench-api-latency-secret-" + "x" * 32
PG_URL = os.environ.get(
    "CUSTODIAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
USERS = 10  # reviewer accounts the clients share (client i uses account i % USERS)
GOAL_P99_MS = 200.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- catalogue -------------------------------------------------------------------------------
def pg_database(admin_url: str) -> str:
    """A fresh database on the PostgreSQL of admin_url; returns its URL."""
    from sqlalchemy import create_engine, text

    name = f"bench_api_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


def server_env(data: Path, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CUSTODIAN_ADMIN_PASSWORD": PASSWORD,
        "CUSTODIAN_LOG_LEVEL": "WARNING",
        "CUSTODIAN_JWT_SECRET": JWT_SECRET,
        "CUSTODIAN_STORE_MIN_FREE_BYTES": "0",
    }
    if database_url:
        env["CUSTODIAN_DATABASE_URL"] = database_url
    return env


def fill_catalogue(data: Path, database_url: str, items: int, cases: int, links: int) -> list[str]:
    """Agency BENCH, USERS reviewers and a station, ITEMS items, CASES cases (LINKS items each,
    two approvals-free records-free stages); returns the case ids."""
    import hashlib

    from server.catalogue.models import Case, CaseLink, EvidenceItem, StoredObject
    from server.cli import open_db
    from server.people.accounts import add_agency, add_user
    from server.settings import load_settings

    overrides: dict[str, Any] = {"data_dir": str(data), "jwt_secret": JWT_SECRET}
    if database_url:
        overrides["database_url"] = database_url
    db = open_db(load_settings(None, env={}, overrides=overrides))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def fill(s: Any) -> list[str]:
        agency = add_agency(s, "BENCH", "Bench agency")
        for n in range(USERS):
            add_user(s, f"rev{n}", PASSWORD, "reviewer", "BENCH")
        add_user(s, "station", PASSWORD, "station", "BENCH")
        keys = [hashlib.sha256(f"bench api {n}".encode()).hexdigest() for n in range(items)]
        s.add_all([StoredObject(sha256=k, size=1000, role="original") for k in keys])
        s.flush()
        rows = []
        for n, key in enumerate(keys):
            rows.append(
                EvidenceItem(
                    sha256=key,
                    size=1000,
                    kind="video" if n % 10 else "photo",
                    status="ready",
                    original_filename=f"DSJ{n % 50:03d}_{n}.mp4",
                    agency_id=agency.id,
                    device_id=f"DSJ{n % 50:03d}",
                    officer_id=f"P{n % 200:04d}",
                    station_id=f"ST{n % 5}",
                    recorded_at=t0 + timedelta(minutes=n),
                    received_at=t0 + timedelta(minutes=n, seconds=30),
                    media_info={"probe": {"duration_s": 60.0}},
                )
            )
        s.add_all(rows)
        s.flush()
        ids = []
        for c in range(cases):
            case = Case(
                agency_id=agency.id,
                number=f"BENCH-{c:04d}",
                title=f"bench case {c}",
                enforcement_type="penalty",
                procedure="general",
                opened_at=t0 + timedelta(hours=c),
            )
            s.add(case)
            s.flush()
            for k in range(links):
                s.add(
                    CaseLink(
                        case_id=case.id,
                        item_id=rows[(c * links + k) % items].id,
                        stage="investigation",
                    )
                )
            ids.append(case.id)
        return ids

    try:
        return db.call(fill)
    finally:
        db.close()


# -- servers ---------------------------------------------------------------------------------
def wait_up(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{what} did not start")


def start_custodian(data: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    log = open(data.parent / f"server-{port}.log", "wb")  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen(
        [str(BIN), "serve", "--data", str(data), "--port", str(port)],
        cwd=ROOT,
        env=server_env(data, database_url),
        stdout=log,
        stderr=log,
    )
    wait_up(f"http://127.0.0.1:{port}", proc, "custodian serve")
    return proc


TRIVIAL = """
import sys
from aiohttp import web
body = open(sys.argv[2], "rb").read()
async def page(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/{tail:.*}", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def start_trivial(body: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL, str(port), str(body)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(f"http://127.0.0.1:{port}", proc, "trivial aiohttp server")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login(url: str, username: str) -> str:
    import json

    req = urllib.request.Request(
        f"{url}/api/v1/auth/login",
        method="POST",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return str(json.loads(r.read())["token"])


# -- the load ----------------------------------------------------------------------------------
@dataclass
class Result:
    seconds: float
    api: dict[str, list[float]] = field(
        default_factory=lambda: {"evidence": [], "cases": [], "case": []}
    )
    health: list[float] = field(default_factory=list)
    errors: int = 0
    server_cpu: float = float("nan")  # CPU seconds of the server processes while measuring

    @property
    def all_ms(self) -> list[float]:
        return [v for vs in self.api.values() for v in vs]

    def summary(self) -> dict[str, float]:
        every = self.all_ms
        return {
            "rps": len(every) / self.seconds,
            "p50": pct(every, 0.5),
            "p99": pct(every, 0.99),
            "cpu_ms": self.server_cpu * 1000 / max(1, len(every)),
            "health_p99": pct(self.health, 0.99),
            "errors": float(self.errors),
            **{f"p99_{k}": pct(v, 0.99) for k, v in self.api.items()},
        }


async def _load(
    urls: list[str],
    tokens: list[str],
    case_ids: list[str],
    clients: int,
    seconds: float,
    warmup: float,
    pids: list[int],
    think: float,
) -> Result:
    import aiohttp

    rng = random.Random(7)
    counter = [0]
    stop_at = [0.0]
    measuring = [False]
    res = Result(seconds)
    timeout = aiohttp.ClientTimeout(total=120)
    conn = aiohttp.TCPConnector(limit=0, force_close=False)

    def next_url() -> str:  # round-robin over the servers, per request
        counter[0] += 1
        return urls[counter[0] % len(urls)]

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        calls = [
            ("evidence", "/api/v1/evidence?limit=50"),
            ("cases", "/api/v1/cases?limit=50"),
            ("case", None),
        ]
        i = n
        while time.monotonic() < stop_at[0]:
            kind, path = calls[i % 3]
            i += 1
            if path is None:
                path = f"/api/v1/cases/{rng.choice(case_ids)}"
            t = time.perf_counter()
            try:
                async with session.get(next_url() + path, headers=headers) as r:
                    await r.read()
                    ok = r.status == 200
            except aiohttp.ClientError:
                ok = False
            ms = (time.perf_counter() - t) * 1000
            if measuring[0]:
                if ok:
                    res.api[kind].append(ms)
                else:
                    res.errors += 1
            if think:  # a person reading the page before the next click
                await asyncio.sleep(rng.uniform(0, 2 * think))

    async def health(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop_at[0]:
            t = time.perf_counter()
            try:
                async with session.get(next_url() + "/healthz") as r:
                    await r.read()
            except aiohttp.ClientError:
                pass
            if measuring[0]:
                res.health.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.05)

    async with (
        aiohttp.ClientSession(connector=conn, timeout=timeout) as session,
        aiohttp.ClientSession(timeout=timeout) as hsession,
    ):
        stop_at[0] = time.monotonic() + warmup + seconds
        tasks = [asyncio.create_task(client(n, session)) for n in range(clients)]
        tasks.append(asyncio.create_task(health(hsession)))
        await asyncio.sleep(warmup)
        measuring[0] = True
        t0, cpu0 = time.monotonic(), cpu_seconds(pids, WITH_CHILDREN)
        await asyncio.gather(*tasks)
        res.seconds = time.monotonic() - t0
        res.server_cpu = cpu_seconds(pids, WITH_CHILDREN) - cpu0
    return res


def run_load(
    urls: list[str],
    tokens: list[str],
    case_ids: list[str],
    clients: int,
    seconds: float,
    warmup: float = 3.0,
    pids: list[int] | None = None,
    think: float = 0.0,
) -> Result:
    """CLIENTS clients for SECONDS (after WARMUP), each waiting THINK s on average between
    requests (0: back to back); PIDS: the server processes (their CPU time is reported)."""
    return asyncio.run(_load(urls, tokens, case_ids, clients, seconds, warmup, pids or [], think))


# -- ingest + media job in the background ---------------------------------------------------------
def make_clip(path: Path, seconds: int, size: str) -> Path:
    """An H.264/AAC body-camera-like clip (testsrc2 + sine), cached."""
    from transcode._tools import ffmpeg_exe

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
                    "-c:a", "aac", "-shortest", str(tmp)], check=True)  # fmt: skip
    tmp.rename(path)
    return path


class Busy:
    """`custodian ingest` docking a new clip (one media job each) and filler files, again and
    again, until stopped."""

    def __init__(self, url: str, work: Path, clip: Path, filler_mb: int):
        self.url, self.work, self.clip, self.filler_mb = url, work, clip, filler_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.docked = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def _dock(self, n: int) -> Path:
        from transcode._tools import ffmpeg_exe

        dock = self.work / f"dock{n}"
        dock.mkdir(parents=True)
        stamp = (datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=n)).strftime("%Y%m%d%H%M%S")
        # A new clip (a remux with a distinct title: other bytes, the same media work).
        subprocess.run(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-y",
                "-i",
                str(self.clip),
                "-c",
                "copy",
                "-metadata",
                f"title=bench {n} {uuid.uuid4()}",
                str(dock / f"DSJ001_P10001_{stamp}.mp4"),
            ],
            check=True,
        )
        block = os.urandom(1 << 20)
        with open(dock / f"DSJ002_P10002_{stamp}.mp4", "wb") as f:
            for k in range(self.filler_mb):
                f.write(n.to_bytes(8, "big") + k.to_bytes(8, "big") + block[16:])
        past = time.time() - 3600
        for p in dock.iterdir():
            os.utime(p, (past, past))
        return dock

    def _loop(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        creds = self.work / "creds.toml"
        creds.write_text(f'username = "station"\npassword = "{PASSWORD}"\n')
        n = 0
        while not self._stop.is_set():
            dock = self._dock(n)
            self.proc = subprocess.Popen(
                [
                    str(BIN),
                    "ingest",
                    "--server",
                    self.url,
                    "--dock",
                    str(dock),
                    "--credentials",
                    str(creds),
                    "--state",
                    str(self.work / f"state{n}"),
                    "--once",
                    "--service",
                    "--log-level",
                    "WARNING",
                    "--clear",
                    "move",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.proc.wait()
            if self.proc.returncode == 0:
                self.docked += 1
            shutil.rmtree(dock, ignore_errors=True)
            n += 1

    def __enter__(self) -> Busy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self._thread.join(timeout=120)


def wait_media_running(url: str, token: str, timeout: float = 120.0) -> bool:
    """Wait until a media job is running (an item in status processing)."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        req = urllib.request.Request(
            f"{url}/api/v1/evidence?status=processing&limit=5",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            if json.loads(r.read())["items"]:
                return True
        time.sleep(0.2)
    return False


# -- one round ------------------------------------------------------------------------------------
def line(label: str, s: dict[str, float]) -> str:
    return (
        f"  {label:<28} {s['rps']:7.0f} req/s  p50 {s['p50']:7.1f} ms  p99 {s['p99']:7.1f} ms"
        f"  (evidence {s['p99_evidence']:.0f}, cases {s['p99_cases']:.0f}, case "
        f"{s['p99_case']:.0f})  /healthz p99 {s['health_p99']:6.1f} ms  server CPU "
        f"{s['cpu_ms']:.1f} ms/req" + (f"  errors {s['errors']:.0f}" if s["errors"] else "")
    )


def one_round(
    backend: str, args: argparse.Namespace, work: Path, clip: Path
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    data = work / "data"
    database_url = pg_database(args.pg_url) if backend == "postgres" else ""
    try:
        case_ids = fill_catalogue(data, database_url, args.items, args.cases, args.links)
        port = free_port()
        server = start_custodian(data, database_url, port)
        url = f"http://127.0.0.1:{port}"
        try:
            tokens = [login(url, f"rev{n}") for n in range(USERS)]
            body = work / "page.json"
            req = urllib.request.Request(
                f"{url}/api/v1/evidence?limit=50", headers={"Authorization": f"Bearer {tokens[0]}"}
            )
            with urllib.request.urlopen(req) as r:
                body.write_bytes(r.read())
            if not args.no_baseline:
                tport = free_port()
                trivial = start_trivial(body, tport)
                try:
                    out["trivial"] = run_load(
                        [f"http://127.0.0.1:{tport}"],
                        tokens,
                        case_ids,
                        args.clients,
                        args.seconds,
                        pids=[trivial.pid],
                        think=args.think,
                    ).summary()
                finally:
                    stop(trivial)
                print(line("trivial aiohttp", out["trivial"]), flush=True)
            if args.busy in ("both", "idle"):
                out["idle"] = run_load(
                    [url],
                    tokens,
                    case_ids,
                    args.clients,
                    args.seconds,
                    pids=[server.pid],
                    think=args.think,
                ).summary()
                print(line(f"custodian {backend}", out["idle"]), flush=True)
            if args.busy in ("both", "busy"):
                with Busy(url, work / "busy", clip, args.filler_mb) as busy:
                    running = wait_media_running(url, tokens[0])
                    out["busy"] = run_load(
                        [url],
                        tokens,
                        case_ids,
                        args.clients,
                        args.seconds,
                        pids=[server.pid],
                        think=args.think,
                    ).summary()
                    still = wait_media_running(url, tokens[0], timeout=0.5)
                print(
                    line(f"custodian {backend} + ingest", out["busy"])
                    + f"  [media job running at start: {running}, at end: {still}; "
                    f"{busy.docked} docks done]",
                    flush=True,
                )
        finally:
            stop(server)
    finally:
        if database_url:
            drop_pg_database(args.pg_url, database_url)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--busy", choices=("both", "idle", "busy"), default="both")
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--links", type=int, default=10, help="items linked to each case")
    ap.add_argument("--clip-seconds", type=int, default=600, help="length of the docked clip")
    ap.add_argument("--filler-mb", type=int, default=64, help="filler file docked with each clip")
    ap.add_argument("--cache", default=str(ROOT / "var" / "bench"))
    ap.add_argument("--no-baseline", action="store_true", help="skip the trivial aiohttp run")
    ap.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause of each client between requests, s (default 0: back to back)",
    )
    args = ap.parse_args()
    clip = make_clip(
        Path(args.cache) / f"api-clip-{args.clip_seconds}s-640x360.mp4",
        args.clip_seconds,
        "640x360",
    )
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    for r in range(args.rounds):
        for backend in args.backends.split(","):
            print(f"round {r + 1}, {backend}:", flush=True)
            with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
                results.setdefault(backend, []).append(one_round(backend, args, Path(tmp), clip))
    print(
        f"\nmedians of {args.rounds} rounds, {args.clients} clients, {args.seconds:g} s each "
        f"(goal: p99 < {GOAL_P99_MS:.0f} ms):"
    )
    ok = True
    for backend, rounds in results.items():
        for label in ("trivial", "idle", "busy"):
            if label not in rounds[0]:
                continue
            med = {k: statistics.median(r[label][k] for r in rounds) for k in rounds[0][label]}
            name = {
                "trivial": "trivial aiohttp",
                "idle": f"custodian {backend}",
                "busy": f"custodian {backend} + ingest",
            }[label]
            extra = ""
            if label != "trivial" and "trivial" in rounds[0]:
                triv = {
                    k: statistics.median(r["trivial"][k] for r in rounds) for k in ("rps", "p99")
                }
                extra = f"  = {med['rps'] / triv['rps']:.2f}x trivial req/s"
            if label != "trivial":
                extra += f", p99 {med['p99'] / GOAL_P99_MS:.2f}x goal"
                if label == "idle":
                    ok = ok and med["p99"] < GOAL_P99_MS
            print(line(name, med) + extra)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
