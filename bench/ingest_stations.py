"""Ingest from many stations at once: 10 docking stations (the real agent, `custodian ingest
--once`, tus over loopback) upload to one server together; total MiB/s and the server's CPU
seconds per GiB, against one raw SHA-256 pass (hashlib) over the same bytes in this script.

    .venv/bin/python bench/ingest_stations.py [--stations 10] [--mb 200] [--files 2] [--rounds 3]
        [--pg] [--tmp /tmp]

Each round: a fresh `custodian serve` (SQLite, or a fresh PostgreSQL database with --pg; local
store; no in-process worker, so media jobs wait in the queue for `custodian worker` and the
server's CPU is the intake's: receiving, hashing, writing, committing, ledgering), one station
account per station, and the station processes started together. The server's CPU seconds
(user + system, from /proc) are counted from the stations' start to the last one's exit, and
divided by the GiB received. The baseline is one hashlib SHA-256 pass over the same files from
the page cache (CPU seconds per GiB). The goal (issue 18) is server CPU <= 2x that pass.
Each station's files are distinct random bytes (footage does not compress or deduplicate),
generated once under --cache and hard-linked into each round's docks.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from _proc import cpu_seconds, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).with_name("custodian")
PASSWORD = "bench password 123"
GIB = 1024**3
MIB = 1024**2
GOAL = 2.0


def make_files(cache: Path, stations: int, files: int, mb: int) -> list[list[Path]]:
    """Per station, `files` files of distinct random bytes, `mb` MiB in all (cached)."""
    out = []
    size = mb * MIB // files
    block = os.urandom(4 * MIB)
    for st in range(stations):
        folder = cache / f"station{st:02d}-{files}x{size}"
        folder.mkdir(parents=True, exist_ok=True)
        mine = []
        for i in range(files):
            p = folder / f"DSJ{st:03d}_P20{st:02d}{i}_20240305{10 + i:02d}0000.mp4"
            if not p.exists() or p.stat().st_size != size:
                tmp = p.with_suffix(".part")
                with open(tmp, "wb") as f:
                    left = size
                    while left > 0:
                        head = (
                            st.to_bytes(2, "big") + i.to_bytes(2, "big") + left.to_bytes(8, "big")
                        )
                        chunk = (head + block)[: min(left, len(block))]
                        f.write(chunk)
                        left -= len(chunk)
                tmp.rename(p)
            mine.append(p)
        out.append(mine)
    return out


def sha256_pass(paths: list[Path]) -> tuple[float, int]:
    """CPU seconds of one hashlib SHA-256 pass over the files (1 MiB reads), and bytes."""
    for p in paths:  # warm the page cache first, as the agents' reads will have done
        with open(p, "rb") as f:
            while f.read(8 * MIB):
                pass
    total = 0
    t = time.process_time()
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(MIB):
                h.update(chunk)
                total += len(chunk)
    return time.process_time() - t, total


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw)


def one_round(
    work: Path, station_files: list[list[Path]], args: argparse.Namespace
) -> dict[str, float]:
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    env.update(
        {
            "CUSTODIAN_ADMIN_PASSWORD": PASSWORD,
            "CUSTODIAN_DATA_DIR": str(data),
            "CUSTODIAN_STORE_MIN_FREE_BYTES": "0",
            "CUSTODIAN_WORKER_IN_SERVER": "false",
            "CUSTODIAN_LOG_LEVEL": "WARNING",
        }
    )
    pg_name = None
    if args.pg:
        from sqlalchemy import create_engine, text

        pg_name = f"custodian_bench_{uuid.uuid4().hex[:10]}"
        with create_engine(args.pg_url, isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text(f'CREATE DATABASE "{pg_name}"'))
        env["CUSTODIAN_DATABASE_URL"] = args.pg_url.rsplit("/", 1)[0] + "/" + pg_name
    # Accounts first (one password hash for all), then the server.
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.people.accounts import add_agency, add_user
    from server.people.passwords import hash_password
    from server.settings import load_settings

    db = Database(load_settings(None, env=env))
    upgrade(db.engine)
    digest = hash_password(PASSWORD)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "BENCH", "Bench agency")
        for st in range(len(station_files)):
            add_user(s, f"station{st:02d}", PASSWORD, "station", "BENCH", password_hash=digest)

    db.call(setup)
    db.close()
    port = free_port()
    log = open(work / "server.log", "w")  # noqa: SIM115 - closed below
    argv = [str(BIN), "serve", "--port", str(port)]
    if args.profile:  # the server under cProfile (written when it stops)
        argv = [sys.executable, "-m", "cProfile", "-o", args.profile, *argv]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    agents: list[subprocess.Popen] = []  # type: ignore[type-arg]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.1)
        docks = []
        for st, files in enumerate(station_files):
            dock = work / f"dock{st:02d}"
            dock.mkdir()
            for p in files:
                os.link(p, dock / p.name)
                past = time.time() - 3600
                os.utime(dock / p.name, (past, past))
            creds = work / f"station{st:02d}.toml"
            creds.write_text(
                f'username = "station{st:02d}"\npassword = "{PASSWORD}"\n'
                f'station_id = "ST{st:02d}"\n'
            )
            docks.append((dock, creds))
        total = sum(p.stat().st_size for files in station_files for p in files)
        run(["sync"])
        cpu0, sys0 = cpu_seconds([server.pid]), cpu_seconds([server.pid], (12,))
        t0 = time.perf_counter()
        for st, (dock, creds) in enumerate(docks):
            agents.append(
                subprocess.Popen(
                    [
                        str(BIN),
                        "ingest",
                        "--server",
                        f"http://127.0.0.1:{port}",
                        "--dock",
                        str(dock),
                        "--credentials",
                        str(creds),
                        "--state",
                        str(work / f"state{st:02d}"),
                        "--once",
                        "--quiet-seconds",
                        "0",
                        "--heartbeat",
                        "0",
                        "--log-level",
                        "WARNING",
                        "--concurrency",
                        str(args.concurrency),
                        "--clear",
                        "move",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        for a in agents:
            out, _ = a.communicate(timeout=3600)
            if a.returncode != 0:
                raise SystemExit(f"a station failed ({a.returncode}):\n{out}")
        wall = time.perf_counter() - t0
        cpu = cpu_seconds([server.pid]) - cpu0
        kernel = cpu_seconds([server.pid], (12,)) - sys0
        for dock, _ in docks:
            cleared = list((dock / "cleared").iterdir())
            files = [p for p in dock.iterdir() if p.is_file()]
            assert not files and cleared, f"{dock}: not every file was confirmed and cleared"
    finally:
        for a in agents:
            if a.poll() is None:
                a.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if pg_name:
            from sqlalchemy import create_engine, text

            with create_engine(args.pg_url, isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    return {
        "gib": total / GIB,
        "wall_s": wall,
        "mibps": total / MIB / wall,
        "server_cpu_s": cpu,
        "server_cpu_per_gib": cpu / (total / GIB),
        "server_kernel_per_gib": kernel / (total / GIB),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--stations", type=int, default=10)
    ap.add_argument("--mb", type=int, default=200, help="MiB per station (default 200)")
    ap.add_argument("--files", type=int, default=2, help="files per station (default 2)")
    ap.add_argument("--concurrency", type=int, default=2, help="uploads per station (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; medians reported (default 3)")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL catalogue instead of SQLite")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "CUSTODIAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    ap.add_argument("--tmp", default="/tmp", help="work folder (default /tmp)")
    ap.add_argument("--cache", default="/tmp/custodian-bench-cache", help="generated files")
    ap.add_argument("--profile", help="run the server under cProfile, writing this file")
    args = ap.parse_args()
    # A stop (SIGTERM) unwinds like Ctrl-C, so the servers this run started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    station_files = make_files(Path(args.cache), args.stations, args.files, args.mb)
    every = [p for files in station_files for p in files]
    results = []
    for i in range(args.rounds):
        hash_cpu, hashed = sha256_pass(every)
        work = Path(tempfile.mkdtemp(prefix="custodian-bench-stations-", dir=args.tmp))
        try:
            res = one_round(work, station_files, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        res["sha256_per_gib"] = hash_cpu / (hashed / GIB)
        res["ratio"] = res["server_cpu_per_gib"] / res["sha256_per_gib"]
        results.append(res)
        print(
            f"round {i + 1}: {args.stations} stations, {res['gib']:.2f} GiB in "
            f"{res['wall_s']:.1f} s = {res['mibps']:.0f} MiB/s; server CPU "
            f"{res['server_cpu_per_gib']:.2f} s/GiB ({res['server_kernel_per_gib']:.2f} in the "
            f"kernel); one SHA-256 pass "
            f"{res['sha256_per_gib']:.2f} s/GiB; ratio {res['ratio']:.2f}x",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"median of {args.rounds} ({'PostgreSQL' if args.pg else 'SQLite'}): "
        f"{args.stations} stations at once {med['mibps']:.0f} MiB/s in total; server CPU "
        f"{med['server_cpu_per_gib']:.2f} s/GiB = {med['ratio']:.2f}x one SHA-256 pass "
        f"({med['sha256_per_gib']:.2f} s/GiB); goal <= {GOAL:.0f}x "
        f"({'met' if med['ratio'] <= GOAL else 'missed'})"
    )
    return 0 if med["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
