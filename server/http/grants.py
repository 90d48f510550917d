"""A short in-process memory of media fetches the catalogue allowed: a reviewer's player asks for
a segment every few seconds, and the answer (this user, with this role and agency, may fetch
this item's renditions; these are its renditions) does not change from one segment to the next.

Only grants are remembered, never refusals (a refused fetch asks the catalogue every time and is
ledgered as a denial), for `media_access_cache_seconds`, the same order of time the account
cache trusts an account; the account itself is still resolved on every request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from server.http.access import Principal

MAX_ENTRIES = 50_000  # (user, item) pairs remembered; beyond that the memory starts afresh


@dataclass(frozen=True)
class Served:
    """A rendition as the route sends it."""

    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Grant:
    """What one catalogue check established about one item for one principal."""

    item_id: str
    item_sha256: str
    renditions: dict[str, Served]


Key = tuple[int, str, int | None, str]


class GrantCache:
    """Grants by (user, role, agency, item) for `ttl` seconds; ttl 0 remembers nothing."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[Key, tuple[float, Grant]] = {}

    @staticmethod
    def _key(who: Principal, item_id: str) -> Key:
        return (who.user_id, who.role, who.agency_id, item_id)

    def get(self, who: Principal, item_id: str) -> Grant | None:
        hit = self._entries.get(self._key(who, item_id))
        if hit is None:
            return None
        if time.monotonic() >= hit[0]:
            self._entries.pop(self._key(who, item_id), None)
            return None
        return hit[1]

    def put(self, who: Principal, grant: Grant) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[self._key(who, grant.item_id)] = (time.monotonic() + self.ttl, grant)

    def forget(self, item_id: str | None = None) -> None:
        """Drop the grants of one item (or all): after a change made in this process."""
        if item_id is None:
            self._entries.clear()
        else:
            for key in [k for k in self._entries if k[3] == item_id]:
                del self._entries[key]


MEDIA_GRANTS = web.AppKey("media_grants", GrantCache)
