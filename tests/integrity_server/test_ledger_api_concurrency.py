"""Two processes, each with its own engine, append at once: one unbroken chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from integrity.ledger import check_chain
from server.catalogue.models import LedgerRow
from server.custody.ledger import iter_rows, row_entry

ROOT = Path(__file__).resolve().parents[2]
PER_PROCESS = 60

WRITER = textwrap.dedent("""
    import sys, time
    from server.catalogue.db import Database
    from server.custody.ledger import append
    from server.settings import load_settings

    url, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    db = Database(load_settings(None, env={}, overrides={"database_url": url, "data_dir": sys.argv[5]}))
    while time.time() < go:  # both start appending at the same moment
        time.sleep(0.001)
    for i in range(n):
        db.call(lambda s: append(s, actor=f"proc:{name}", action="view", subject=f"evidence:{i}",
                                 details={"writer": name, "i": i}))
    db.close()
""")


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"]
)
def test_two_processes_append_one_chain(backend, tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade
    from server.settings import load_settings

    url = (
        request.getfixturevalue("pg_url") if backend == "postgres" else f"sqlite:///{tmp_path}/c.db"
    )
    db = Database(
        load_settings(None, env={}, overrides={"database_url": url, "data_dir": str(tmp_path)})
    )
    upgrade(db.engine)
    import time

    go = time.time() + 1.5  # after both interpreters have started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name, str(PER_PROCESS), str(go), str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    rows = db.call(lambda s: list(iter_rows(s)))
    assert [r.seq for r in rows] == list(range(1, 2 * PER_PROCESS + 1))
    assert check_chain([row_entry(r) for r in rows]) == []
    actors = [r.actor for r in rows]
    assert actors.count("proc:a") == actors.count("proc:b") == PER_PROCESS
    if backend == "postgres":
        # They really interleaved (SQLite's lock is not fair, so there one may finish first).
        switches = sum(1 for x, y in zip(actors, actors[1:], strict=False) if x != y)
        assert switches > 1
    assert (
        db.call(lambda s: s.scalar(select(LedgerRow.seq).order_by(LedgerRow.seq.desc()).limit(1)))
        == 120
    )
    db.close()
