"""Times for JSON answers: `iso` of integrity.timefmt, the one formatter (re-exported here so the
domain modules and the command line keep one short import without the HTTP stack)."""

from __future__ import annotations

from integrity.timefmt import iso

__all__ = ["iso"]
