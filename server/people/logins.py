"""Login: failures counted per address, per user and per (user, address); a growing delay
instead of a lockout a stranger could trigger; scrypt on its own bounded thread pool; every
success and (rate-limited) failure in the custody ledger."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from integrity.ledger import LOGIN, LOGIN_FAILED
from server.access import Principal
from server.catalogue.models import LoginFailure, User, utcnow
from server.custody.ledger import append
from server.custody.throttle import admit
from server.errors import CustodianError, TooManyRequests
from server.people.passwords import dummy_hash, hash_password, verify_password
from server.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int
    window: timedelta
    delay: float = 1.0
    max_delay: float = 30.0
    failure_entries_per_minute: int = 30

    @classmethod
    def of(cls, settings: Settings) -> LoginLimits:
        return cls(
            settings.login_max_failures,
            timedelta(seconds=settings.login_window_seconds),
            settings.login_delay_seconds,
            settings.login_max_delay_seconds,
            settings.login_failure_entries_per_minute,
        )


@dataclass(frozen=True)
class Attempt:
    """What the catalogue says before the password is checked."""

    user_id: int | None
    password_hash: str
    active: bool
    address_failures: int
    user_failures: int
    pair_failures: int


def _keys(username: str, address: str) -> tuple[str, str, str]:
    # The pair key is hashed so a long user name cannot overflow the column.
    pair = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()[:40]
    return f"addr:{address}"[:200], f"user:{username}"[:200], f"pair:{pair}"


def _count(s: Session, key: str, since: datetime) -> int:
    return (
        s.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.at >= since)
        )
        or 0
    )


def prepare(
    s: Session, username: str, address: str, limits: LoginLimits, now: datetime | None = None
) -> Attempt:
    """Counts and the stored hash. Refuses (429) only an address that itself failed for this
    user too often: a correct password from anywhere else is never refused."""
    now = now or utcnow()
    since = now - limits.window
    s.execute(delete(LoginFailure).where(LoginFailure.at < since))
    addr_key, user_key, pair_key = _keys(username, address)
    pair = _count(s, pair_key, since)
    if pair >= limits.max_failures:
        raise TooManyRequests(
            f"too many failed logins for this user from your address; wait "
            f"{int(limits.window.total_seconds())} s",
            code="login_locked",
        )
    user = s.scalar(select(User).where(User.username == username))
    return Attempt(
        user_id=user.id if user else None,
        password_hash=user.password_hash if user else dummy_hash(),
        active=bool(user and user.active),
        address_failures=_count(s, addr_key, since),
        user_failures=_count(s, user_key, since),
        pair_failures=pair,
    )


def delay_for(attempt: Attempt, limits: LoginLimits) -> float:
    """Seconds to wait before answering: 0 under the limit, then doubling per failure."""
    over = max(attempt.address_failures, attempt.user_failures) - limits.max_failures
    if over < 0:
        return 0.0
    return min(limits.max_delay, limits.delay * (2 ** min(over, 30)))


def succeed(
    s: Session,
    user_id: int,
    username: str,
    address: str,
    password_hash: str,
) -> tuple[Principal, int] | None:
    """Ledger a successful login; the principal and the token version to put in the token.
    None when the account changed while the password was being checked."""
    user = s.get(User, user_id)
    if user is None or not user.active or user.password_hash != password_hash:
        return None
    who = Principal(user.id, user.username, user.role, user.agency_id)
    append(
        s,
        actor=f"user:{user.id}:{user.username}",
        action=LOGIN,
        subject=f"user:{user.id}",
        details={
            "address": address,
            "role": user.role,
            "agency_id": user.agency_id,
            "token_version": user.token_version,
        },
    )
    return who, user.token_version


def fail(
    s: Session,
    username: str,
    address: str,
    user_id: int | None,
    reason: str,
    limits: LoginLimits,
    now: datetime | None = None,
) -> None:
    """Count a failure (per address, user and pair) and ledger it, rate-limited: at most
    `failure_entries_per_minute` entries, one per (user, address) per window; the rest are
    counted and the next entry carries how many were left out."""
    now = now or utcnow()
    addr_key, user_key, pair_key = _keys(username, address)
    for key in (addr_key, user_key, pair_key):
        s.add(LoginFailure(key=key, at=now))
    s.flush()
    logger.info("failed login for %r from %s (%s)", username, address, reason)
    if admit(s, f"login_failed:{pair_key}", limit=1, window=limits.window, now=now) is None:
        return
    suppressed = admit(
        s,
        "login_failed:*",
        limit=limits.failure_entries_per_minute,
        window=timedelta(minutes=1),
        now=now,
    )
    if suppressed is None:
        return
    # An unknown name is not written down: it may be a password typed in the wrong field.
    subject = f"user:{user_id}" if user_id is not None else "user:unknown"
    append(
        s,
        actor="anonymous",
        action=LOGIN_FAILED,
        subject=subject,
        details={
            "username": username if user_id is not None else None,
            "address": address,
            "reason": reason,
            "failures_in_window": _count(s, pair_key, now - limits.window),
            "entries_suppressed_before": suppressed,
        },
    )


class HashPool:
    """Logins take turns: at most `threads` at once do their catalogue reads, their scrypt
    (on this pool's own threads, not the catalogue's nor asyncio's default executor) and
    their write; up to `queue` more wait in the event loop, beyond that 503 at once. A flood
    of logins therefore never fills the catalogue's threads."""

    def __init__(self, threads: int, queue: int):
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scrypt")
        self._active = asyncio.Semaphore(threads)
        self._queue = queue
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._active.locked() and self._waiting >= self._queue:
            raise CustodianError(
                "too many logins at once; try again in a moment", code="login_busy", status=503
            )
        self._waiting += 1
        try:
            await self._active.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._active.release()

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def verify(self, password: str, stored: str) -> bool:
        """Check a password (call inside a turn)."""
        return bool(await self._run(verify_password, password, stored))

    async def hash(self, password: str) -> str:
        """Hash a new password, taking a turn."""
        async with self.turn():
            return str(await self._run(hash_password, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Serializer:
    """While a key is being delayed, its attempts go one at a time (parallel guesses from one
    address or at one user do not each get their own delay); a long queue is refused (429)."""

    def __init__(self, max_waiting: int = 32) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self.max_waiting = max_waiting

    async def hold(self, keys: list[str]) -> list[str]:
        keys = sorted(set(keys))  # one order, no deadlock
        for key in keys:
            if self._users.get(key, 0) >= self.max_waiting:
                raise TooManyRequests(
                    "too many login attempts waiting; try again later", code="login_busy"
                )
        held: list[str] = []
        try:
            for key in keys:
                self._users[key] = self._users.get(key, 0) + 1
                lock = self._locks.setdefault(key, asyncio.Lock())
                try:
                    await lock.acquire()
                except BaseException:
                    self._drop(key)
                    raise
                held.append(key)
        except BaseException:
            self.release(held)
            raise
        return held

    def _drop(self, key: str) -> None:
        self._users[key] -= 1
        if not self._users[key]:
            del self._users[key]
            del self._locks[key]

    def release(self, held: list[str]) -> None:
        for key in held:
            self._locks[key].release()
            self._drop(key)


def login_blocking(
    db: Any, settings: Settings, username: str, password: str, address: str = "cli"
) -> Principal | None:
    """A login from the command line (a credentials file): the same limits, checks and ledger
    entries as the HTTP route, without its delays (a local process, one attempt)."""
    limits = LoginLimits.of(settings)
    attempt = db.call(prepare, username, address, limits)
    ok = verify_password(password, attempt.password_hash)
    result = None
    if ok and attempt.user_id is not None and attempt.active:
        result = db.call(succeed, attempt.user_id, username, address, attempt.password_hash)
    if result is None:
        reason = (
            "unknown_user"
            if attempt.user_id is None
            else "wrong_password"
            if not ok
            else "account_disabled"
        )
        db.call(fail, username, address, attempt.user_id, reason, limits)
        return None
    return result[0]
