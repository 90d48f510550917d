"""The agent's HTTP side: login (and login again), and a tus 1.0 client on aiohttp."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

logger = logging.getLogger(__name__)

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
UPLOADS_PATH = "/api/v1/uploads/"
RELOGIN_MARGIN = 60.0  # seconds before expiry at which the token is renewed
SEND_SLICE = 1024 * 1024  # a PATCH body goes to the socket in slices of this size


class AgentError(Exception):
    """Base of what the uploader reacts to."""


class ServerDown(AgentError):
    """Cannot reach the server, or it answered 5xx: back off and retry."""


class AuthFailed(AgentError):
    """The credentials were refused: nothing will work until a person fixes them."""


class NoSpace(AgentError):
    """507: the server cannot hold the file now; it stays on the dock."""


class Refused(AgentError):
    """The server refused the whole upload (its SHA-256 differs from ours)."""


class ChunkMismatch(AgentError):
    """A PATCH arrived altered (Upload-Checksum failed); send it again."""


class UploadGone(AgentError):
    """The upload URL no longer exists on the server (expired, terminated): start again."""


class OffsetMismatch(AgentError):
    """Our offset is not the server's: ask HEAD and resume from there."""


class Rejected(AgentError):
    """Any other 4xx: the server will not take this file as it is."""


def _error_text(body: Any, status: int) -> str:
    if isinstance(body, dict) and "error" in body:
        return f"{status} {body.get('code', '')}: {body['error']}"
    return f"HTTP {status}"


class ChunkPayload(Payload):
    """A PATCH body handed to the socket in slices of the caller's buffer, without copies.

    aiohttp sends a bytes body in one write: on Python < 3.12.9 it first joins it with the
    headers (a copy of the whole chunk), and asyncio copies whatever the socket does not take at
    once into its own buffer (nearly all of a large chunk), then shifts that buffer as it drains.
    Slices of 1 MiB with a drain between them go to the kernel straight from the buffer the
    file was read into."""

    _autoclose = True  # memory only: nothing to close

    def __init__(self, value: bytes | bytearray | memoryview) -> None:
        view = memoryview(value).cast("B")
        super().__init__(view, content_type=OFFSET_TYPE)
        self._view = view
        self._size = view.nbytes

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._view).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = self._view if content_length is None else self._view[:content_length]
        for start in range(0, len(view), SEND_SLICE):
            await writer.write(view[start : start + SEND_SLICE])


def metadata_header(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items() if v)


