"""A stock tus client (tuspy) against the real server: upload, interruption, resume."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
from ingest_support import OFFSET_TYPE, TUS, random_bytes, sha256, tus_create
from tusclient import client as tus_client

from helpers import app_store, bearer


async def test_tuspy_upload_interrupted_and_resumed(client, users, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(1_500_000)
    path = tmp_path / "执法 clip.mp4"
    path.write_bytes(data)
    endpoint = str(client.make_url("/api/v1/uploads/"))
    tc = tus_client.TusClient(endpoint, headers=bearer(users["station"]))
    meta = {"filename": path.name, "sha256": sha256(data), "station_id": "ST9"}

    first = tc.uploader(str(path), chunk_size=256 * 1024, metadata=meta, upload_checksum=True)
    await asyncio.to_thread(first.upload, stop_at=700_000)  # the station stops part-way
    assert first.offset == 768 * 1024 or first.offset >= 700_000
    url = first.url

    # A new client (as after a restart) resumes from the server's offset, not from zero.
    # (Constructed in a thread: with url= tuspy sends a blocking HEAD right away.)
    second = await asyncio.to_thread(
        tus_client.TusClient(endpoint, headers=bearer(users["station"])).uploader,
        str(path),
        url=url,
        chunk_size=256 * 1024,
        metadata=meta,
        upload_checksum=True,
    )
    assert second.offset == first.offset > 0
    await asyncio.to_thread(second.upload)
    assert second.offset == len(data)

    status = await (
        await client.get(
            "/api/v1/uploads/" + url.rsplit("/", 1)[1], headers=bearer(users["station"])
        )
    ).json()
    assert status["state"] == "committed" and status["sha256"] == sha256(data)
    assert app_store(client).read_all(sha256(data)) == data


async def test_connection_cut_mid_patch_keeps_received_bytes(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(3 * 1024 * 1024)
    tok = users["station"]
    r = await tus_create(client, tok, len(data), filename="cut.mp4", sha256=sha256(data))
    url = str(client.make_url(r.headers["Location"]))

    class Cut(Exception):
        pass

    async def body():  # type: ignore[no-untyped-def]
        yield data[: 2 * 1024 * 1024]
        await asyncio.sleep(0.3)
        raise Cut()

    async with aiohttp.ClientSession() as s:
        try:
            await s.patch(
                url,
                data=body(),
                headers={**TUS, **bearer(tok), "Upload-Offset": "0", "Content-Type": OFFSET_TYPE},
            )
        except (Cut, aiohttp.ClientError):
            pass
        offset = 0
        for _ in range(50):  # the server notices the cut and records what it got
            h = await s.head(url, headers={**TUS, **bearer(tok)})
            offset = int(h.headers["Upload-Offset"])
            if offset:
                break
            await asyncio.sleep(0.1)
        assert 0 < offset <= 2 * 1024 * 1024
        rest = data[offset:]
        r = await s.patch(
            url,
            data=rest,
            headers={
                **TUS,
                **bearer(tok),
                "Upload-Offset": str(offset),
                "Content-Type": OFFSET_TYPE,
            },
        )
        assert r.status == 204, await r.text()
        assert r.headers["Custodian-Sha256"] == hashlib.sha256(data).hexdigest()
