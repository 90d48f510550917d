"""Benchmark: `custodian verify` throughput over a store of --mb MiB, as a ratio of bare
hashlib.sha256 over the same files in the same run (goal >= 0.9x), median of rounds.

The verify side is the whole check (catalogue, every object re-hashed, manifests, ledger chain,
tree heads), on a real SQLite catalogue and local store in a temp folder."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrity.hashing import BLOCK_SIZE, HashingWriter  # noqa: E402

GOAL = 0.9
SMALL_OBJECTS = 64  # thumbnails, playlists: many small files beside the big originals
SMALL_SIZE = 256 * 1024
BIG_SIZE = 64 * 1024 * 1024


def raw_sha256_all(paths: list[Path]) -> float:
    """The baseline: hashlib.sha256 of every file, 1 MiB readinto blocks, one after another."""
    started = time.perf_counter()
    buffer = bytearray(BLOCK_SIZE)
    view = memoryview(buffer)
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buffer):
                h.update(view[:n])
        h.hexdigest()
    return time.perf_counter() - started


def populate(data_dir: Path, total_mb: int):  # type: ignore[no-untyped-def]
    """A catalogue + store holding total_mb MiB: 64 MiB originals and some small derived files."""
    from integrity.ledger import INGEST
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.catalogue.models import EvidenceItem, StoredObject
    from server.custody.ledger import append
    from server.custody.manifests import write_manifest
    from server.custody.signing import load_or_create_key
    from server.custody.treeheads import issue_tree_head
    from server.settings import load_settings
    from server.store.local import LocalStore

    settings = load_settings(
        None, env={}, overrides={"data_dir": str(data_dir), "store_min_free_bytes": 0}
    )
    db = Database(settings)
    upgrade(db.engine)
    store = LocalStore(settings.resolved_store_path)
    key = load_or_create_key(settings)
    budget = total_mb * 1024 * 1024
    sizes = [SMALL_SIZE] * SMALL_OBJECTS
    budget -= sum(sizes)
    while budget > 0:
        sizes.append(min(BIG_SIZE, budget))
        budget -= sizes[-1]
    block = os.urandom(BLOCK_SIZE)
    objects = []
    for i, size in enumerate(sizes):
        tmp = store.temp_path()
        with open(tmp, "wb") as raw:
            out = HashingWriter(raw)  # type: ignore[arg-type]
            written = 0
            j = 0
            while written < size:
                n = min(BLOCK_SIZE, size - written)
                out.write(i.to_bytes(4, "big") + j.to_bytes(4, "big") + block[8:n])
                written += n
                j += 1
        sha = out.digest().hex
        store.adopt(tmp, sha)
        objects.append((sha, size))

    def catalogue(s):  # type: ignore[no-untyped-def]
        for sha, size in objects:
            s.add(
                StoredObject(
                    sha256=sha, size=size, role="original" if size > SMALL_SIZE else "derived"
                )
            )
        s.flush()
        for sha, size in objects:
            if size > SMALL_SIZE:
                item = EvidenceItem(
                    sha256=sha, size=size, kind="video", original_filename=f"{sha[:8]}.mp4"
                )
                s.add(item)
                s.flush()
                append(
                    s,
                    actor="bench",
                    action=INGEST,
                    subject=f"evidence:{item.id}",
                    details={"sha256": sha},
                )
                write_manifest(s, item, key=key)

    db.call(catalogue)
    issue_tree_head(db, key, settings)
    paths = [store.path_for(sha) for sha, _ in objects]
    return db, store, key, paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=1024, help="store size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="threads for the parallel verify variant (default min(4, CPUs))",
    )
    args = parser.parse_args()

    from server.custody.verification import verify_all

    logging.getLogger("server").setLevel(logging.ERROR)  # no "created a new signing key" line

    with tempfile.TemporaryDirectory(prefix="custodian-bench-verify-") as tmp:
        db, store, key, paths = populate(Path(tmp) / "data", args.mb)
        total = sum(p.stat().st_size for p in paths)
        mib = total / 1024 / 1024
        print(
            f"store: {len(paths)} objects, {mib:.0f} MiB; {args.rounds} rounds; "
            f"{os.cpu_count()} CPUs; page cache warm for both sides"
        )
        raw_sha256_all(paths)  # warm the page cache so both sides read from the same place
        ratios, ratios_parallel = [], []
        for r in range(1, args.rounds + 1):
            raw = raw_sha256_all(paths)
            started = time.perf_counter()
            report = verify_all(db, store, key.public_keys(), jobs=1)
            ours = time.perf_counter() - started
            assert report.ok and report.bytes_hashed == total, report.problems
            started = time.perf_counter()
            report = verify_all(db, store, key.public_keys(), jobs=args.jobs)
            par = time.perf_counter() - started
            assert report.ok
            ratios.append(raw / ours)
            ratios_parallel.append(raw / par)
            print(
                f"round {r}: hashlib {mib / raw:7.1f} MiB/s | verify {mib / ours:7.1f} MiB/s "
                f"({raw / ours:.3f}x) | verify --jobs {args.jobs} {mib / par:7.1f} MiB/s "
                f"({raw / par:.3f}x)"
            )
        ratio = statistics.median(ratios)
        print(
            f"median: verify = {ratio:.3f}x hashlib (goal >= {GOAL}x), "
            f"verify --jobs {args.jobs} = {statistics.median(ratios_parallel):.3f}x"
        )
        db.close()
        return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
