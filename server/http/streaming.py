"""Serving stored objects over HTTP with Range support, once the caller's access is checked and
ledgered. Three ways, fastest first:

1. behind nginx, with `accel_redirect_location` set and the request marked by a trusted proxy
   (`X-Sendfile-Type: X-Accel-Redirect`): an empty answer naming the object's file in an
   internal nginx location (deploy/nginx/accel.conf); nginx sends the bytes (and the Range);
2. a local-store object: the kernel copies the file to the socket (`loop.sendfile`), no
   bytes pass through Python;
3. otherwise (S3, TLS served by Python, sendfile unavailable): blocks read on the streaming
   thread pool and written by the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from functools import lru_cache
from typing import BinaryIO
from urllib.parse import quote

from aiohttp import web

from server.errors import CustodianError, ObjectNotFound
from server.http import appkeys as keys
from server.store.base import ObjectStore
from server.store.local import LocalStore

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
ACCEL_REQUEST_HEADER = "X-Sendfile-Type"  # set by the proxy (nginx), never trusted from others
ACCEL_REQUEST_VALUE = "X-Accel-Redirect"


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


@lru_cache(maxsize=16)
def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    from server.netaddr import parse_networks

    return parse_networks(text)


def accel_path(request: web.Request, store: ObjectStore, sha256: str) -> str | None:
    """The internal nginx URI to hand this object's transfer to, or None to send it ourselves.
    Only for the local store, only when configured, and only for a request that arrived from a
    trusted proxy which said it understands X-Accel-Redirect (a direct client gets bytes)."""
    settings = request.app[keys.SETTINGS]
    location = settings.accel_redirect_location
    if not location or not isinstance(store, LocalStore):
        return None
    if request.headers.get(ACCEL_REQUEST_HEADER) != ACCEL_REQUEST_VALUE:
        return None
    try:
        peer = ipaddress.ip_address((request.remote or "").strip("[]"))
    except ValueError:
        return None
    if not any(peer in net for net in _networks(settings.trusted_proxies)):
        return None
    rel = store.path_for(sha256).relative_to(store.root).as_posix()  # ab/cd/<sha256>
    return f"{location}{rel}"


def _stream_pool(request: web.Request) -> Executor | None:
    return request.app.get(keys.STREAM_POOL)


class _Warm:
    """Objects opened in the last WARM_S seconds: their folder entries and first pages are in
    the kernel's caches, so opening them again takes microseconds and is done on the event
    loop; a cold open (a disk seek, perhaps) goes to the streaming pool instead."""

    WARM_S = 30.0
    MAX = 4096

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def __contains__(self, path: str) -> bool:
        seen = self._seen.get(path)
        return seen is not None and time.monotonic() - seen < self.WARM_S

    def add(self, path: str) -> None:
        if len(self._seen) >= self.MAX:
            self._seen.clear()
        self._seen[path] = time.monotonic()


_warm = _Warm()


def _open_local(store: LocalStore, sha256: str, size: int) -> BinaryIO:
    """Open a local object for sendfile; its size must be the catalogue's (else it is damaged)."""
    try:
        f = open(store.path_for(sha256), "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise ObjectNotFound(f"object {sha256} is not in the store") from None
    actual = os.fstat(f.fileno()).st_size
    if actual != size:
        f.close()
        raise CustodianError(
            f"stored object {sha256} has {actual} bytes, the catalogue says "
            f"{size}; run `custodian verify`",
            code="store_damaged",
            status=500,
        )
    return f


async def send_object(
    request: web.Request,
    store: ObjectStore,
    sha256: str,
    size: int,
    *,
    content_type: str = "application/octet-stream",
    filename: str | None = None,
    cache: str = "private, no-cache",
) -> web.StreamResponse:
    """Send an object (or the requested range of it) to the client. The caller has checked
    and ledgered the access already."""
    rng = parse_range(request.headers.get("Range"), size)
    start, end = rng if rng else (0, size)
    headers = {
        "Content-Type": content_type,
        "Accept-Ranges": "bytes",
        "Cache-Control": cache,
        "ETag": f'"{sha256}"',
    }
    if filename:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    accel = accel_path(request, store, sha256)
    if accel is not None:
        # nginx answers the Range itself from the file; it keeps these headers (accel.conf).
        headers["X-Accel-Redirect"] = accel
        return web.Response(status=200, headers=headers)
    resp = web.StreamResponse(status=206 if rng else 200, headers=headers)
    if rng:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    resp.content_length = end - start
    loop = asyncio.get_running_loop()
    pool = _stream_pool(request)
    local = isinstance(store, LocalStore) and request.method != "HEAD"
    fobj: BinaryIO | None = None
    if local:
        # Opened before the headers go out, so a missing or damaged object is a clean error.
        assert isinstance(store, LocalStore)  # `local` says so
        key = f"{store.root}/{sha256}"
        if key in _warm:
            fobj = _open_local(store, sha256, size)
        else:
            fobj = await loop.run_in_executor(pool, _open_local, store, sha256, size)
            _warm.add(key)
    try:
        try:
            await resp.prepare(request)
        except ConnectionResetError:  # the viewer cancelled before the headers went out
            logger.debug("client left before %s started", request.path)
            return resp
        if request.method == "HEAD" or start == end:
            return resp
        sendfile = fobj is not None and request.app[keys.SETTINGS].stream_sendfile
        if sendfile and await _sendfile(request, fobj, start, end - start):  # type: ignore[arg-type]
            await resp.write_eof()
            return resp
        await _stream(request, resp, store, sha256, start, end, pool, fobj)
    except ConnectionResetError:  # includes aiohttp.ClientConnectionResetError
        # The viewer went away (a player cancels segment and sprite fetches when seeking):
        # nothing to report, and the object is untouched.
        logger.debug("client left during %s", request.path)
    finally:
        if fobj is not None:
            fobj.close()
    return resp


async def _sendfile(request: web.Request, fobj: BinaryIO, offset: int, count: int) -> bool:
    """Zero-copy from the file to the socket; False (before any byte) when this transport or
    file cannot (TLS served by Python, another event loop), and the caller streams instead."""
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("connection lost")
    try:
        await asyncio.get_running_loop().sendfile(transport, fobj, offset, count, fallback=False)
    except (BrokenPipeError, ConnectionError) as exc:
        raise ConnectionResetError(str(exc)) from exc
    except (NotImplementedError, RuntimeError):
        # asyncio refuses before sending anything: SendfileNotAvailableError, "not supported
        # for transport", "fallback is disabled" (all RuntimeError), or a closing transport.
        if transport.is_closing():
            raise ConnectionResetError("connection lost") from None
        return False
    return True


async def _stream(
    request: web.Request,
    resp: web.StreamResponse,
    store: ObjectStore,
    sha256: str,
    start: int,
    end: int,
    pool: Executor | None,
    fobj: BinaryIO | None,
) -> None:
    """Read blocks on the streaming pool, write them from the event loop."""
    loop = asyncio.get_running_loop()
    if fobj is not None:
        from server.store.base import stream_file

        chunks: Iterator[bytes] = stream_file(fobj, start, end)
    else:
        chunks = await loop.run_in_executor(pool, store.open_range, sha256, start, end)
    sentinel = b""
    try:
        while True:
            chunk = await loop.run_in_executor(pool, next, chunks, sentinel)
            if not chunk:
                break
            await resp.write(chunk)
        await resp.write_eof()
    finally:
        close = getattr(chunks, "close", None)
        if close:
            await loop.run_in_executor(pool, close)
