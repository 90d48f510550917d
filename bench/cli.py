"""Start-up cost of short `custodian` commands against `python -c "import aiohttp"` (issue 17.10:
goal, every short command within 2x that). Medians of --rounds runs, the commands interleaved
round by round so a busy machine weighs on all of them alike; printed as the ratio.

    .venv/bin/python bench/cli.py [--rounds 7] [--importtime]

--importtime also prints, per command, the modules that cost most to import (python -X
importtime, cumulative, top level), to see where the rest of the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bench-password-" + "x" * 12


def timed(argv: list[str], env: dict[str, str], stdin: str = "") -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, env=env, timeout=300, input=stdin.encode())
    took = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return took


def top_imports(argv: list[str], env: dict[str, str], stdin: str, n: int = 8) -> list[str]:
    """The n top-level imports with the largest cumulative import time (ms)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        env=env,
        timeout=300,
        input=stdin.encode(),
    )
    rows = []
    for line in r.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = line[len("import time:") :].split("|")
            if cum.strip().isdigit() and not name.startswith("  "):  # top level only
                rows.append((int(cum) / 1000, name.strip()))
    return [f"{name} {ms:.0f}ms" for ms, name in sorted(rows, reverse=True)[:n]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--importtime", action="store_true")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("custodian"))
    data = tempfile.mkdtemp(prefix="bench-cli-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    env["CUSTODIAN_JWT_SECRET"] = "b" * 48
    subprocess.run([exe, "migrate", "--data", data], check=True, capture_output=True, env=env)
    subprocess.run(
        [exe, "agency", "add", "BENCH", "--data", data], check=True, capture_output=True, env=env
    )
    baseline = "python -c 'import aiohttp' (baseline)"
    # name -> (argv for round n, stdin)
    commands = {
        baseline: (lambda n: [sys.executable, "-c", "import aiohttp"], ""),
        "custodian --help": (lambda n: [exe, "--help"], ""),
        "custodian migrate (up to date)": (lambda n: [exe, "migrate", "--data", data], ""),
        "custodian agency add": (lambda n: [exe, "agency", "add", f"B{n}", "--data", data], ""),
        "custodian user add": (
            lambda n: [
                exe,
                "user",
                "add",
                f"bench{n}",
                "--role",
                "officer",
                "--agency",
                "BENCH",
                "--password-stdin",
                "--data",
                data,
            ],
            PASSWORD + "\n",
        ),
        "custodian keys": (lambda n: [exe, "keys", "--data", data], ""),
        "custodian officer list": (lambda n: [exe, "officer", "list", "--data", data], ""),
    }
    results: dict[str, list[float]] = {k: [] for k in commands}
    for n in range(args.rounds):
        for name, (argv, stdin) in commands.items():
            results[name].append(timed(argv(n), env, stdin))
    base = statistics.median(results[baseline])
    print(f"{'command':40} {'median s':>9} {'x baseline':>11}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:40} {med:9.3f} {med / base:11.2f}")
    if args.importtime:
        for name, (argv, stdin) in commands.items():
            if name != baseline:
                cmd = argv(args.rounds + 1)
                cmd = ["-m", "server.cli", *cmd[1:]]
                print(f"{name}: " + ", ".join(top_imports(cmd, env, stdin)))


if __name__ == "__main__":
    main()
