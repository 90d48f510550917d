"""The one formatter of catalogue times for JSON: RFC 3339 UTC with a Z. Kept free of aiohttp so
domain modules and the command line can use it without importing the HTTP stack."""

from __future__ import annotations

from datetime import datetime


def iso(dt: datetime | None) -> str | None:
    """RFC 3339 UTC with a Z."""
    if dt is None:
        return None
    return dt.isoformat().replace("+00:00", "Z")
