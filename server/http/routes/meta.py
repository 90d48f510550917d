"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import ipaddress

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.orm import Session

from server.access import READ_METRICS, require
from server.catalogue.outage import RETRY_AFTER_S
from server.http import appkeys as keys
from server.http.openapi import build_openapi
from server.http.web import endpoint, json_response, principal

routes = web.RouteTableDef()
READY_TIMEOUT_S = 5.0


@routes.get("/healthz")
@endpoint("Liveness: the process answers (it checks nothing else; see /readyz)", public=True)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
@endpoint(
    "Readiness: the catalogue answers and the store is reachable (for proxies and "
    "orchestrators); 503 with the failing part otherwise",
    public=True,
    responses={200: "ready", 503: "catalogue or store unavailable"},
)
async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    db = request.app[keys.DB]
    try:
        await asyncio.wait_for(db.read(_ping), timeout=READY_TIMEOUT_S)
        checks["catalogue"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is the error's code
        checks["catalogue"] = getattr(exc, "code", None) or "catalogue_unavailable"
    store = request.app[keys.STORE]
    try:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(None, store.health), timeout=READY_TIMEOUT_S)
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = getattr(exc, "code", None) or "store_unavailable"
    ready = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
        headers=None if ready else {"Retry-After": str(RETRY_AFTER_S)},
    )


def _ping(s: Session) -> None:
    s.execute(text("SELECT 1"))


@routes.get("/metrics")
@endpoint("Prometheus metrics (loopback scrapers, or auditors and admins)", public=True)
async def metrics(request: web.Request) -> web.Response:
    # Scrapers rarely carry a JWT: loopback (a local Prometheus or sidecar) may read freely;
    # anyone else must be an authenticated auditor or admin.
    remote = request.remote or ""
    try:
        local = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        local = False
    if not local:
        require(principal(request), READ_METRICS)
    body = generate_latest(request.app[keys.METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/api/v1/openapi.json")
@endpoint("This OpenAPI document", public=True, tags=("meta",))
async def openapi(request: web.Request) -> web.Response:
    return json_response(build_openapi(request.app))
