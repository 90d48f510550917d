"""Playback renditions of an item: HLS, trickplay, waveform, preview; and its media jobs."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import REVIEW, Principal, require
from server.catalogue.models import Job
from server.custody.access_ledger import PLAYBACK
from server.custody.derivation import record_reprocess
from server.errors import NotFound
from server.http import appkeys as keys
from server.http.grants import MEDIA_GRANTS, Grant, Served
from server.http.guards import access_ledger
from server.http.streaming import send_object
from server.http.web import endpoint, json_response, principal
from server.intake.evidence import get_item, servable_item
from server.media.job import MEDIA_JOB, renditions
from server.media.jobs import enqueue, job_json
from server.netaddr import client_address
from transcode import renditions as R

routes = web.RouteTableDef()
IMMUTABLE = "private, max-age=31536000, immutable"  # content-addressed: never changes


def _grant(s: Session, item_id: str, who: Principal) -> Grant:
    """Check in the catalogue that the caller may fetch the item's renditions; list them."""
    item = servable_item(s, item_id, who)
    return Grant(
        item.id,
        item.sha256,
        {r.name: Served(r.sha256, r.size, r.content_type) for r in renditions(s, item.id)},
    )


async def _serve(
    request: web.Request, name: str, *, starts_playback: bool = False
) -> web.StreamResponse:
    item_id = request.match_info["id"]
    who = principal(request)  # resolved from the catalogue (account cache) on every request
    grants = request.app[MEDIA_GRANTS]
    db = request.app[keys.DB]
    grant = await grants.load(who, item_id, lambda: db.read(_grant, item_id, who))
    if name not in grant.renditions:  # made since the grant was remembered?
        grant = await db.read(_grant, item_id, who)
        grants.put(who, grant)
    r = grant.renditions.get(name)
    if r is None:
        raise NotFound(
            f"item {item_id} has no rendition {name!r} (not processed yet, or not media)",
            code="no_rendition",
        )
    # One "view" entry per playback session: fetching the playlist starts one; any other
    # rendition fetched outside a live session (the playlist skipped) starts one too.
    settings = request.app[keys.SETTINGS]
    await access_ledger(request).session(
        who,
        grant.item_id,
        PLAYBACK,
        {
            "what": "playback",
            "rendition": name,
            "sha256": grant.item_sha256,
            "address": client_address(
                request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
            ),
        },
        force=starts_playback,
    )
    return await send_object(
        request,
        request.app[keys.STORE],
        r.sha256,
        r.size,
        content_type=r.content_type,
        cache="private, no-cache" if starts_playback else IMMUTABLE,
    )


@routes.get("/api/v1/evidence/{id}/hls/index.m3u8")
@endpoint(
    "The playback playlist (HLS, fMP4); fetching it starts a playback session: one view entry",
    tags=("media",),
    responses={200: "m3u8", 404: "not processed or not media"},
)
async def hls_playlist(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.HLS_PLAYLIST, starts_playback=True)


@routes.get(r"/api/v1/evidence/{id}/hls/{name:[A-Za-z0-9_.-]{1,64}}")
@endpoint("An HLS init or media segment (content-addressed, cached long)", tags=("media",))
async def hls_file(request: web.Request) -> web.StreamResponse:
    return await _serve(request, f"{R.HLS_DIR}/{request.match_info['name']}")


@routes.get("/api/v1/evidence/{id}/thumbnails.vtt")
@endpoint("WebVTT trickplay track pointing into sprite sheets (#xywh=)", tags=("media",))
async def thumbnails_vtt(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.TRICKPLAY_VTT)


@routes.get(r"/api/v1/evidence/{id}/{sheet:sprite-\d{3}\.jpg}")
@endpoint("A trickplay sprite sheet", tags=("media",))
async def sprite(request: web.Request) -> web.StreamResponse:
    return await _serve(request, f"{R.TRICKPLAY_DIR}/{request.match_info['sheet']}")


@routes.get("/api/v1/evidence/{id}/waveform.json")
@endpoint("Audio peaks for the timeline", tags=("media",))
async def waveform(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.WAVEFORM)


@routes.get("/api/v1/evidence/{id}/preview.jpg")
@endpoint("JPEG preview of a photo", tags=("media",))
async def preview(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.PREVIEW)


@routes.get("/api/v1/evidence/{id}/thumb.jpg")
@endpoint("Thumbnail of a photo: upright (EXIF applied), scaled to fit 320x240", tags=("media",))
async def thumb(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.THUMBNAIL)


@routes.get("/api/v1/evidence/{id}/subtitles.vtt")
@endpoint(
    "WebVTT track of the recording's text stream (subtitles, dashcam GPS text)", tags=("media",)
)
async def subtitles(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.SUBTITLES)


@routes.get("/api/v1/evidence/{id}/gps.json")
@endpoint(
    "GPS track parsed from the text stream: points with t, lat, lon, speed_kmh", tags=("media",)
)
async def gps_track(request: web.Request) -> web.StreamResponse:
    return await _serve(request, R.GPS_TRACK)


@routes.get("/api/v1/evidence/{id}/jobs")
@endpoint("Processing jobs of an item with their progress", tags=("media",))
async def item_jobs(request: web.Request) -> web.Response:
    item_id = request.match_info["id"]
    who: Principal = principal(request)

    def load(s: Session):  # type: ignore[no-untyped-def]
        get_item(s, item_id, who)
        return [
            job_json(j)
            for j in s.scalars(select(Job).where(Job.subject == item_id).order_by(Job.id))
        ]

    return json_response({"items": await request.app[keys.DB].read(load), "next": None})


@routes.post("/api/v1/evidence/{id}/process")
@endpoint(
    "Queue (re)processing of an item's renditions; outputs are content-addressed, so a "
    "re-run yields the same files",
    tags=("media",),
    responses={202: "queued job"},
)
async def reprocess(request: web.Request) -> web.Response:
    item_id = request.match_info["id"]
    who = principal(request)

    def queue(s: Session):  # type: ignore[no-untyped-def]
        item = get_item(s, item_id, who)
        require(who, REVIEW, item.agency_id)
        job = enqueue(s, MEDIA_JOB, item_id)
        record_reprocess(s, item_id, job.id, who)  # the request is a person's act (issue 13)
        return job_json(job)

    queued = await request.app[keys.DB].run(queue)
    request.app[MEDIA_GRANTS].forget(item_id)  # the renditions may change
    return json_response(queued, status=202)
