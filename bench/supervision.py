"""Time of the supervision report (Art. 22) over N cases of one agency, and of its CSV + XLSX.

    .venv/bin/python bench/supervision.py --cases 1000

A real catalogue (SQLite in a temporary folder, migrated) gets N general-procedure inspection
cases in the decision stage, each with one on-site inspection transcript (so every case has
findings: a missing approval, officers). The report is built as the API builds it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    args = ap.parse_args()

    from sqlalchemy import select

    from server.cases.supervision import supervision_report
    from server.cases.supervision_tables import report_csv, report_xlsx
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.catalogue.models import Agency, Case, CaseRecord
    from server.http.access import Principal
    from server.people.accounts import add_agency
    from server.settings import load_settings

    folder = Path(tempfile.mkdtemp(prefix="bench-supervision-"))
    settings = load_settings(
        None, env={}, overrides={"data_dir": str(folder), "jwt_secret": "b" * 40}
    )
    db = Database(settings)
    upgrade(db.engine)

    def seed(s: Any) -> None:
        add_agency(s, "A1", "bench")
        agency = s.scalar(select(Agency).where(Agency.code == "A1"))
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(args.cases):
            case = Case(
                agency_id=agency.id,
                number=f"N-{i}",
                title="bench",
                enforcement_type="inspection",
                procedure="general",
                stage="decision",
                opened_at=t0 + timedelta(hours=i),
            )
            s.add(case)
            s.flush()
            s.add(
                CaseRecord(
                    case_id=case.id,
                    stage="investigation",
                    doc_type="onsite_inspection_transcript",
                    at=t0 + timedelta(hours=i, minutes=5),
                    officers=[],
                )
            )

    db.call(seed)
    who = Principal(0, "bench", "supervisor", None)
    t = time.perf_counter()
    report = db.call(supervision_report, who, settings, None, None, None)
    build = time.perf_counter() - t
    t = time.perf_counter()
    xlsx, csv_text = report_xlsx(report), report_csv(report)
    tables = time.perf_counter() - t
    print(
        f"{args.cases} cases: report {build:.2f} s, CSV + XLSX {tables:.3f} s "
        f"(XLSX {len(xlsx)} bytes, CSV {len(csv_text)} characters)"
    )
    db.close()


if __name__ == "__main__":
    main()
