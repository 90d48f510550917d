"""Start-up cost of short `custodian` commands against `python -c "import aiohttp"` (issue 17:
goal, every short command within 2x that). Medians of --rounds runs, measured in one script.

    .venv/bin/python bench/cli.py [--rounds 5]
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


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, env=env, timeout=300)
    took = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("custodian"))
    data = tempfile.mkdtemp(prefix="bench-cli-")
    env = {**os.environ, "CUSTODIAN_JWT_SECRET": "b" * 48}
    subprocess.run([exe, "migrate", "--data", data], check=True, capture_output=True, env=env)
    commands = {
        "python -c 'import aiohttp' (baseline)": [sys.executable, "-c", "import aiohttp"],
        "custodian --help": [exe, "--help"],
        "custodian agency add": None,  # a fresh code each round
        "custodian keys": [exe, "keys", "--data", data],
        "custodian officer list": [exe, "officer", "list", "--data", data],
    }
    results: dict[str, list[float]] = {k: [] for k in commands}
    for n in range(args.rounds):
        for name, argv in commands.items():
            if argv is None:
                argv = [exe, "agency", "add", f"B{n}", "--name", "bench", "--data", data]
            results[name].append(timed(argv, env))
    base = statistics.median(results["python -c 'import aiohttp' (baseline)"])
    print(f"{'command':45} {'median s':>9} {'x baseline':>11}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:45} {med:9.3f} {med / base:11.2f}")


if __name__ == "__main__":
    main()
