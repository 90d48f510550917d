"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from server import keys
from server.access import READ_METRICS, require
from server.openapi import build_openapi
from server.web import endpoint, json_response, principal

routes = web.RouteTableDef()


@routes.get("/healthz")
@endpoint("Liveness and store reachability", public=True)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


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

