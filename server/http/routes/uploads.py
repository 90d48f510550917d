"""tus 1.0 resumable uploads at /api/v1/uploads/ (creation, checksum, termination, expiration)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from server.access import UPLOAD, require
from server.errors import CustodianError
from server.http import appkeys as keys
from server.http.appkeys import UPLOADS
from server.http.web import endpoint, json_response, principal
from server.intake.hygiene import public_message
from server.intake.tus import READ_BUFFER
from server.intake.tus_headers import CHECKSUM_ALGORITHMS, TUS_EXTENSIONS, TUS_VERSION
from server.intake.upload_rows import get_upload, list_uploads, upload_json
from server.messages import error_body, negotiate

routes = web.RouteTableDef()
# Every tus request but OPTIONS names the protocol version (412 otherwise).
TUS_HEADER = {"Tus-Resumable": {"type": "string", "enum": ["1.0.0"]}}
TUS_412 = "Tus-Resumable: 1.0.0 missing"
BASE = "/api/v1/uploads"
OFFSET_TYPE = "application/offset+octet-stream"
# Browsers may only read response headers that are listed here (tus-js-client needs them).
EXPOSE = (
    "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, Tus-Version, "
    "Tus-Resumable, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Custodian-Sha256, "
    "Custodian-Evidence-Id, Custodian-Duplicate"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _tus_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "Tus-Resumable": TUS_VERSION,
        "Access-Control-Expose-Headers": EXPOSE,
        "Cache-Control": "no-store",
        **(extra or {}),
    }


def _http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


def _error(request: web.Request, code: str, error: str, params: Any, status: int) -> dict[str, Any]:
    """The error JSON with its message in the caller's language."""
    return error_body(
        code, error, params, negotiate(request.headers.get("Accept-Language")), status
    )


