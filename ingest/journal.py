"""The agent's local journal (SQLite in its state folder): each file's state survives a
restart or a power cut, so nothing is lost and nothing finished is uploaded twice."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from integrity.timefmt import iso

# queued -> uploading -> confirmed -> cleared; refused/failed/waiting are retried; empty is final.
STATES = ("queued", "uploading", "confirmed", "cleared", "refused", "failed", "waiting", "empty")
DONE = ("confirmed", "cleared")

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL,
    upload_url TEXT,
    sha256 TEXT,
    server_sha256 TEXT,
    evidence_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    cleared_to TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (path, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS ix_files_state ON files (state);
"""


def _now() -> str:
    return iso(datetime.now(UTC)) or ""


@dataclass
class Entry:
    id: int
    path: str
    size: int
    mtime_ns: int
    state: str
    upload_url: str | None
    sha256: str | None
    server_sha256: str | None
    evidence_id: str | None
    attempts: int
    error: str
    cleared_to: str | None
    # The file's ctime when it was confirmed: any later write or utime changes it, so a file
    # whose name, size and mtime stayed the same but whose content changed is noticed.
    ctime_ns: int | None = None


class Journal:
    """One row per (path, size, mtime): a changed file is a new file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a power cut keeps what we wrote
        self._conn.executescript(SCHEMA)
        cols = {r[1] for r in self._conn.execute("PRAGMA table_info(files)")}
        if "ctime_ns" not in cols:  # journals written before this column existed
            self._conn.execute("ALTER TABLE files ADD COLUMN ctime_ns INTEGER")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def _row(self, row: tuple | None) -> Entry | None:  # type: ignore[type-arg]
        return None if row is None else Entry(*row)

    _COLS = (
        "id, path, size, mtime_ns, state, upload_url, sha256, server_sha256, evidence_id, "
        "attempts, error, cleared_to, ctime_ns"
    )

    def get(self, path: str, size: int, mtime_ns: int) -> Entry | None:
        with self._lock:
            cur = self._conn.execute(
                f"SELECT {self._COLS} FROM files WHERE path=? AND size=? AND mtime_ns=?",
                (path, size, mtime_ns),
            )
            return self._row(cur.fetchone())

    def by_id(self, entry_id: int) -> Entry:
        with self._lock:
            cur = self._conn.execute(f"SELECT {self._COLS} FROM files WHERE id=?", (entry_id,))
            e = self._row(cur.fetchone())
        assert e is not None
        return e

    def ensure(self, path: str, size: int, mtime_ns: int, state: str = "queued") -> Entry:
        """The row of this exact file, created when first seen."""
        with self._lock:
            now = _now()
            self._conn.execute(
                "INSERT OR IGNORE INTO files (path, size, mtime_ns, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (path, size, mtime_ns, state, now, now),
            )
        e = self.get(path, size, mtime_ns)
        assert e is not None
        return e

    def update(self, entry_id: int, **fields: object) -> None:
        if not fields:
            return
        for key in fields:
            if key not in Entry.__dataclass_fields__ or key == "id":
                raise ValueError(f"unknown journal field {key}")
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown journal state {fields['state']}")
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._lock:
            self._conn.execute(
                f"UPDATE files SET {sets}, updated_at=? WHERE id=?",
                (*fields.values(), _now(), entry_id),
            )

    def all(self) -> list[Entry]:
        with self._lock:
            cur = self._conn.execute(f"SELECT {self._COLS} FROM files ORDER BY id")
            return [Entry(*r) for r in cur.fetchall()]

    def backlog(self) -> tuple[int, int, str]:
        """Files still to deliver (seen, not confirmed, still on the dock): count, bytes and the
        latest error among them, for the station heartbeat."""
        import os

        with self._lock:
            cur = self._conn.execute(
                "SELECT path, size, error FROM files WHERE state NOT IN (?, ?, ?) "
                "ORDER BY updated_at DESC",
                (*DONE, "empty"),
            )
            rows = cur.fetchall()
        rows = [r for r in rows if os.path.exists(r[0])]
        error = next((r[2] for r in rows if r[2]), "")
        return len(rows), sum(r[1] for r in rows), error
