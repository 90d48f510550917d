"""User administration (admins only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import keys
from server.access import MANAGE_USERS, require
from server.accounts import add_user
from server.models import ROLES, User
from server.web import endpoint, iso, json_response, principal, read_json, require_str

routes = web.RouteTableDef()


def user_json(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "role": u.role, "agency_id": u.agency_id,
            "display_name": u.display_name, "active": u.active, "created_at": iso(u.created_at)}


def _list(s: Session) -> list[dict[str, Any]]:
    return [user_json(u) for u in s.scalars(select(User).order_by(User.id))]


@routes.get("/api/v1/users")
@endpoint("List users", tags=("users",))
async def list_users(request: web.Request) -> web.Response:
    require(principal(request), MANAGE_USERS)
    return json_response({"items": await request.app[keys.DB].run(_list), "next": None})


@routes.post("/api/v1/users")
@endpoint("Create a user", tags=("users",), body={
    "type": "object", "required": ["username", "password", "role"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                   "role": {"type": "string", "enum": list(ROLES)}, "agency": {"type": "string"}}},
    responses={201: "created", 400: "bad field", 409: "exists"})
async def create_user(request: web.Request) -> web.Response:
    require(principal(request), MANAGE_USERS)
    data = await read_json(request)
    agency = data.get("agency")

    def create(s: Session) -> dict[str, Any]:
        return user_json(add_user(s, require_str(data, "username", 100), require_str(data, "password", 1000),
                                  require_str(data, "role", 20), agency if isinstance(agency, str) else None,
                                  str(data.get("display_name", ""))[:200]))

    return json_response(await request.app[keys.DB].run(create), status=201)
