"""Bookmarks on an item and the export basket of a case (reviewer annotations, ledgered)."""

from __future__ import annotations

from aiohttp import web

from server.cases.bookmarks import add_bookmark, add_clip, list_bookmarks, list_clips
from server.http import appkeys as keys
from server.http.web import endpoint, json_response, principal, read_body
from server.schemas.annotations import (
    BookmarkList,
    BookmarkReply,
    ClipList,
    ClipReply,
    NewBookmark,
    NewClip,
)

routes = web.RouteTableDef()


@routes.get("/api/v1/evidence/{id}/bookmarks")
@endpoint(
    "Bookmarks of an item, in time order",
    tags=("annotations",),
    responses={200: ("the bookmarks", BookmarkList)},
)
async def get_bookmarks(request: web.Request) -> web.Response:
    return json_response(
        await request.app[keys.DB].read(
            list_bookmarks, request.match_info["id"], principal(request)
        )
    )


@routes.post("/api/v1/evidence/{id}/bookmarks")
@endpoint(
    "Bookmark a time of an item with a note; ledgered as an annotation",
    tags=("annotations",),
    body=NewBookmark,
    responses={201: ("the bookmark", BookmarkReply), 400: "bad time"},
)
async def post_bookmark(request: web.Request) -> web.Response:
    new = await read_body(request, NewBookmark)
    return json_response(
        await request.app[keys.DB].run(
            add_bookmark, request.match_info["id"], principal(request), new
        ),
        status=201,
    )


@routes.get("/api/v1/cases/{id}/basket")
@endpoint(
    "The export basket of a case: named clips (item, in, out)",
    tags=("annotations",),
    responses={200: ("the clips", ClipList)},
)
async def get_basket(request: web.Request) -> web.Response:
    return json_response(
        await request.app[keys.DB].read(list_clips, request.match_info["id"], principal(request))
    )


@routes.post("/api/v1/cases/{id}/basket")
@endpoint(
    "Add a named clip of an item to the case's export basket; ledgered as an annotation",
    tags=("annotations",),
    body=NewClip,
    responses={201: ("the clip", ClipReply), 400: "bad clip"},
)
async def post_basket(request: web.Request) -> web.Response:
    new = await read_body(request, NewClip)
    return json_response(
        await request.app[keys.DB].run(add_clip, request.match_info["id"], principal(request), new),
        status=201,
    )
