"""Evidence items: list, detail, original bytes."""

from __future__ import annotations

from aiohttp import web

from server.custody.access_ledger import ORIGINAL_RANGE
from server.errors import BadRequest
from server.http import appkeys as keys
from server.http.guards import access_ledger
from server.http.streaming import parse_range, send_object
from server.http.web import endpoint, json_response, principal
from server.intake.evidence import ItemFilters, get_item, item_detail, list_items, servable_item

routes = web.RouteTableDef()


@routes.get("/api/v1/evidence")
@endpoint(
    "List evidence items visible to the caller",
    tags=("evidence",),
    params={
        "sha256": "exact SHA-256 of the original",
        "case": "case id or case number: items linked to it",
        "unit": "officers' unit (科室/中队): their footage, by the registry",
        "officer_id": "officer (as the camera or upload named them)",
        "device_id": "body camera (执法记录仪编号)",
        "station_id": "docking station",
        "recorded_from": "recorded at or after (RFC 3339 or a date)",
        "recorded_to": "recorded at or before (RFC 3339 or a date: that whole day)",
        "kind": "video, audio, photo, document, other (comma-separated)",
        "status": "received, processing, ready, damaged, unplayable, stored (comma-separated)",
        "unlinked": "1: only items linked to no case now",
        "filename": "part of the original file name",
        "ids": "only these item ids (comma-separated, at most 200)",
        "cursor": "from the previous page's next",
        "limit": "page size, at most 200",
    },
)
async def list_evidence(request: web.Request) -> web.Response:
    q = request.query
    try:
        limit = int(q.get("limit", "50"))
    except ValueError:
        raise BadRequest(
            "limit must be an integer", code="bad_query", params={"field": "limit"}
        ) from None
    filters = ItemFilters.from_query(q)
    page = await request.app[keys.DB].read(
        list_items,
        principal(request),
        sha256=q.get("sha256"),
        cursor=q.get("cursor"),
        limit=limit,
        case=q.get("case"),
        unit=q.get("unit"),
        filters=filters,
    )
    return json_response(page)


@routes.get("/api/v1/evidence/{id}")
@endpoint("One evidence item", tags=("evidence",), responses={200: "the item", 404: "no such item"})
async def get_evidence(request: web.Request) -> web.Response:
    who = principal(request)
    return json_response(
        await request.app[keys.DB].read(
            lambda s: item_detail(s, get_item(s, request.match_info["id"], who), who)
        )
    )


@routes.get("/api/v1/evidence/{id}/original")
@endpoint(
    "The original bytes, unchanged (Range supported); ledgered as a view: one entry per "
    "request, ranged reads one per range session",
    tags=("evidence",),
    responses={200: "bytes", 206: "partial bytes", 410: "disposed of", 416: "bad range"},
)
async def get_original(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    item = await request.app[keys.DB].read(servable_item, request.match_info["id"], who)
    ranged = parse_range(request.headers.get("Range"), item.size) is not None  # 416 unledgered
    details = {
        "what": "original",
        "method": request.method,
        "sha256": item.sha256,
        "size": item.size,
        "address": request.remote or "",
    }
    if ranged and request.method == "GET":
        await access_ledger(request).session(who, item.id, ORIGINAL_RANGE, details)
    else:
        if ranged:
            details["range"] = request.headers.get("Range", "")[:100]
        await access_ledger(request).view(who, f"evidence:{item.id}", details)
    return await send_object(
        request, request.app[keys.STORE], item.sha256, item.size, filename=item.original_filename
    )
