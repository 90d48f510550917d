"""The reviewer UI: `GET /` and the static files under `/player/` (public: the page logs in)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.errors import NotFound
from server.http.web import endpoint

routes = web.RouteTableDef()

PLAYER_DIR = Path(__file__).resolve().parents[3] / "player"
# An allowlist: anything else under player/ is not served.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
# The page is small and changes with the server: revalidate every time (ETag/Last-Modified).
CACHE = "no-cache"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


def _file(rel: str) -> tuple[Path, str]:
    """Resolve a request path inside player/, refusing escapes, hidden files and unknown types."""
    parts = rel.split("/")
    if not rel or len(rel) > 200 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise NotFound("no such file", code="not_found")
    path = (PLAYER_DIR / rel).resolve()
    if PLAYER_DIR not in path.parents or not path.is_file():
        raise NotFound("no such file", code="not_found")
    ctype = CONTENT_TYPES.get(path.suffix) or CONTENT_TYPES.get(path.suffix.upper())
    if ctype is None:
        raise NotFound("no such file", code="not_found")
    return path, ctype


def _send(path: Path, ctype: str) -> web.FileResponse:
    resp = web.FileResponse(
        path, headers={"Content-Type": ctype, "Cache-Control": CACHE, **SECURITY_HEADERS}
    )
    return resp


@routes.get("/")
@endpoint("The reviewer UI", public=True, tags=("player",))
async def index(request: web.Request) -> web.StreamResponse:
    return _send(*_file("index.html"))


@routes.get(r"/player/{path:[A-Za-z0-9_./-]{1,200}}")
@endpoint("Static files of the reviewer UI", public=True, tags=("player",))
async def static(request: web.Request) -> web.StreamResponse:
    return _send(*_file(request.match_info["path"]))
