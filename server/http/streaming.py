"""Serving stored objects over HTTP with Range support, streamed off the event loop."""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import quote

from aiohttp import web

from server.errors import CustodianError
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) for a single-range header; None for the whole object; 416 when unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # RFC 9110: an unparseable Range is ignored
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) + 1 if m.group(2) else size
    else:
        start, end = max(0, size - int(m.group(2))), size
    end = min(end, size)
    if start >= size or start >= end:
        raise CustodianError(f"range {header} outside 0-{size}", code="bad_range", status=416)
    return start, end


async def send_object(request: web.Request, store: ObjectStore, sha256: str, size: int, *,
                      content_type: str = "application/octet-stream", filename: str | None = None,
                      cache: str = "private, no-cache") -> web.StreamResponse:
    """Stream an object (or the requested range of it) to the client."""
    rng = parse_range(request.headers.get("Range"), size)
    start, end = rng if rng else (0, size)
    resp = web.StreamResponse(status=206 if rng else 200)
    resp.headers["Content-Type"] = content_type
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = cache
    resp.headers["ETag"] = f'"{sha256}"'
    if rng:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if filename:
        resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    resp.content_length = end - start
    try:
        await resp.prepare(request)
    except ConnectionResetError:  # the viewer cancelled before the headers went out
        logger.debug("client left before %s started", request.path)
        return resp
    if request.method == "HEAD":
        return resp
    loop = asyncio.get_running_loop()
    chunks = await loop.run_in_executor(None, store.open_range, sha256, start, end)
    sentinel = object()
    try:
        while True:
            chunk = await loop.run_in_executor(None, next, chunks, sentinel)
            if chunk is sentinel:
                break
            await resp.write(chunk)  # type: ignore[arg-type]
        await resp.write_eof()
    except ConnectionResetError:  # includes aiohttp.ClientConnectionResetError
        # The viewer went away (a player cancels segment and sprite fetches when seeking):
        # nothing to report, and the object is untouched.
        logger.debug("client left during %s", request.path)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            await loop.run_in_executor(None, close)
    return resp
