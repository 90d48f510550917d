"""Login and the caller's own account."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.errors import Unauthorized
from server.http import appkeys as keys
from server.http.appkeys import HASH_POOL, LOGIN_SERIALIZER
from server.http.web import endpoint, iso, json_response, principal, read_body
from server.netaddr import client_address
from server.people.accounts import get_user
from server.people.logins import LoginLimits, delay_for, fail, prepare, succeed
from server.schemas.people import Login, LoginReply, Me

routes = web.RouteTableDef()


def request_address(request: web.Request) -> str:
    """The client's address: X-Forwarded-For is believed from trusted_proxies only."""
    return client_address(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.app[keys.SETTINGS].trusted_proxies,
    )


@routes.post("/api/v1/auth/login")
@endpoint(
    "Exchange a username and password for a short-lived JWT",
    public=True,
    tags=("auth",),
    body=Login,
    responses={
        200: ("token and expires_at", LoginReply),
        401: "wrong credentials",
        429: "too many failed logins for this user from this address",
        503: "too many logins at once",
    },
)
async def login_route(request: web.Request) -> web.Response:
    login = await read_body(request, Login)
    username, password = login.username, login.password
    app = request.app
    db = app[keys.DB]
    limits = LoginLimits.of(app[keys.SETTINGS])
    address = request_address(request)
    pool = app[HASH_POOL]
    async with pool.turn():
        attempt = await db.run(prepare, username, address, limits)
    held: list[str] = []
    serializer = app[LOGIN_SERIALIZER]
    try:
        delay = delay_for(attempt, limits)
        if delay:
            # Over the limit: answer after a delay that doubles per failure (a correct
            # password still gets in), one attempt at a time for a failing address.
            queue = []
            if attempt.address_failures >= limits.max_failures:
                queue.append(f"addr:{address}")
            if attempt.user_failures >= limits.max_failures and attempt.address_failures:
                queue.append(f"user:{username}")
            held = await serializer.hold(queue)
            if held:
                async with pool.turn():
                    attempt = await db.run(prepare, username, address, limits)
                delay = delay_for(attempt, limits)
            await asyncio.sleep(delay)
        async with pool.turn():
            ok = await pool.verify(password, attempt.password_hash)
            result = None
            if ok and attempt.user_id is not None and attempt.active:
                result = await db.run(
                    succeed, attempt.user_id, username, address, attempt.password_hash
                )
            if result is None:
                reason = (
                    "unknown_user"
                    if attempt.user_id is None
                    else "wrong_password"
                    if not ok
                    else "account_disabled"
                )
                await db.run(fail, username, address, attempt.user_id, reason, limits)
        if result is None:
            raise Unauthorized("wrong username or password", code="bad_credentials")
    finally:
        serializer.release(held)
    who, version = result
    token, expires = app[keys.TOKENS].issue(
        who.user_id, who.username, who.role, who.agency_id, version=version
    )
    return json_response(LoginReply(token=token, expires_at=iso(expires) or "", role=who.role))


@routes.get("/api/v1/auth/me")
@endpoint("The authenticated user", tags=("auth",), responses={200: ("the user", Me)})
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    user = await request.app[keys.DB].read(get_user, who.user_id)
    if not user.active:
        raise Unauthorized("account disabled", code="account_disabled")
    return json_response(
        Me(
            id=user.id,
            username=user.username,
            role=user.role,
            agency_id=user.agency_id,
            display_name=user.display_name,
        )
    )
