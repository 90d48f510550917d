"""What a file name says about a recording, by the station agent's own naming rules
(ingest/naming.py, config/naming.toml), so browser uploads read names the same way."""

from __future__ import annotations

from functools import lru_cache

from aiohttp import web

from ingest.naming import Naming, from_name, load_naming
from server.access import UPLOAD, require
from server.http import appkeys as keys
from server.http.web import endpoint, json_response, principal, read_body
from server.schemas.people import NameToParse

routes = web.RouteTableDef()


@lru_cache(maxsize=4)
def _naming(zone: str) -> Naming:
    return load_naming(timezone=zone)


@routes.post("/api/v1/naming/parse")
@endpoint(
    "Device, officer and recording time (UTC) from a file name, by the station agent's "
    "naming rules in the camera time zone",
    tags=("uploads",),
    body=NameToParse,
    responses={200: "{device_id?, officer_id?, recorded_at?}: what the name says"},
)
async def parse_name(request: web.Request) -> web.Response:
    require(principal(request), UPLOAD)
    name = (await read_body(request, NameToParse)).name
    zone = request.app[keys.SETTINGS].camera_timezone
    return json_response({"name": name, **from_name(name.rsplit("/", 1)[-1], _naming(zone))})
