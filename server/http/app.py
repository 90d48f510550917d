"""The aiohttp application factory: explicit lifetimes, one error translation, auth by default."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import CollectorRegistry, Counter, Histogram

from server.catalogue.outage import RETRY_AFTER_S, classify
from server.errors import CustodianError, Unauthorized
from server.http import appkeys as keys
from server.http.grants import MEDIA_GRANTS, GrantCache
from server.http.guards import bounds_middleware, denial_middleware
from server.http.lifetimes import (
    access_ledger_ctx,
    database_ctx,
    executors_ctx,
    exports_cleanup_ctx,
    fixity_ctx,
    hash_pool_ctx,
    signing_ctx,
    store_ctx,
    tree_head_ctx,
    uploads_ctx,
    workers_ctx,
)
from server.http.principals import ACCOUNTS, AccountCache, resolve
from server.http.routes import all_routes
from server.http.tokens import TokenIssuer, load_secret
from server.http.web import PRINCIPAL, is_public, json_response
from server.intake.hygiene import public_message, secure_data_dir
from server.messages import error_body, negotiate
from server.people.logins import Serializer
from server.settings import Settings

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AccessLogger(AbstractAccessLogger):
    """One line per request with the user id, so every access is attributable."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        who = request.get(PRINCIPAL)
        self.logger.info(
            '%s "%s %s" %s %s %.3fs user=%s',
            request.remote,
            request.method,
            request.path_qs,
            response.status,
            response.body_length,
            time,
            who.user_id if who else "-",
        )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into {"error", "code", "message"} with a fitting status; `message` is in
    the request's Accept-Language (server/messages.py)."""
    lang = negotiate(request.headers.get("Accept-Language"))
    try:
        return await handler(request)
    except CustodianError as exc:
        return _error_response(request, exc, lang)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "http_error"
        )
        params = {"what": "page", "ref": ""} if exc.status == 404 else None
        return json_response(
            error_body(code, exc.reason, params, lang, exc.status),
            status=exc.status,
            headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
        )
    except OverflowError:  # a number or date past what the catalogue or datetime can hold
        return json_response(
            error_body(
                "out_of_range", "a number or date in the request is out of range", None, lang, 400
            ),
            status=400,
        )
    except Exception as exc:
        mapped = classify(exc)  # a catalogue outage outside Database.run: 503, logged once
        if mapped is not None:
            if keys.DB in request.app:
                request.app[keys.DB].outage.failed(exc)
            return _error_response(request, mapped, lang)
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(
            error_body("internal", "internal server error", None, lang, 500), status=500
        )


def _error_response(request: web.Request, exc: CustodianError, lang: str) -> web.Response:
    headers = {}
    if exc.status == 503:
        # An outage (catalogue or store): clients wait and retry; the outage is logged once
        # where it is detected, not once per refused request.
        headers["Retry-After"] = str(RETRY_AFTER_S)
    elif exc.status >= 500:
        logger.error("%s %s: %s", request.method, request.path, exc.message)
    return json_response(
        error_body(exc.code, public_message(exc), exc.params, lang, exc.status),
        status=exc.status,
        headers=headers,
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route needs a valid bearer token unless it was declared public."""
    public = is_public(request.match_info.handler) or request.match_info.http_exception is not None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            claims = request.app[keys.TOKENS].check(header.removeprefix("Bearer ").strip())
            request[PRINCIPAL] = await resolve(request.app, claims)  # the catalogue decides
        except Unauthorized:
            if not public:  # a stale token does not break a public page
                raise
    elif not public:
        raise Unauthorized("authentication required: send Authorization: Bearer <token>")
    return await handler(request)


def metrics_middleware(registry: CollectorRegistry) -> Callable[..., Awaitable[web.StreamResponse]]:
    requests = Counter(
        "custodian_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "custodian_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "unmatched"
        )
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            requests.labels(request.method, route, str(status)).inc()
            latency.labels(route).observe(time.perf_counter() - start)

    return middleware


def create_app(settings: Settings) -> web.Application:
    """Build the application; resources open in cleanup contexts when it starts."""
    registry = CollectorRegistry()
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[
            metrics_middleware(registry),
            error_middleware,
            auth_middleware,
            bounds_middleware,
            denial_middleware,
        ],
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = registry
    secure_data_dir(settings)  # 0700; the catalogue and exports 0600
    app[keys.TOKENS] = TokenIssuer(settings, load_secret(settings))
    app[ACCOUNTS] = AccountCache(settings.account_cache_seconds)
    app[keys.LOGIN_SERIALIZER] = Serializer()
    app[MEDIA_GRANTS] = GrantCache(settings.media_access_cache_seconds)
    app.cleanup_ctx.append(executors_ctx)  # first in, last out: every pool outlives its users
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.extend((signing_ctx, tree_head_ctx, fixity_ctx))  # key, tree heads, scrub
    app.cleanup_ctx.append(uploads_ctx)
    app.cleanup_ctx.append(access_ledger_ctx)  # view and denial entries (issue 12)
    app.cleanup_ctx.extend((hash_pool_ctx, exports_cleanup_ctx))
    if settings.worker_in_server:
        app.cleanup_ctx.append(workers_ctx)
    for table in all_routes():
        app.router.add_routes(table)
    return app
