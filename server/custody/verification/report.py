"""What a verification run found: the report, its limits, and how it is printed."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrity.errors import (
    Problem,
)
from server.http.errors import SettingsError
from server.settings import Settings

# Problem kind for a catalogue that disagrees with itself (sizes, manifests vs items).
CATALOGUE_MISMATCH = "catalogue_mismatch"


# Problem messages kept in the ledger entry that records a run (all are printed by the CLI).
RECORDED_PROBLEMS_MAX = 50


# progress(stage, done, total): stage is "objects" (bytes), "manifests", "ledger", "tree heads".
ProgressFn = Callable[[str, int, int], None]


class Cancelled(Exception):
    """The run was asked to stop (server shutting down)."""


@dataclass
class Report:
    """What one verification run checked and every problem it found."""

    problems: list[Problem] = field(default_factory=list)
    objects: int = 0
    bytes_hashed: int = 0
    items: int = 0
    manifests: int = 0
    entries: int = 0
    tree_heads: int = 0
    tokens_checked: int = 0
    tokens_unchecked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        return dict(Counter(p.kind for p in self.problems))

    def summary(self) -> dict[str, Any]:
        """The run as ledger-entry details (JSON-able, bounded in size)."""
        return {
            "ok": self.ok,
            "problem_count": len(self.problems),
            "problem_kinds": self.counts(),
            "problems": [
                {"kind": p.kind, "where": p.where, "message": p.message}
                for p in self.problems[:RECORDED_PROBLEMS_MAX]
            ],
            "objects": self.objects,
            "bytes_hashed": self.bytes_hashed,
            "items": self.items,
            "manifests": self.manifests,
            "ledger_entries": self.entries,
            "tree_heads": self.tree_heads,
            "tokens_checked": self.tokens_checked,
            "tokens_unchecked": self.tokens_unchecked,
            "seconds": round(self.seconds, 3),
        }


class Throttle:
    """Keeps reads at or under a byte rate (0 = unlimited), shared by every hashing thread."""

    def __init__(self, bytes_per_second: int) -> None:
        self.rate = bytes_per_second
        self._start = time.monotonic()
        self._done = 0
        self._lock = threading.Lock()

    def consume(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            self._done += n
            ahead = self._done / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


def load_tsa_roots(settings: Settings) -> bytes | None:
    """The trusted TSA roots (PEM) from tsa_roots_file, or None when not configured."""
    if not settings.tsa_roots_file:
        return None
    path = Path(settings.tsa_roots_file).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"setting 'tsa_roots_file': cannot read {path}: {exc}") from None


def problem_lines(report: Report) -> list[str]:
    """Every problem as one line: number, kind, message (what and where)."""
    return [f"{i}. [{p.kind}] {p.message}" for i, p in enumerate(report.problems, 1)]


def report_json(report: Report) -> str:
    """The whole report as JSON text (every problem, unlike the ledger summary)."""
    data = report.summary()
    data["problems"] = [
        {"kind": p.kind, "where": p.where, "message": p.message} for p in report.problems
    ]
    return json.dumps(data, ensure_ascii=False, indent=2)
