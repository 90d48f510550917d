"""Login and the caller's own account."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from server import keys
from server.accounts import LoginLimits, get_user, login
from server.errors import Unauthorized
from server.web import endpoint, iso, json_response, principal, read_json, require_str

routes = web.RouteTableDef()

LOGIN_BODY = {"type": "object", "required": ["username", "password"],
              "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}


@routes.post("/api/v1/auth/login")
@endpoint("Exchange a username and password for a short-lived JWT", public=True, tags=("auth",),
          body=LOGIN_BODY, responses={200: "token and expires_at", 401: "wrong credentials",
                                      429: "too many failed logins"})
async def login_route(request: web.Request) -> web.Response:
    data = await read_json(request)
    username = require_str(data, "username", 100)
    password = require_str(data, "password", 1000)
    settings = request.app[keys.SETTINGS]
    limits = LoginLimits(settings.login_max_failures, timedelta(seconds=settings.login_window_seconds))
    who = await request.app[keys.DB].run(login, username, password, request.remote or "?", limits)
    if who is None:
        raise Unauthorized("wrong username or password", code="bad_credentials")
    token, expires = request.app[keys.TOKENS].issue(who.user_id, who.username, who.role, who.agency_id)
    return json_response({"token": token, "expires_at": iso(expires), "role": who.role})


@routes.get("/api/v1/auth/me")
@endpoint("The authenticated user", tags=("auth",))
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    user = await request.app[keys.DB].run(get_user, who.user_id)
    if not user.active:
        raise Unauthorized("account disabled", code="account_disabled")
    return json_response({"id": user.id, "username": user.username, "role": user.role,
                          "agency_id": user.agency_id, "display_name": user.display_name})
