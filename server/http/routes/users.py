"""User and agency administration (admins only); every change is ledgered with the act."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import MANAGE_USERS, require
from server.catalogue.models import Agency, User
from server.custody.ledger import actor_of
from server.errors import BadRequest
from server.http import appkeys as keys
from server.http.appkeys import HASH_POOL
from server.http.principals import ACCOUNTS
from server.http.web import endpoint, iso, json_response, principal, read_body
from server.people.accounts import (
    _UNSET,
    add_agency,
    add_user,
    agency_json,
    check_password_policy,
    get_user,
    update_user,
)
from server.schemas.people import NewAgency, NewUser, UserChange, UserReply

routes = web.RouteTableDef()
MAX_USER_ID = 2**31 - 1
USER_ID = {"type": "integer", "minimum": 0, "maximum": MAX_USER_ID}


def user_json(u: User, agencies: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "agency_id": u.agency_id,
        "agency": (agencies or {}).get(u.agency_id) if u.agency_id else None,
        "display_name": u.display_name,
        "active": u.active,
        "created_at": iso(u.created_at),
        "updated_at": iso(u.updated_at),
    }


def _codes(s: Session) -> dict[int, str]:
    return {i: c for i, c in s.execute(select(Agency.id, Agency.code))}


def _list(s: Session) -> list[dict[str, Any]]:
    codes = _codes(s)
    return [user_json(u, codes) for u in s.scalars(select(User).order_by(User.id))]


def _user_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or int(raw) > MAX_USER_ID:
        raise BadRequest(f"user id {raw[:30]!r} must be a positive integer", code="bad_id")
    return int(raw)


@routes.get("/api/v1/users")
@endpoint("List users", tags=("users",))
async def list_users(request: web.Request) -> web.Response:
    require(principal(request), MANAGE_USERS)
    return json_response({"items": await request.app[keys.DB].read(_list), "next": None})


@routes.post("/api/v1/users")
@endpoint(
    "Create a user (ledgered)",
    tags=("users",),
    body=NewUser,
    responses={
        201: ("created", UserReply),
        400: "bad field or weak password",
        404: "no such agency",
        409: "exists",
    },
)
async def create_user(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    new = await read_body(request, NewUser)
    check_password_policy(new.password, new.username)  # before spending a hash on it
    hashed = await request.app[HASH_POOL].hash(new.password)

    def create(s: Session) -> dict[str, Any]:
        user = add_user(
            s,
            new.username,
            new.password,
            new.role,
            new.agency or None,
            new.display_name,
            actor=actor_of(who),
            password_hash=hashed,
        )
        return user_json(user, _codes(s))

    return json_response(await request.app[keys.DB].run(create), status=201)


@routes.patch("/api/v1/users/{id}")
@endpoint(
    "Change a user: active, role, agency, password reset, display name. Password, role, "
    "agency and active changes revoke the user's tokens at once (ledgered)",
    tags=("users",),
    body=UserChange,
    path={"id": USER_ID},
    responses={
        200: ("the user", UserReply),
        400: "bad field",
        404: "no such user",
        409: "would leave no active administrator",
    },
)
async def patch_user(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    user_id = _user_id(request)
    change = await read_body(request, UserChange)
    agency: Any = (change.agency or None) if "agency" in change.given() else _UNSET
    hashed = None
    if change.password is not None:
        name = (await request.app[keys.DB].run(get_user, user_id)).username
        check_password_policy(change.password, name)
        hashed = await request.app[HASH_POOL].hash(change.password)

    def apply(s: Session) -> dict[str, Any]:
        user = get_user(s, user_id)
        changed = update_user(
            s,
            user,
            actor=actor_of(who),
            active=change.active,
            role=change.role,
            agency_code=agency,
            password=change.password,
            password_hash=hashed,
            display_name=change.display_name,
        )
        return {**user_json(user, _codes(s)), "changed": sorted(changed)}

    body = await request.app[keys.DB].run(apply)
    request.app[ACCOUNTS].invalidate(user_id)  # this process sees the change at once
    return json_response(body)


@routes.get("/api/v1/agencies")
@endpoint("List agencies", tags=("users",))
async def list_agencies(request: web.Request) -> web.Response:
    require(principal(request), MANAGE_USERS)

    def rows(s: Session) -> list[dict[str, Any]]:
        return [agency_json(a) for a in s.scalars(select(Agency).order_by(Agency.code))]

    return json_response({"items": await request.app[keys.DB].read(rows), "next": None})


@routes.post("/api/v1/agencies")
@endpoint(
    "Create an agency (ledgered)",
    tags=("users",),
    body=NewAgency,
    responses={201: "created", 400: "bad field", 409: "exists"},
)
async def create_agency(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    new = await read_body(request, NewAgency)
    code, name = new.code, new.name or new.code

    def create(s: Session) -> dict[str, Any]:
        return agency_json(add_agency(s, code, name, actor=actor_of(who)))

    return json_response(await request.app[keys.DB].run(create), status=201)
