"""Latency of the evidence list filters and of custody histories in a large catalogue.

    .venv/bin/python bench/evidence_list.py --items 20000 --entries-per-item 3 [--database-url URL]

A real catalogue (SQLite in a temp folder unless --database-url names PostgreSQL) gets ITEMS
items of one agency over 50 cameras and 200 officers, a case with 1000 of them linked, and
ENTRIES-PER-ITEM ledger entries per item (ingest, link, view). Then it times (median of 5) the
list queries the UI sends (first page of 50) and the custody history of one item and one case.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--entries-per-item", type=int, default=3)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()

    from server.access import Principal
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.catalogue.models import Case, CaseLink, EvidenceItem, StoredObject
    from server.custody.history import case_custody, item_custody
    from server.custody.ledger import append
    from server.intake.evidence import ItemFilters, list_items
    from server.people.accounts import add_agency, add_user
    from server.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    url = args.database_url or f"sqlite:///{tmp / 'catalogue.db'}"
    settings = load_settings(
        None,
        env={},
        overrides={"data_dir": str(tmp / "data"), "database_url": url, "jwt_secret": "b" * 40},
    )
    db = Database(settings)
    upgrade(db.engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def fill(s):  # type: ignore[no-untyped-def]
        a1 = add_agency(s, "A1", "Agency one")
        user = add_user(s, "rev", "Bench-pass-2026!", "reviewer", "A1")
        case = Case(
            agency_id=a1.id,
            number="BENCH-1",
            title="bench",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add(case)
        s.flush()
        ids = []
        keys = [hashlib.sha256(f"bench {n}".encode()).hexdigest() for n in range(args.items)]
        s.add_all([StoredObject(sha256=key, size=1000, role="original") for key in keys])
        s.flush()
        for n, key in enumerate(keys):
            it = EvidenceItem(
                sha256=key,
                size=1000,
                kind="video" if n % 10 else "photo",
                status="ready" if n % 7 else "damaged",
                original_filename=f"DSJ{n % 50:03d}_{n}.mp4",
                agency_id=a1.id,
                device_id=f"DSJ{n % 50:03d}",
                officer_id=f"P{n % 200:04d}",
                station_id=f"ST{n % 5}",
                recorded_at=t0 + timedelta(minutes=n),
                received_at=t0 + timedelta(minutes=n, seconds=30),
            )
            s.add(it)
            if n % 500 == 0:
                s.flush()
            ids.append(it)
        s.flush()
        actor = f"user:{user.id}:rev"
        for n, it in enumerate(ids):
            append(
                s,
                actor=actor,
                action="ingest",
                subject=f"evidence:{it.id}",
                details={"sha256": it.sha256},
            )
            if n < 1000:
                s.add(CaseLink(case_id=case.id, item_id=it.id, stage="investigation"))
                append(
                    s,
                    actor=actor,
                    action="link",
                    subject=f"evidence:{it.id}",
                    details={"case": case.id, "number": case.number, "stage": "investigation"},
                )
            for _ in range(max(0, args.entries_per_item - 2)):
                append(
                    s,
                    actor=actor,
                    action="view",
                    subject=f"evidence:{it.id}",
                    details={"what": "playback"},
                )
        return user.id, a1.id, case.id, ids[10].id

    started = time.perf_counter()
    uid, agency, case_id, item_id = db.call(fill)
    print(
        f"filled {args.items} items in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})"
    )
    who = Principal(uid, "rev", "reviewer", agency)

    def timed(label: str, fn) -> None:  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            out = db.call(fn)
            runs.append((time.perf_counter() - t) * 1000)
        print(f"{label:48s} {statistics.median(runs):8.1f} ms  ({len(out['items'])} rows)")

    def listing(**q: str):  # type: ignore[no-untyped-def]
        return lambda s: list_items(s, who, limit=50, filters=ItemFilters.from_query(q))

    timed("list, no filter", listing())
    timed("list, device_id", listing(device_id="DSJ007"))
    timed("list, officer_id + status", listing(officer_id="P0042", status="damaged"))
    timed(
        "list, recorded_from/to (one day)",
        listing(recorded_from="2026-01-05", recorded_to="2026-01-05"),
    )
    timed("list, kind=photo", listing(kind="photo"))
    timed("list, unlinked=1", listing(unlinked="1"))
    timed("custody of one item", lambda s: item_custody(s, item_id, who))
    timed("custody of a case (1000 links)", lambda s: case_custody(s, case_id, who, limit=1000))
    db.close()


if __name__ == "__main__":
    main()
