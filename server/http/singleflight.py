"""One read shared by the callers who ask for the same key at the same time (the account and
media-grant caches use it). The read runs as its own task, so a caller that goes away does not
cancel the others'; a failure is raised to each waiting caller and kept by nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, start: Callable[[], Awaitable[V]]) -> V:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(start())
            self._running[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return await asyncio.shield(task)

    def forget(self, key: K | None = None) -> None:
        """Later callers start a new read (of this key, or of every key)."""
        if key is None:
            self._running.clear()
        else:
            self._running.pop(key, None)

    def _done(self, key: K, task: asyncio.Future[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved, even when every caller went away
