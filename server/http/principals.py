"""Every authenticated request resolves its user from the catalogue (through a short cache):
a disabled or removed account, or a token older than the account's last change, is refused;
role and agency come from the catalogue, not from the token."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.orm import Session

from server.access import Principal
from server.catalogue.models import User
from server.errors import Unauthorized
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
    return Account(user.id, user.username, user.role, user.agency_id, bool(user.active),
                   int(user.token_version or 0))


class AccountCache:
    """Accounts by id for `ttl` seconds; a change made in this process invalidates at once."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[int, tuple[float, Account | None]] = {}

    def get(self, user_id: int) -> tuple[bool, Account | None]:
        hit = self._entries.get(user_id)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return False, None
        return True, hit[1]

    def put(self, user_id: int, account: Account | None) -> None:
        if self.ttl > 0:
            if len(self._entries) > 100_000:  # bound memory against a flood of forged ids
                self._entries.clear()
            self._entries[user_id] = (time.monotonic(), account)

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._entries.clear()
        else:
            self._entries.pop(user_id, None)


ACCOUNTS = web.AppKey("accounts", AccountCache)


async def resolve(app: web.Application, claims: TokenClaims) -> Principal:
    """The caller as the catalogue knows them now."""
    from server.http import appkeys as keys

    cache = app[ACCOUNTS]
    found, account = cache.get(claims.user_id)
    if not found:
        account = await app[keys.DB].run(load_account, claims.user_id)
        cache.put(claims.user_id, account)
    if account is None or not account.active:
        raise Unauthorized("this account is disabled or no longer exists", code="account_disabled")
    if account.token_version != claims.version:
        raise Unauthorized("this token was revoked (the account changed); log in again",
                           code="token_revoked")
    return Principal(account.user_id, account.username, account.role, account.agency_id)
