"""Helpers for the upload and agent tests: tus requests, a live server on a loopback port."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web

from helpers import (
    PASSWORD,
    bearer,
    free_port,  # noqa: F401  (re-exported for the ingest tests)
)
from server.settings import Settings

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tus_metadata(**meta: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())


def chunk_checksum(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def tus_create(client: Any, token: str, length: int, **meta: str) -> Any:
    headers = {**TUS, **bearer(token), "Upload-Length": str(length)}
    if meta:
        headers["Upload-Metadata"] = tus_metadata(**meta)
    return await client.post("/api/v1/uploads/", headers=headers)


async def tus_patch(
    client: Any,
    token: str,
    url: str,
    offset: int,
    data: bytes,
    *,
    checksum: bool = True,
    claim: str | None = None,
) -> Any:
    headers = {**TUS, **bearer(token), "Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE}
    if checksum:
        headers["Upload-Checksum"] = chunk_checksum(data)
    if claim:
        headers["Custodian-Sha256"] = claim
    return await client.patch(url, data=data, headers=headers)


async def upload_bytes(
    client: Any,
    token: str,
    data: bytes,
    *,
    chunk: int = 64 * 1024,
    filename: str = "clip.mp4",
    **meta: str,
) -> Any:
    """Create and send a whole upload; returns the last PATCH response."""
    r = await tus_create(client, token, len(data), filename=filename, sha256=sha256(data), **meta)
    assert r.status == 201, await r.text()
    url = r.headers["Location"]
    offset = 0
    while offset < len(data):
        part = data[offset : offset + chunk]
        r = await tus_patch(client, token, url, offset, part)
        assert r.status == 204, await r.text()
        offset = int(r.headers["Upload-Offset"])
    return r


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def make_users(db: Any) -> None:
    """Agencies A1/A2 and a station, officer, reviewer and supervisor in A1 (for live servers)."""
    from server.people.accounts import add_agency, add_user

    def setup(s: Any) -> None:
        add_agency(s, "A1", "Agency one")
        add_user(s, "station", PASSWORD, "station", "A1")
        add_user(s, "officer", PASSWORD, "officer", "A1")
        add_user(s, "reviewer", PASSWORD, "reviewer", "A1")
        add_user(s, "supervisor", PASSWORD, "supervisor", "A1")  # reads, never uploads

    db.call(setup)


class LiveServer:
    """A real create_app served on a loopback port, restartable on the same port and data."""

    def __init__(self, settings: Settings, port: int):
        self.settings = settings
        self.port = port
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app(self) -> web.Application:
        assert self.runner is not None
        return self.runner.app

    async def start(self) -> LiveServer:
        from server.http.app import create_app

        self.runner = web.AppRunner(
            create_app(self.settings), handle_signals=False, shutdown_timeout=1.0
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def write_credentials(path: Path, username: str = "station") -> Path:
    path.write_text(f'username = "{username}"\npassword = "{PASSWORD}"\n')
    return path


def fill_dock(dock: Path, files: dict[str, Path | bytes]) -> dict[str, bytes]:
    """Put files in a dock (copies of clips or given bytes); returns name -> bytes."""
    out = {}
    for name, src in files.items():
        p = dock / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, Path):
            shutil.copyfile(src, p)
        else:
            p.write_bytes(src)
        out[name] = p.read_bytes()
    return out
