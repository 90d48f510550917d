"""Export throughput of a ~1 GB case as a ratio of `cp` of the same bytes, and peak memory.

    .venv/bin/python bench/export.py --mb 1024 --files 4 --rounds 2

A real catalogue (SQLite) and local store are filled with FILES random originals of MB/FILES
MiB each, linked to one case. Each round, in the same run and from the same page cache:
  - `cp` copies the stored originals into a fresh folder (the baseline);
  - a child process runs the whole export (`server.exports.job.run_export`: EXPORT ledger entry,
    signed tree head, proofs, manifests, PDF report, streamed BagIt ZIP with SHA-256 + SHA-512
    of every byte) and reports its wall time and peak RSS (resource.getrusage).
Goals (issue 8): throughput >= 0.7x cp, peak memory < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _settings(data: Path):  # type: ignore[no-untyped-def]
    from server.settings import load_settings

    return load_settings(
        None,
        env={},
        overrides={
            "data_dir": str(data),
            "jwt_secret": "bench-" + "x" * 40,
            "store_min_free_bytes": 0,
        },
    )


def setup(data: Path, mb: int, files: int) -> str:
    """Fill a catalogue and store; return the case id."""
    from sqlalchemy import select

    from helpers import add_evidence
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.catalogue.models import Agency, Case, CaseLink
    from server.people.accounts import add_agency
    from server.store import open_store

    settings = _settings(data)
    db = Database(settings)
    upgrade(db.engine)
    store = open_store(settings)
    db.call(add_agency, "A1", "丽水市综合行政执法局")
    block = 4 * 1024 * 1024
    ids = []
    with tempfile.TemporaryDirectory(dir=data) as tmp:
        for n in range(files):
            path = Path(tmp, f"DSJ_{n:02d}.mp4")
            with open(path, "wb") as f:
                for _ in range(mb * 1024 * 1024 // files // block):
                    f.write(os.urandom(block))
            ids.append(add_evidence(db, store, path))

    def make_case(s):  # type: ignore[no-untyped-def]
        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        case = Case(
            agency_id=a1.id,
            number="BENCH-001",
            title="基准",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add(case)
        s.flush()
        for item_id in ids:
            s.add(CaseLink(case_id=case.id, item_id=item_id, stage="investigation"))
        return case.id

    case_id = db.call(make_case)
    db.close()
    return str(case_id)


def child(data: Path, case_id: str, out: Path) -> None:
    """Run one export in this (child) process; print wall time and peak RSS as JSON."""
    from server.catalogue.db import Database
    from server.exports.job import create_export, run_export
    from server.store import open_store

    settings = _settings(data)
    db = Database(settings)
    export = db.call(
        create_export,
        case_id,
        None,
        {"recipient": "bench", "purpose": "bench"},
        settings,
        enqueue=False,
    )
    started = time.perf_counter()
    result = run_export(settings, db, open_store(settings), export.id, out_path=out)
    seconds = time.perf_counter() - started
    db.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "bytes": result["package_size"]}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="total size of the originals")
    parser.add_argument("--files", type=int, default=4, help="number of originals")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--child", nargs=3, metavar=("DATA", "CASE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-export-", dir=args.dir))
    try:
        data = scratch / "data"
        data.mkdir()
        print(f"setting up {args.files} originals, {args.mb} MiB in total, in {scratch} …")
        case_id = setup(data, args.mb, args.files)
        objects = [p for p in (data / "store").rglob("*") if p.is_file() and len(p.name) == 64]
        total = sum(p.stat().st_size for p in objects)
        cp_times, export_times, peaks = [], [], []
        for r in range(args.rounds):
            dest = scratch / f"cp-{r}"
            dest.mkdir()
            started = time.perf_counter()
            subprocess.run(["cp", *map(str, objects), str(dest)], check=True)
            cp_times.append(time.perf_counter() - started)
            shutil.rmtree(dest)
            out = scratch / f"package-{r}.zip"
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(data), case_id, str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(run.stdout.strip().splitlines()[-1])
            export_times.append(figures["seconds"])
            peaks.append(figures["peak_rss_mb"])
            out.unlink()
            mbps = total / 2**20
            print(
                f"round {r + 1}: cp {mbps / cp_times[-1]:7.0f} MiB/s   export "
                f"{mbps / export_times[-1]:7.0f} MiB/s   peak RSS {peaks[-1]:6.0f} MB"
            )
        cp_med, export_med = statistics.median(cp_times), statistics.median(export_times)
        ratio = statistics.median(c / e for c, e in zip(cp_times, export_times, strict=True))
        print(
            f"\n{total / 2**20:.0f} MiB, medians of {args.rounds} rounds: cp "
            f"{total / 2**20 / cp_med:.0f} MiB/s, export {total / 2**20 / export_med:.0f} MiB/s "
            f"-> ratio {ratio:.2f}x cp (goal >= 0.7x); "
            f"peak RSS of the export process {max(peaks):.0f} MB (goal < 200 MB)"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
