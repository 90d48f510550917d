"""Sealed court exports: request one (a job), follow it, download the package."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from server.catalogue.models import Job
from server.exports.job import (
    create_export,
    export_json,
    get_export,
    list_exports,
    log_download,
    package_file,
)
from server.http import appkeys as keys
from server.http.web import endpoint, json_response, principal, read_checked
from server.intake.hygiene import check_export_rate
from server.schemas.exports import ExportRequest

routes = web.RouteTableDef()


@routes.post("/api/v1/cases/{id}/exports")
@endpoint(
    "Request a sealed court package of a case (runs as a job)",
    tags=("exports",),
    body=ExportRequest,
    responses={202: "the export, queued", 400: "bad request", 429: "too many exports this hour"},
)
async def post_export(request: web.Request) -> web.Response:
    data = await read_checked(request, ExportRequest)
    settings = request.app[keys.SETTINGS]

    def create(s):  # type: ignore[no-untyped-def]
        check_export_rate(s, principal(request), settings)  # export_max_per_hour per user
        return export_json(
            create_export(s, request.match_info["id"], principal(request), data, settings)
        )

    body = await request.app[keys.DB].run(create)
    return json_response(body, status=202, headers={"Location": f"/api/v1/exports/{body['id']}"})


@routes.get("/api/v1/cases/{id}/exports")
@endpoint("The exports of a case, newest first", tags=("exports",))
async def get_case_exports(request: web.Request) -> web.Response:
    return json_response(
        await request.app[keys.DB].run(list_exports, request.match_info["id"], principal(request))
    )


@routes.get("/api/v1/exports/{id}")
@endpoint("One export: its state, and when done the package's hash and link", tags=("exports",))
async def get_export_status(request: web.Request) -> web.Response:
    def one(s):  # type: ignore[no-untyped-def]
        e = get_export(s, request.match_info["id"], principal(request))
        return {**export_json(e), "progress": _progress(s, e)}

    return json_response(await request.app[keys.DB].run(one))


def _progress(s, e) -> float:  # type: ignore[no-untyped-def]
    """How far the export's job is (0..1), for the UI's progress bar."""
    if e.state == "done":
        return 1.0
    job = s.get(Job, e.job_id) if e.job_id is not None else None
    return float(job.progress) if job is not None else 0.0


@routes.get("/api/v1/exports/{id}/package")
@endpoint(
    "Download the sealed package (ZIP); ledgered",
    tags=("exports",),
    responses={200: "application/zip", 409: "not ready yet"},
)
async def get_export_package(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    db = request.app[keys.DB]
    path, export = await db.run(package_file, request.match_info["id"], who)
    await db.run(log_download, export.id, who)
    name = path.name
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "X-Package-SHA256": export.package_sha256 or "",
        },
    )
    return response
