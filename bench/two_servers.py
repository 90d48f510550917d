"""One server vs two servers on the same PostgreSQL: the API workload of bench/api_latency.py
(CLIENTS clients listing evidence, listing cases and opening a case), idle and while an ingest
and a media job run, with the load client sending its requests round-robin over the servers.

    .venv/bin/python bench/two_servers.py [--clients 50] [--seconds 20] [--rounds 3]
        [--pg-url URL] [--busy both|idle|busy]

Each round: a fresh database on the PostgreSQL of --pg-url (default CUSTODIAN_TEST_PG_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test; a database of its own, dropped afterwards),
one data folder (local store) shared by the servers, `custodian serve` A alone, then A and B
together. Prints req/s, p50/p99 and /healthz p99 of each, and the ratio two/one; medians of
the rounds. On a 2-core machine shared with the load client, two processes can at best use the
second core the GIL keeps one process from using.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_latency as al  # noqa: E402


def one_round(args: argparse.Namespace, work: Path, clip: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    data = work / "data"
    database_url = al.pg_database(args.pg_url)
    try:
        case_ids = al.fill_catalogue(data, database_url, args.items, args.cases, args.links)
        a_port = al.free_port()
        a = al.start_custodian(data, database_url, a_port)
        b = None
        try:
            a_url = f"http://127.0.0.1:{a_port}"
            tokens = [al.login(a_url, f"rev{n}") for n in range(al.USERS)]
            modes = [m for m in ("idle", "busy") if args.busy in (m, "both")]
            for mode in modes:
                out[f"one_{mode}"] = measure(
                    [a_url], [a.pid], tokens, case_ids, args, mode, work / f"busy1{mode}", clip
                )
                print(al.line(f"one server, {mode}", out[f"one_{mode}"]), flush=True)
            b_port = al.free_port()
            b = al.start_custodian(data, database_url, b_port)
            urls = [a_url, f"http://127.0.0.1:{b_port}"]
            for mode in modes:
                out[f"two_{mode}"] = measure(
                    urls, [a.pid, b.pid], tokens, case_ids, args, mode, work / f"busy2{mode}", clip
                )
                print(al.line(f"two servers, {mode}", out[f"two_{mode}"]), flush=True)
        finally:
            al.stop(a)
            if b is not None:
                al.stop(b)
    finally:
        al.drop_pg_database(args.pg_url, database_url)
    return out


def measure(
    urls: list[str],
    pids: list[int],
    tokens: list[str],
    case_ids: list[str],
    args: argparse.Namespace,
    mode: str,
    work: Path,
    clip: Path,
) -> dict[str, float]:
    if mode == "idle":
        return al.run_load(urls, tokens, case_ids, args.clients, args.seconds, pids=pids).summary()
    with al.Busy(urls[0], work, clip, args.filler_mb):  # the station docks to the first server
        al.wait_media_running(urls[0], tokens[0])
        return al.run_load(urls, tokens, case_ids, args.clients, args.seconds, pids=pids).summary()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg-url", default=al.PG_URL)
    ap.add_argument("--busy", choices=("both", "idle", "busy"), default="both")
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--links", type=int, default=10)
    ap.add_argument("--clip-seconds", type=int, default=600)
    ap.add_argument("--filler-mb", type=int, default=64)
    ap.add_argument("--cache", default=str(al.ROOT / "var" / "bench"))
    args = ap.parse_args()
    clip = al.make_clip(
        Path(args.cache) / f"api-clip-{args.clip_seconds}s-640x360.mp4",
        args.clip_seconds,
        "640x360",
    )
    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1}:", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-two-") as tmp:
            rounds.append(one_round(args, Path(tmp), clip))
    print(
        f"\nmedians of {args.rounds} rounds, {args.clients} clients, {args.seconds:g} s each, "
        "PostgreSQL:"
    )
    for mode in ("idle", "busy"):
        if f"one_{mode}" not in rounds[0]:
            continue
        one = {
            k: statistics.median(r[f"one_{mode}"][k] for r in rounds)
            for k in rounds[0][f"one_{mode}"]
        }
        two = {
            k: statistics.median(r[f"two_{mode}"][k] for r in rounds)
            for k in rounds[0][f"two_{mode}"]
        }
        print(al.line(f"one server, {mode}", one))
        print(al.line(f"two servers, {mode}", two))
        print(
            f"  two/one ({mode}): req/s {two['rps'] / one['rps']:.2f}x, p50 "
            f"{two['p50'] / one['p50']:.2f}x, p99 {two['p99'] / one['p99']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
