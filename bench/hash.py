"""Benchmark: integrity.hashing.hash_file against bare hashlib.sha256 over the same file."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrity.hashing import BLOCK_SIZE, hash_file  # noqa: E402

GOAL = 0.9


def raw_sha256(path: Path) -> str:
    """The baseline: hashlib.sha256 fed 1 MiB blocks via readinto into one buffer."""
    h = hashlib.sha256()
    buffer = bytearray(BLOCK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])
    return h.hexdigest()


def make_file(path: Path, mb: int) -> None:
    """Write mb MiB of random bytes."""
    chunk = os.urandom(BLOCK_SIZE)  # random, incompressible; reuse keeps setup quick
    with open(path, "wb") as f:
        for i in range(mb):
            # Vary each block so no layer can deduplicate.
            f.write(i.to_bytes(8, "big") + chunk[8:])


def timed(fn, path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    digest = fn(path)
    return time.perf_counter() - started, digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=500, help="file size in MiB (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="custodian-bench-") as tmp:
        path = Path(tmp) / "payload.bin"
        make_file(path, args.mb)
        size_mb = path.stat().st_size / (1024 * 1024)
        raw_sha256(path)  # warm the page cache so both sides read from the same place
        ratios = []
        print(f"file: {size_mb:.0f} MiB, block {BLOCK_SIZE} bytes, {args.rounds} rounds")
        for r in range(1, args.rounds + 1):
            # Alternate which goes first so cache or frequency effects do not favour one.
            if r % 2:
                t_raw, d_raw = timed(raw_sha256, path)
                t_ours, d_ours = timed(lambda p: hash_file(p)["sha256"].hex, path)
            else:
                t_ours, d_ours = timed(lambda p: hash_file(p)["sha256"].hex, path)
                t_raw, d_raw = timed(raw_sha256, path)
            if d_raw != d_ours:
                print(f"round {r}: DIGESTS DIFFER {d_raw} != {d_ours}")
                return 2
            ratio = t_raw / t_ours  # our speed as a fraction of raw speed
            ratios.append(ratio)
            print(
                f"round {r}: raw {t_raw:.3f}s ({size_mb / t_raw:.0f} MiB/s), "
                f"ours {t_ours:.3f}s ({size_mb / t_ours:.0f} MiB/s), ratio {ratio:.3f}"
            )
        median = statistics.median(ratios)
        verdict = "OK" if median >= GOAL else "BELOW GOAL"
        print(f"median ratio (ours / raw speed): {median:.3f}  goal >= {GOAL}: {verdict}")
        return 0 if median >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
