"""Guards around every handler: numbers and dates in paths and queries bounded (400, not 500),
and permission denials of an authenticated caller written to the access ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from server.access import Sealed
from server.custody.access_ledger import AccessLedger
from server.errors import Forbidden
from server.http import appkeys as keys
from server.http.web import PRINCIPAL
from server.intake.hygiene import check_request_numbers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def bounds_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    check_request_numbers(request.match_info, request.query)
    return await handler(request)


def access_ledger(request: web.Request) -> AccessLedger:
    """The process's access ledger (views, playback sessions, denials)."""
    return request.app[keys.ACCESS_LEDGER]


@web.middleware
async def denial_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Permission denials of an authenticated caller go to the access ledger (rate-limited)."""
    try:
        return await handler(request)
    except (Forbidden, Sealed) as exc:
        who = request.get(PRINCIPAL)
        ledger = request.app.get(keys.ACCESS_LEDGER)
        if who is not None and ledger is not None:
            await ledger.denied(
                who,
                exc.status,
                exc.code,
                method=request.method,
                path=request.path,
                address=request.remote or "",
            )
        raise
