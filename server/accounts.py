"""Users and agencies in the catalogue, and login with rate limiting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.access import Principal
from server.errors import BadRequest, Conflict, NotFound, TooManyRequests
from server.models import ROLES, Agency, LoginFailure, User, utcnow
from server.passwords import DUMMY_HASH, hash_password, verify_password

logger = logging.getLogger(__name__)
MIN_PASSWORD_LENGTH = 10


def get_agency_by_code(s: Session, code: str) -> Agency:
    agency = s.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"no agency with code {code!r}; create it with `custodian agency add {code}`")
    return agency


def add_agency(s: Session, code: str, name: str) -> Agency:
    """Create an agency; its code must be new."""
    if not code or len(code) > 64:
        raise BadRequest("agency code must be 1-64 characters")
    if s.scalar(select(Agency).where(Agency.code == code)) is not None:
        raise Conflict(f"agency {code!r} already exists")
    agency = Agency(code=code, name=name or code)
    s.add(agency)
    s.flush()
    return agency


def add_user(s: Session, username: str, password: str, role: str, agency_code: str | None = None,
             display_name: str = "") -> User:
    """Create a user with a role (and agency for agency-bound roles)."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", code="bad_role")
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise BadRequest("username must be 1-100 characters without spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                         code="weak_password")
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    agency_id = get_agency_by_code(s, agency_code).id if agency_code else None
    if agency_id is None and role not in ("supervisor", "auditor", "admin"):
        raise BadRequest(f"role {role!r} belongs to an agency: give --agency CODE", code="agency_required")
    user = User(username=username, password_hash=hash_password(password), role=role,
                agency_id=agency_id, display_name=display_name)
    s.add(user)
    s.flush()
    return user


def count_users(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(User)) or 0


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int
    window: timedelta


def _failures(s: Session, key: str, since: datetime) -> int:
    return s.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.key == key, LoginFailure.at >= since)) or 0


def login(s: Session, username: str, password: str, address: str, limits: LoginLimits,
          now: datetime | None = None) -> Principal | None:
    """Check credentials; None on failure. Failed attempts are counted per user and per
    address (returned, not raised, so the count commits), and either reaching the limit locks
    further attempts out for the window."""
    now = now or utcnow()
    since = now - limits.window
    keys = [f"user:{username}", f"addr:{address}"]
    s.execute(delete(LoginFailure).where(LoginFailure.at < since))
    for key in keys:
        if _failures(s, key, since) >= limits.max_failures:
            raise TooManyRequests(
                f"too many failed logins for {key.split(':', 1)[0]}; wait "
                f"{int(limits.window.total_seconds())} s", code="login_locked")
    user = s.scalar(select(User).where(User.username == username))
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    if not ok or user is None or not user.active:
        for key in keys:
            s.add(LoginFailure(key=key, at=now))
        logger.info("failed login for %r from %s", username, address)
        return None
    return Principal(user.id, user.username, user.role, user.agency_id)


def get_user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user