def tus(handler: Handler) -> Handler:
    """Check Tus-Resumable and answer errors as JSON that still carries the tus headers."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            # The role answers first: a caller who may not upload learns that, not tus details.
            try:
                require(principal(request), UPLOAD)
            except CustodianError as exc:
                return json_response(
                    _error(request, exc.code, exc.message, exc.params, exc.status),
                    status=exc.status,
                    headers=_tus_headers(),
                )
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            return json_response(
                _error(
                    request, "tus_version", f"Tus-Resumable: {TUS_VERSION} is required", None, 412
                ),
                status=412,
                headers=_tus_headers({"Tus-Version": TUS_VERSION}),
            )
        try:
            return await handler(request)
        except CustodianError as exc:
            return json_response(
                _error(request, exc.code, public_message(exc), exc.params, exc.status),
                status=exc.status,
                headers=_tus_headers(),
            )

    return wrapped


def _committed_headers(u: dict[str, Any]) -> dict[str, str]:
    if u["state"] != "committed":
        return {}
    return {
        "Custodian-Sha256": u["sha256"],
        "Custodian-Evidence-Id": u["evidence_id"],
        "Custodian-Duplicate": "true" if u["duplicate"] else "false",
    }


def _offset_headers(u: dict[str, Any]) -> dict[str, str]:
    h = {"Upload-Offset": str(u["offset"]), **_committed_headers(u)}
    if u["state"] == "receiving":
        h["Upload-Expires"] = _http_date(u["expires_at"])
    return h


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    """The body streamed as it arrives (never held whole in memory), one socket read at a time.

    The read buffer is raised from aiohttp's 64 KiB so the socket is not paused and resumed
    every 128 KiB while a thread hashes and writes; the pieces are handed on as received,
    without the join (a copy) that readany() does when several are waiting."""
    content = request.content
    content.set_read_chunk_size(READ_BUFFER)
    async for data, _end_of_http_chunk in content.iter_chunks():
        if data:
            yield data


def _content_length(request: web.Request) -> int | None:
    return request.content_length


@routes.options(BASE + "/")
@endpoint(
    "tus discovery: version, extensions, limits",
    public=True,
    tags=("uploads",),
    responses={204: "tus capabilities"},
)
@tus
async def options(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    return web.Response(
        status=204,
        headers=_tus_headers(
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(settings.upload_max_bytes),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
                "Access-Control-Allow-Methods": "POST, GET, HEAD, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Upload-Length, "
                "Upload-Metadata, Upload-Offset, Upload-Checksum, Tus-Resumable, Custodian-Sha256",
            }
        ),
    )


@routes.post(BASE + "/")
@endpoint(
    "tus creation: start an upload (Upload-Length, Upload-Metadata with filename and "
    "sha256; device_id, officer_id, recorded_at, station_id, case, stage where known)",
    tags=("uploads",),
    responses={
        201: "created; Location is the upload URL",
        403: "role may not upload",
        413: "over upload_max_bytes",
        507: "no room in the store or over quota",
        412: TUS_412,
    },
    headers=TUS_HEADER,
)
@tus
async def create(request: web.Request) -> web.Response:
    manager = request.app[UPLOADS]
    who = principal(request)
    u = await manager.create(
        who,
        request.headers.get("Upload-Length"),
        request.headers.get("Upload-Metadata"),
        request.headers.get("Upload-Defer-Length"),
    )
    location = f"{BASE}/{u['id']}"
    headers = {
        "Location": location,
        "Upload-Expires": _http_date(u["expires_at"]),
        "Upload-Offset": "0",
    }
    # creation-with-upload: the POST may carry the first bytes.
    if request.can_read_body and request.content_type == OFFSET_TYPE:
        done = await manager.receive(
            who,
            u["id"],
            "0",
            _body(request),
            _content_length(request),
            request.headers.get("Upload-Checksum"),
            request.headers.get("Custodian-Sha256"),
        )
        headers.update(_offset_headers(done.upload))
    return web.Response(status=201, headers=_tus_headers(headers))


@routes.head(BASE + "/{id}")
@endpoint(
    "tus: the upload's offset (resume from here)",
    tags=("uploads",),
    responses={200: "Upload-Offset, Upload-Length", 404: "no such upload", 410: "gone"},
)
@tus
async def head(request: web.Request) -> web.Response:
    who = principal(request)
    u = await request.app[keys.DB].run(get_upload, request.match_info["id"], who)
    if u.state == "committing" or (u.state == "receiving" and u.received == u.length):
        # Every byte is here but a crash interrupted the commit: finish it now, so the client
        # sees the evidence id instead of an upload stuck at its full length.
        await request.app[UPLOADS].finish(who, u.id)
        u = await request.app[keys.DB].run(get_upload, u.id, who)
    if u.state not in ("receiving", "committing", "committed"):
        return json_response(
            _error(request, "upload_gone", f"upload {u.id} is {u.state}", None, 410),
            status=410,
            headers=_tus_headers(),
        )
    data = upload_json(u)
    headers = {"Upload-Length": str(u.length), **_offset_headers(data)}
    if u.metadata_raw:
        headers["Upload-Metadata"] = u.metadata_raw
    return web.Response(status=200, headers=_tus_headers(headers))


@routes.patch(BASE + "/{id}")
@endpoint(
    "tus: append bytes at Upload-Offset (Upload-Checksum per chunk optional; the last "
    "PATCH may carry Custodian-Sha256, the station's hash of the whole file)",
    tags=("uploads",),
    responses={
        204: "accepted; the last one answers Custodian-Sha256 and Custodian-Evidence-Id",
        409: "offset mismatch",
        410: "gone",
        415: "wrong Content-Type",
        460: "chunk checksum or whole-file SHA-256 mismatch (refused)",
        507: "store full",
        412: TUS_412,
    },
    headers=TUS_HEADER,
)
@tus
async def patch(request: web.Request) -> web.Response:
    if request.content_type != OFFSET_TYPE:
        return json_response(
            _error(
                request, "bad_content_type", f"PATCH needs Content-Type: {OFFSET_TYPE}", None, 415
            ),
            status=415,
            headers=_tus_headers(),
        )
    done = await request.app[UPLOADS].receive(
        principal(request),
        request.match_info["id"],
        request.headers.get("Upload-Offset"),
        _body(request),
        _content_length(request),
        request.headers.get("Upload-Checksum"),
        request.headers.get("Custodian-Sha256"),
    )
    return web.Response(status=204, headers=_tus_headers(_offset_headers(done.upload)))


@routes.delete(BASE + "/{id}")
@endpoint(
    "tus termination: abandon an unfinished upload and delete its bytes",
    tags=("uploads",),
    responses={204: "terminated", 409: "already evidence", 412: TUS_412},
    headers=TUS_HEADER,
)
@tus
async def terminate(request: web.Request) -> web.Response:
    await request.app[UPLOADS].terminate(principal(request), request.match_info["id"])
    return web.Response(status=204, headers=_tus_headers())


@routes.get(BASE + "/{id}", allow_head=False)
@endpoint(
    "An upload's state as JSON: offset, server sha256, evidence id once committed",
    tags=("uploads",),
    responses={200: "the upload", 404: "no such upload"},
)
async def status(request: web.Request) -> web.Response:
    u = await request.app[keys.DB].run(get_upload, request.match_info["id"], principal(request))
    return json_response(upload_json(u), headers={"Cache-Control": "no-store"})


@routes.get(BASE, allow_head=False)
@endpoint(
    "The caller's unfinished uploads",
    tags=("uploads",),
    params={"all": "1 to include finished ones"},
)
async def index(request: web.Request) -> web.Response:
    active = request.query.get("all") not in ("1", "true")
    items = await request.app[keys.DB].run(list_uploads, principal(request), active)
    return json_response({"items": items, "next": None})
