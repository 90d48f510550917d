"""Ingest throughput: a dock of footage uploaded over loopback to a real server, end to end,
as a ratio of `cp` of the same files in the same run.

    .venv/bin/python bench/ingest.py --mb 1024 --files 8 --rounds 3

Each round: a fresh server (`custodian serve`, SQLite + local store) and a fresh dock; the time
is the `custodian ingest --once` process from start to exit (login, scan, hashing, tus upload,
server hash + commit + fsync, confirmation, clearing). The baselines copy the same files with
`cp` (page cache only) and `cp` + `sync` (durable, as the server's commit is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).with_name("custodian")
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_dock(src: Path, n: int, total_mb: int) -> list[Path]:
    """n files of random bytes (incompressible like footage), modified an hour ago."""
    src.mkdir(parents=True)
    size = total_mb * 1024 * 1024 // n
    block = os.urandom(4 * 1024 * 1024)
    files = []
    for i in range(n):
        p = src / f"DSJ{i:03d}_P1000{i}_20240305{i:02d}0000.mp4"
        with open(p, "wb") as f:
            left = size
            while left > 0:
                # vary each block so no two files (or blocks) hash the same
                chunk = (i.to_bytes(4, "big") + left.to_bytes(8, "big") + block)[
                    : min(left, len(block))
                ]
                f.write(chunk)
                left -= len(chunk)
        past = time.time() - 3600
        os.utime(p, (past, past))
        files.append(p)
    return files


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw)


def start_server(data: Path, port: int) -> subprocess.Popen:  # type: ignore[type-arg]
    env = {**os.environ, "CUSTODIAN_ADMIN_PASSWORD": PASSWORD, "CUSTODIAN_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [str(BIN), "serve", "--data", str(data), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit("server did not start")
    run([str(BIN), "agency", "add", "BENCH", "--data", str(data)])
    run(
        [
            str(BIN),
            "user",
            "add",
            "station",
            "--role",
            "station",
            "--agency",
            "BENCH",
            "--password-stdin",
            "--data",
            str(data),
        ],
        input=PASSWORD + "\n",
    )
    return proc


def checksum_flag(args: argparse.Namespace) -> str:
    return "chunk-checksum" if args.chunk_checksum else "no-chunk-checksum"


def one_round(work: Path, files: list[Path], args: argparse.Namespace) -> dict[str, float]:
    total = sum(p.stat().st_size for p in files)
    # Baseline 1: cp of the same files (page cache).
    dst = work / "cp"
    dst.mkdir()
    t = time.perf_counter()
    run(["cp", *map(str, files), str(dst)])
    cp_s = time.perf_counter() - t
    shutil.rmtree(dst)
    # Baseline 2: cp + sync (durable like the server's commit).
    run(["sync"])
    dst.mkdir()
    t = time.perf_counter()
    run(["cp", *map(str, files), str(dst)])
    run(["sync"])
    cp_sync_s = time.perf_counter() - t
    shutil.rmtree(dst)

    dock = work / "dock"
    dock.mkdir()
    for p in files:  # hard links: the dock holds the same bytes without another copy
        os.link(p, dock / p.name)
    data = work / "data"
    port = free_port()
    server = start_server(data, port)
    creds = work / "creds.toml"
    creds.write_text(f'username = "station"\npassword = "{PASSWORD}"\n')
    try:
        run(["sync"])
        t = time.perf_counter()
        r = subprocess.run(
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
                str(work / "state"),
                "--once",
                "--service",
                "--log-level",
                "WARNING",
                "--concurrency",
                str(args.concurrency),
                "--clear",
                "move",
            ]
            + ([] if args.chunk_mb is None else ["--chunk-mb", str(args.chunk_mb)])
            + ([] if args.chunk_checksum is None else [f"--{checksum_flag(args)}"]),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        ingest_s = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(f"ingest failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    cleared = list((dock / "cleared").iterdir())
    assert len(cleared) == len(files), "not every file was confirmed and cleared"
    mb = total / 1024 / 1024
    return {
        "mb": mb,
        "cp_s": cp_s,
        "cp_sync_s": cp_sync_s,
        "ingest_s": ingest_s,
        "cp_MBps": mb / cp_s,
        "cp_sync_MBps": mb / cp_sync_s,
        "ingest_MBps": mb / ingest_s,
        "ratio_cp": cp_s / ingest_s,
        "ratio_cp_sync": cp_sync_s / ingest_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--mb", type=int, default=1024, help="total size of the dock in MiB (default 1024)"
    )
    ap.add_argument("--files", type=int, default=8, help="number of files (default 8)")
    ap.add_argument(
        "--rounds", type=int, default=3, help="rounds; the median is reported (default 3)"
    )
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--chunk-mb", type=float, help="bytes per PATCH (default: the agent's)")
    ap.add_argument(
        "--chunk-checksum",
        dest="chunk_checksum",
        action="store_true",
        default=None,
        help="Upload-Checksum per PATCH (default: the agent's, off)",
    )
    ap.add_argument("--no-chunk-checksum", dest="chunk_checksum", action="store_false")
    ap.add_argument("--tmp", help="work folder (default: system temp)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="custodian-bench-ingest-", dir=args.tmp))
    try:
        files = make_dock(base / "src", args.files, args.mb)
        results = []
        for i in range(args.rounds):
            work = base / f"round{i}"
            work.mkdir()
            res = one_round(work, files, args)
            shutil.rmtree(work)
            results.append(res)
            print(
                f"round {i + 1}: {res['mb']:.0f} MiB  cp {res['cp_MBps']:.0f} MiB/s  "
                f"cp+sync {res['cp_sync_MBps']:.0f} MiB/s  ingest {res['ingest_MBps']:.0f} MiB/s  "
                f"ratio {res['ratio_cp']:.2f}x cp, {res['ratio_cp_sync']:.2f}x cp+sync",
                flush=True,
            )
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"median of {args.rounds}: ingest {med['ingest_MBps']:.0f} MiB/s end to end = "
            f"{med['ratio_cp']:.2f}x cp ({med['cp_MBps']:.0f} MiB/s), "
            f"{med['ratio_cp_sync']:.2f}x cp+sync ({med['cp_sync_MBps']:.0f} MiB/s); goal >= 0.5x cp"
        )
        return 0 if med["ratio_cp"] >= 0.5 else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
