"""A short in-process memory of media fetches the catalogue allowed: a reviewer's player asks for
a segment every few seconds, and the answer (a caller with this role and agency may fetch this
item's renditions; these are its renditions) does not change from one segment to the next.

Only grants are remembered, never refusals (a refused fetch asks the catalogue every time and is
ledgered as a denial), for `media_access_cache_seconds`, the same order of time the account
cache trusts an account; the account itself is still resolved on every request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from server.access import Principal
from server.http.singleflight import SingleFlight

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


Key = tuple[str, int | None, str]


class GrantCache:
    """Grants by (role, agency, item) for `ttl` seconds; ttl 0 remembers nothing.

    Whether a caller may fetch an item's renditions depends on the caller's role and agency
    and on the item (server/access.py `sees` and `require`, server/intake/evidence.py
    `servable_item`), not on who the user is, so reviewers of one agency share a grant; who
    they are is checked on every request when their account is resolved. Should a rule ever
    depend on the user, the user belongs in the key. Concurrent misses of one key share one
    catalogue read; a grant counts its age from when that read began."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[Key, tuple[float, Grant]] = {}
        self._loading: SingleFlight[Key, Grant] = SingleFlight()

    @staticmethod
    def _key(who: Principal, item_id: str) -> Key:
        return (who.role, who.agency_id, item_id)

    def get(self, who: Principal, item_id: str) -> Grant | None:
        key = self._key(who, item_id)
        hit = self._entries.get(key)
        if hit is None:
            return None
        if time.monotonic() >= hit[0]:
            self._entries.pop(key, None)
            return None
        return hit[1]

    def put(self, who: Principal, grant: Grant, read_at: float | None = None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        started = time.monotonic() if read_at is None else read_at
        self._entries[self._key(who, grant.item_id)] = (started + self.ttl, grant)

    async def load(
        self, who: Principal, item_id: str, read: Callable[[], Awaitable[Grant]]
    ) -> Grant:
        """The remembered grant, or one catalogue check shared by the callers asking now
        (a refusal is raised to each of them and remembered by nobody)."""
        hit = self.get(who, item_id)
        if hit is not None:
            return hit
        if self.ttl <= 0:
            return await read()
        return await self._loading.run(
            self._key(who, item_id), lambda: self._fetch(who, item_id, read)
        )

    async def _fetch(
        self, who: Principal, item_id: str, read: Callable[[], Awaitable[Grant]]
    ) -> Grant:
        started = time.monotonic()
        grant = await read()
        self.put(who, grant, started)
        return grant

    def forget(self, item_id: str | None = None) -> None:
        """Drop the grants of one item (or all): after a change made in this process."""
        if item_id is None:
            self._entries.clear()
        else:
            for key in [k for k in self._entries if k[2] == item_id]:
                del self._entries[key]
        self._loading.forget()


MEDIA_GRANTS = web.AppKey("media_grants", GrantCache)
