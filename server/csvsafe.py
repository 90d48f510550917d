"""Spreadsheet-safe CSV: a text cell a spreadsheet would run as a formula gets a leading '."""

from __future__ import annotations

import csv
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text starting with = + - @ TAB or CR is prefixed with ' (OWASP CSV injection);
    numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows pass through safe_cell."""

    def __init__(self, f: TextIO, **kwargs: Any):
        self._w = csv.writer(f, **kwargs)

    def writerow(self, row: Any) -> Any:
        return self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_writer(f: TextIO, lineterminator: str = "\r\n") -> SafeWriter:
    return SafeWriter(f, lineterminator=lineterminator)
