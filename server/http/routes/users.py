"""User and agency administration (admins only); every change is ledgered with the act."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import MANAGE_USERS, require
from server.catalogue.models import ROLES, Agency, User
from server.custody.ledger import actor_of
from server.errors import BadRequest
from server.http import appkeys as keys
from server.http.appkeys import HASH_POOL
from server.http.principals import ACCOUNTS
from server.http.web import endpoint, iso, json_response, principal, read_json, require_str
from server.people.accounts import (
    _UNSET,
    add_agency,
    add_user,
    agency_json,
    check_password_policy,
    get_user,
    update_user,
)

routes = web.RouteTableDef()
MAX_USER_ID = 2**31 - 1


def user_json(u: User, agencies: dict[int, str] | None = None) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "role": u.role, "agency_id": u.agency_id,
            "agency": (agencies or {}).get(u.agency_id) if u.agency_id else None,
            "display_name": u.display_name, "active": u.active, "created_at": iso(u.created_at),
            "updated_at": iso(u.updated_at)}


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
    return json_response({"items": await request.app[keys.DB].run(_list), "next": None})


@routes.post("/api/v1/users")
@endpoint("Create a user (ledgered)", tags=("users",), body={
    "type": "object", "required": ["username", "password", "role"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                   "role": {"type": "string", "enum": list(ROLES)}, "agency": {"type": "string"},
                   "display_name": {"type": "string"}}},
    responses={201: "created", 400: "bad field or weak password", 409: "exists"})
async def create_user(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    data = await read_json(request)
    agency = data.get("agency")
    username = require_str(data, "username", 100)
    password = require_str(data, "password", 1000)
    check_password_policy(password, username)  # before spending a hash on it
    hashed = await request.app[HASH_POOL].hash(password)

    def create(s: Session) -> dict[str, Any]:
        user = add_user(s, username, password, require_str(data, "role", 20),
                        agency if isinstance(agency, str) and agency else None,
                        str(data.get("display_name", ""))[:200], actor=actor_of(who),
                        password_hash=hashed)
        return user_json(user, _codes(s))

    return json_response(await request.app[keys.DB].run(create), status=201)


PATCH_BODY = {
    "type": "object",
    "properties": {
        "active": {"type": "boolean", "description": "false disables the account at once"},
        "role": {"type": "string", "enum": list(ROLES)},
        "agency": {"type": ["string", "null"], "description": "agency code; null for none"},
        "password": {"type": "string", "description": "a new password (reset)"},
        "display_name": {"type": "string"},
    },
}


@routes.patch("/api/v1/users/{id}")
@endpoint("Change a user: active, role, agency, password reset, display name. Password, role, "
          "agency and active changes revoke the user's tokens at once (ledgered)",
          tags=("users",), body=PATCH_BODY,
          responses={200: "the user", 400: "bad field", 404: "no such user",
                     409: "would leave no active administrator"})
async def patch_user(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    user_id = _user_id(request)
    data = await read_json(request)
    unknown = set(data) - set(PATCH_BODY["properties"])  # type: ignore[arg-type]
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}", code="bad_field")
    active = data.get("active")
    if active is not None and not isinstance(active, bool):
        raise BadRequest("field 'active' must be true or false", code="bad_field")
    role = data.get("role")
    if role is not None and role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}", code="bad_role")
    agency: Any = _UNSET
    if "agency" in data:
        agency = data["agency"]
        if agency is not None and (not isinstance(agency, str) or len(agency) > 64):
            raise BadRequest("field 'agency' must be an agency code or null", code="bad_field")
        agency = agency or None
    password = data.get("password")
    hashed = None
    if password is not None:
        if not isinstance(password, str):
            raise BadRequest("field 'password' must be a string", code="bad_field")
        name = (await request.app[keys.DB].run(get_user, user_id)).username
        check_password_policy(password, name)
        hashed = await request.app[HASH_POOL].hash(password)
    display = data.get("display_name")
    if display is not None and not isinstance(display, str):
        raise BadRequest("field 'display_name' must be a string", code="bad_field")

    def change(s: Session) -> dict[str, Any]:
        user = get_user(s, user_id)
        changed = update_user(s, user, actor=actor_of(who), active=active, role=role,
                              agency_code=agency, password=password, password_hash=hashed,
                              display_name=display)
        return {**user_json(user, _codes(s)), "changed": sorted(changed)}

    body = await request.app[keys.DB].run(change)
    request.app[ACCOUNTS].invalidate(user_id)  # this process sees the change at once
    return json_response(body)


@routes.get("/api/v1/agencies")
@endpoint("List agencies", tags=("users",))
async def list_agencies(request: web.Request) -> web.Response:
    require(principal(request), MANAGE_USERS)

    def rows(s: Session) -> list[dict[str, Any]]:
        return [agency_json(a) for a in s.scalars(select(Agency).order_by(Agency.code))]

    return json_response({"items": await request.app[keys.DB].run(rows), "next": None})


@routes.post("/api/v1/agencies")
@endpoint("Create an agency (ledgered)", tags=("users",), body={
    "type": "object", "required": ["code"],
    "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
    responses={201: "created", 400: "bad field", 409: "exists"})
async def create_agency(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, MANAGE_USERS)
    data = await read_json(request)
    code = require_str(data, "code", 64)
    name = data.get("name") or code
    if not isinstance(name, str):
        raise BadRequest("field 'name' must be a string", code="bad_field")

    def create(s: Session) -> dict[str, Any]:
        return agency_json(add_agency(s, code, name, actor=actor_of(who)))

    return json_response(await request.app[keys.DB].run(create), status=201)
