"""Users and agencies in the catalogue: creation, changes (each bumping the user's token
version), the password policy, and the ledger entries for all of it."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrity.ledger import AGENCY, USER
from server.catalogue.models import ROLES, Agency, User, utcnow
from server.custody.ledger import append
from server.errors import BadRequest, Conflict, NotFound
from server.isotime import iso
from server.people.passwords import hash_password

logger = logging.getLogger(__name__)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "common-passwords.txt"
# Roles that may exist without an agency (they see every agency).
UNBOUND_ROLES = ("supervisor", "auditor", "admin")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse short, listed-common or username-equal passwords (400 weak_password)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", code="weak_password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(
            f"password must have at most {MAX_PASSWORD_LENGTH} characters", code="weak_password"
        )
    lowered = password.lower()
    if lowered in common_passwords():
        raise BadRequest(
            "password is on the list of common passwords; choose another", code="weak_password"
        )
    if len(username) >= 4 and username.lower() in lowered:
        raise BadRequest("password must not contain the user name", code="weak_password")


def get_agency_by_code(s: Session, code: str) -> Agency:
    agency = s.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(
            f"no agency with code {code!r}; create it with `custodian agency add {code}`"
        )
    return agency


def agency_json(a: Agency) -> dict[str, Any]:
    return {"id": a.id, "code": a.code, "name": a.name, "created_at": iso(a.created_at)}


def add_agency(s: Session, code: str, name: str, *, actor: str | None = None) -> Agency:
    """Create an agency; its code must be new. With an actor, the creation is ledgered in the
    same transaction."""
    if not code or len(code) > 64 or any(c.isspace() or ord(c) < 32 for c in code):
        raise BadRequest("agency code must be 1-64 characters without spaces", code="bad_field")
    if len(name or "") > 200:
        raise BadRequest("agency name must be at most 200 characters", code="bad_field")
    if s.scalar(select(Agency).where(Agency.code == code)) is not None:
        raise Conflict(f"agency {code!r} already exists")
    agency = Agency(code=code, name=name or code)
    s.add(agency)
    s.flush()
    if actor:
        append(
            s,
            actor=actor,
            action=AGENCY,
            subject=f"agency:{agency.id}",
            details={"change": "created", "code": agency.code, "name": agency.name},
        )
    return agency


def _check_username(username: str) -> None:
    if (
        not username
        or len(username) > 100
        or any(c.isspace() or ord(c) < 32 or c in "/\\:" for c in username)
    ):
        raise BadRequest(
            "username must be 1-100 characters without spaces, slashes or colons", code="bad_field"
        )


def _check_role_agency(role: str, agency_id: int | None) -> None:
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", code="bad_role")
    if agency_id is None and role not in UNBOUND_ROLES:
        raise BadRequest(
            f"role {role!r} belongs to an agency: give --agency CODE", code="agency_required"
        )


def add_user(
    s: Session,
    username: str,
    password: str,
    role: str,
    agency_code: str | None = None,
    display_name: str = "",
    *,
    actor: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Create a user with a role (and agency for agency-bound roles). The password must pass
    the policy; a caller that hashed it already (off the catalogue threads) passes the hash.
    With an actor, the creation is ledgered in the same transaction."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", code="bad_role")
    _check_username(username)
    check_password_policy(password, username)
    if len(display_name) > 200:
        raise BadRequest("display name must be at most 200 characters", code="bad_field")
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    agency_id = get_agency_by_code(s, agency_code).id if agency_code else None
    _check_role_agency(role, agency_id)
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        role=role,
        agency_id=agency_id,
        display_name=display_name,
        token_version=0,
    )
    s.add(user)
    s.flush()
    if actor:
        append(
            s,
            actor=actor,
            action=USER,
            subject=f"user:{user.id}",
            details={
                "change": "created",
                "username": user.username,
                "role": role,
                "agency_id": agency_id,
                "agency": agency_code,
            },
        )
    return user


def count_users(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(User)) or 0


def get_user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def get_user_by_name(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}; list them with GET /api/v1/users")
    return user


_UNSET: Any = object()


def update_user(
    s: Session,
    user: User,
    *,
    actor: str,
    active: bool | None = None,
    role: str | None = None,
    agency_code: str | None = _UNSET,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Change an account; every change of password, role, agency or active bumps the user's
    token version, so tokens issued before stop working at once. Ledgered in the same
    transaction. Returns what changed (empty when nothing did)."""
    changed: dict[str, Any] = {}
    new_role = user.role if role is None else role
    new_agency = user.agency_id
    if agency_code is not _UNSET:
        new_agency = get_agency_by_code(s, agency_code).id if agency_code else None
    _check_role_agency(new_role, new_agency)
    if role is not None and role != user.role:
        changed["role"] = {"from": user.role, "to": role}
    if new_agency != user.agency_id:
        changed["agency_id"] = {"from": user.agency_id, "to": new_agency}
        if agency_code:
            changed["agency"] = agency_code
    if active is not None and active != user.active:
        changed["active"] = {"from": user.active, "to": active}
    if password is not None:
        check_password_policy(password, user.username)
        changed["password"] = "reset"  # never the password or its hash
    if display_name is not None and display_name != user.display_name:
        if len(display_name) > 200:
            raise BadRequest("display name must be at most 200 characters", code="bad_field")
        changed["display_name"] = {"from": user.display_name, "to": display_name}
    if not changed:
        return {}
    losing_admin = (
        user.role == "admin"
        and user.active
        and (("role" in changed and new_role != "admin") or ("active" in changed and not active))
    )
    if losing_admin:
        others = (
            s.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == "admin", User.active.is_(True), User.id != user.id)
            )
            or 0
        )
        if not others:
            raise Conflict(
                "this is the last active administrator; make another one first", code="last_admin"
            )
    user.role = new_role
    user.agency_id = new_agency
    if active is not None:
        user.active = active
    if password is not None:
        user.password_hash = password_hash or hash_password(password)
    if display_name is not None:
        user.display_name = display_name
    revoking = bool({"role", "agency_id", "active", "password"} & changed.keys())
    if revoking:
        user.token_version = (user.token_version or 0) + 1
    user.updated_at = utcnow()
    s.flush()
    append(
        s,
        actor=actor,
        action=USER,
        subject=f"user:{user.id}",
        details={
            "change": "updated",
            "username": user.username,
            **changed,
            "token_version": user.token_version,
            "tokens_revoked": revoking,
        },
    )
    return changed