class CustodianClient:
    """One aiohttp session to the server, authenticated as the station user."""

    def __init__(
        self,
        server: str,
        username: str,
        password: str,
        *,
        connect_timeout: float = 10,
        read_timeout: float = 300,
    ):
        self.server = server.rstrip("/") + "/"
        self.username = username
        self._password = password
        self._token: str | None = None
        self._expires = 0.0
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=connect_timeout, sock_read=read_timeout
            )
        )

    async def close(self) -> None:
        await self._session.close()

    def url(self, path: str) -> str:
        return urljoin(self.server, path)

    async def login(self) -> None:
        try:
            async with self._session.post(
                self.url("/api/v1/auth/login"),
                json={"username": self.username, "password": self._password},
            ) as r:
                body = await self._body(r)
                if r.status in (400, 401, 403):
                    raise AuthFailed(
                        f"login as {self.username!r} refused: {_error_text(body, r.status)}"
                    )
                if r.status != 200:
                    raise ServerDown(f"login: {_error_text(body, r.status)}")
        except aiohttp.ClientError as exc:
            raise ServerDown(f"cannot reach {self.server}: {exc}") from exc
        except TimeoutError as exc:
            raise ServerDown(f"{self.server} did not answer in time") from exc
        self._token = body["token"]
        ttl = 3600.0
        try:
            from integrity.timefmt import parse_rfc3339

            at = parse_rfc3339(body["expires_at"])
            ttl = at.timestamp() - time.time()
        except (KeyError, ValueError, TypeError):
            pass
        self._expires = time.monotonic() + ttl
        logger.info("logged in to %s as %s", self.server, self.username)

    @staticmethod
    async def _body(r: aiohttp.ClientResponse) -> Any:
        if r.content_type == "application/json":
            try:
                return await r.json()
            except ValueError:
                return None
        await r.read()
        return None

    async def request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, data: Any = None
    ) -> tuple[int, Any, Any]:
        """(status, headers, body) with the bearer token; logs in again once on 401."""
        for attempt in (1, 2):
            if self._token is None or time.monotonic() > self._expires - RELOGIN_MARGIN:
                await self.login()
            h = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            try:
                async with self._session.request(method, url, headers=h, data=data) as r:
                    body = await self._body(r)
                    status, rh = r.status, r.headers
            except aiohttp.ClientError as exc:
                raise ServerDown(f"{method} {url}: {exc}") from exc
            except TimeoutError as exc:
                raise ServerDown(f"{method} {url}: no answer in time") from exc
            if status == 401 and attempt == 1:
                logger.info("token refused (expired?); logging in again")
                self._token = None
                continue
            if status == 401:
                raise AuthFailed(_error_text(body, status))
            if status == 507:
                raise NoSpace(_error_text(body, status))
            if status >= 500 or status in (408, 429, 423):
                raise ServerDown(f"{method} {url}: {_error_text(body, status)}")
            return status, rh, body
        raise AssertionError("unreachable")

    # -- tus ------------------------------------------------------------------------------
    async def create(self, length: int, meta: dict[str, str]) -> str:
        status, h, body = await self.request(
            "POST",
            self.url(UPLOADS_PATH),
            headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata_header(meta)},
        )
        if status != 201 or "Location" not in h:
            raise Rejected(f"creating the upload: {_error_text(body, status)}")
        return self.url(h["Location"])

    async def head(self, url: str) -> dict[str, Any]:
        """{"offset", "length", "sha256", "evidence_id"} of an upload; UploadGone if gone."""
        status, h, body = await self.request("HEAD", url, headers=TUS)
        if status in (404, 410):
            raise UploadGone(f"upload {url} is gone ({status})")
        if status != 200:
            raise Rejected(f"HEAD {url}: {_error_text(body, status)}")
        return {
            "offset": int(h["Upload-Offset"]),
            "length": int(h.get("Upload-Length", -1)),
            "sha256": h.get("Custodian-Sha256"),
            "evidence_id": h.get("Custodian-Evidence-Id"),
        }

    async def patch(
        self,
        url: str,
        offset: int,
        data: bytes | memoryview,
        *,
        chunk_sha256: bytes | None,
        claim: str | None,
    ) -> dict[str, Any]:
        headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE}
        if chunk_sha256 is not None:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(chunk_sha256).decode()
        if claim:
            headers["Custodian-Sha256"] = claim
        status, h, body = await self.request("PATCH", url, headers=headers, data=ChunkPayload(data))
        if status == 204:
            return {
                "offset": int(h["Upload-Offset"]),
                "sha256": h.get("Custodian-Sha256"),
                "evidence_id": h.get("Custodian-Evidence-Id"),
                "duplicate": h.get("Custodian-Duplicate") == "true",
            }
        code = body.get("code") if isinstance(body, dict) else None
        text = _error_text(body, status)
        if status == 460 and code == "sha256_mismatch":
            raise Refused(text)
        if status == 460:
            raise ChunkMismatch(text)
        if status == 409 and code == "offset_mismatch":
            raise OffsetMismatch(text)
        if status in (404, 410):
            raise UploadGone(text)
        raise Rejected(f"PATCH {url}: {text}")

    async def status(self, url: str) -> dict[str, Any]:
        status, _h, body = await self.request("GET", url)
        if status in (404, 410):
            raise UploadGone(f"upload {url} is gone ({status})")
        if status != 200 or not isinstance(body, dict):
            raise Rejected(f"GET {url}: {_error_text(body, status)}")
        return body
