"""Every authenticated request resolves its user from the catalogue (through a short cache):
a disabled or removed account, or a token older than the account's last change, is refused;
role and agency come from the catalogue, not from the token."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.orm import Session

from server.access import Principal
from server.catalogue.models import User
from server.errors import Unauthorized
from server.http.singleflight import SingleFlight
from server.http.tokens import TokenClaims


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    role: str
    agency_id: int | None
    active: bool
    token_version: int


def load_account(s: Session, user_id: int) -> Account | None:
    user = s.get(User, user_id)
    if user is None:
        return None
    return Account(
        user.id,
        user.username,
        user.role,
        user.agency_id,
        bool(user.active),
        int(user.token_version or 0),
    )


class AccountCache:
    """Accounts by id for `ttl` seconds; a change made in this process invalidates at once.

    Concurrent misses for one account share one catalogue read (50 clients of one user whose
    entry just expired cause one query, not 50). An entry counts its age from when its read
    began, and a read that began before an invalidation is not cached (nor shared with requests
    that come after it): a change is never hidden for longer than `ttl`."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[int, tuple[float, Account | None]] = {}
        self._loading: SingleFlight[int, Account | None] = SingleFlight()
        self._generation: dict[int, int] = {}
        self._all_generation = 0

    def get(self, user_id: int) -> tuple[bool, Account | None]:
        hit = self._entries.get(user_id)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return False, None
        return True, hit[1]

    def put(self, user_id: int, account: Account | None, read_at: float | None = None) -> None:
        if self.ttl > 0:
            if len(self._entries) > 100_000:  # bound memory against a flood of forged ids
                self._entries.clear()
            self._entries[user_id] = (time.monotonic() if read_at is None else read_at, account)

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._entries.clear()
            self._loading.forget()
            self._generation.clear()
            self._all_generation += 1
        else:
            self._entries.pop(user_id, None)
            self._loading.forget(user_id)
            self._generation[user_id] = self._generation.get(user_id, 0) + 1

    def _stamp(self, user_id: int) -> tuple[int, int]:
        return self._all_generation, self._generation.get(user_id, 0)

    async def load(
        self, user_id: int, read: Callable[[int], Awaitable[Account | None]]
    ) -> Account | None:
        """The account as the catalogue has it now (one read shared by concurrent callers;
        the read is its own task, so a caller that goes away does not cancel the others')."""
        if self.ttl <= 0:  # no cache: every request reads for itself
            return await read(user_id)
        stamp, started = self._stamp(user_id), time.monotonic()
        return await self._loading.run(user_id, lambda: self._fetch(user_id, read, stamp, started))

    async def _fetch(
        self,
        user_id: int,
        read: Callable[[int], Awaitable[Account | None]],
        stamp: tuple[int, int],
        started: float,
    ) -> Account | None:
        account = await read(user_id)
        if self._stamp(user_id) == stamp:  # no change in this process since the read began
            self.put(user_id, account, started)
        return account


ACCOUNTS = web.AppKey("accounts", AccountCache)


async def resolve(app: web.Application, claims: TokenClaims) -> Principal:
    """The caller as the catalogue knows them now."""
    from server.http import appkeys as keys

    cache = app[ACCOUNTS]
    found, account = cache.get(claims.user_id)
    if not found:
        db = app[keys.DB]
        # A read (no write lock): resolving the caller never waits behind a writer.
        account = await cache.load(claims.user_id, lambda uid: db.read(load_account, uid))
    if account is None or not account.active:
        raise Unauthorized("this account is disabled or no longer exists", code="account_disabled")
    if account.token_version != claims.version:
        raise Unauthorized(
            "this token was revoked (the account changed); log in again", code="token_revoked"
        )
    return Principal(account.user_id, account.username, account.role, account.agency_id)
