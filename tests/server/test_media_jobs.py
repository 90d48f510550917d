"""Media jobs end to end: queue, worker, renditions in the store, playback routes."""

from __future__ import annotations

import asyncio
import io

import av
import pytest
from sqlalchemy import select

from helpers import add_evidence, app_db, app_store, bearer, make_clip
from server.catalogue.models import Job, LedgerRow
from server.media import jobs
from server.media.job import MEDIA_JOB
from server.media.worker import WorkerPool


async def drain(client, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Run a worker pool on the app's catalogue and store until no job is left."""
    app = client.server.app
    from server.http import appkeys as keys

    pool = WorkerPool(app[keys.SETTINGS], app[keys.DB], app[keys.STORE], concurrency=1)
    task = asyncio.create_task(pool.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            pending = await app_db(client).run(
                lambda s: s.scalar(select(Job).where(Job.state.in_(("queued", "running"))))
            )
            if pending is None:
                return
            assert asyncio.get_running_loop().time() < deadline, "jobs did not finish"
            await asyncio.sleep(0.2)
    finally:
        pool.stop()
        await task


@pytest.fixture
async def media_client(make_client):  # type: ignore[no-untyped-def]
    return await make_client(worker_in_server=False)


async def _setup(client, users, path) -> str:  # type: ignore[no-untyped-def]
    item = add_evidence(app_db(client), app_store(client), path)
    r = await client.post(f"/api/v1/evidence/{item}/process", headers=bearer(users["reviewer"]))
    assert r.status == 202, await r.text()
    await drain(client)
    return item


async def test_h264_clip_becomes_playable_hls(media_client, users, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = media_client
    clip = make_clip(tmp_path / "DSJ001_0421_20260301090000.mp4", seconds=4)
    item = await _setup(client, users, clip)
    h = bearer(users["reviewer"])
    detail = await (await client.get(f"/api/v1/evidence/{item}", headers=h)).json()
    assert detail["status"] == "ready", detail
    assert detail["kind"] == "video" and detail["job"]["state"] == "done"
    assert detail["links"]["hls"].endswith("/hls/index.m3u8")
    assert detail["probe"] is not None
    roles = {r["role"] for r in detail["renditions"]}
    assert {"hls_playlist", "hls_init", "hls_segment", "sprite", "vtt", "waveform"} <= roles

    r = await client.get(detail["links"]["hls"], headers=h)
    playlist = await r.text()
    assert (
        r.status == 200
        and "#EXTM3U" in playlist
        and r.headers["Cache-Control"] == "private, no-cache"
    )
    names = [ln for ln in playlist.splitlines() if ln and not ln.startswith("#")]
    init = await (await client.get(f"/api/v1/evidence/{item}/hls/init.mp4", headers=h)).read()
    body = bytearray(init)
    for name in names:
        r = await client.get(f"/api/v1/evidence/{item}/hls/{name}", headers=h)
        assert r.status == 200 and "immutable" in r.headers["Cache-Control"]
        body += await r.read()
    with av.open(io.BytesIO(bytes(body))) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert 95 <= frames <= 105  # 4 s at 25 fps, decoded end to end from the served segments

    vtt = await (await client.get(f"/api/v1/evidence/{item}/thumbnails.vtt", headers=h)).text()
    assert vtt.startswith("WEBVTT") and "sprite-000.jpg#xywh=" in vtt
    r = await client.get(f"/api/v1/evidence/{item}/sprite-000.jpg", headers=h)
    assert r.status == 200 and (await r.read())[:2] == b"\xff\xd8"
    wave = await (await client.get(f"/api/v1/evidence/{item}/waveform.json", headers=h)).json()
    assert wave["peaks"]

    # One view per playback session (the playlist fetch), none per segment.
    views = await app_db(client).run(
        lambda s: list(
            s.scalars(
                select(LedgerRow).where(
                    LedgerRow.action == "view", LedgerRow.subject == f"evidence:{item}"
                )
            )
        )
    )
    assert len(views) == 1
    # Another agency cannot play it; no token, no bytes.
    assert (
        await client.get(
            f"/api/v1/evidence/{item}/hls/{names[0]}", headers=bearer(users["officer2"])
        )
    ).status == 404
    assert (await client.get(f"/api/v1/evidence/{item}/hls/{names[0]}")).status == 401


async def test_rerun_yields_same_objects_and_original_untouched(
    media_client, users, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = media_client
    clip = make_clip(tmp_path / "a.mp4", seconds=2)
    before = clip.read_bytes()
    item = await _setup(client, users, clip)
    h = bearer(users["reviewer"])
    first = sorted(
        (r["name"], r["sha256"])
        for r in (await (await client.get(f"/api/v1/evidence/{item}", headers=h)).json())[
            "renditions"
        ]
    )
    await client.post(f"/api/v1/evidence/{item}/process", headers=h)
    await drain(client)
    second = sorted(
        (r["name"], r["sha256"])
        for r in (await (await client.get(f"/api/v1/evidence/{item}", headers=h)).json())[
            "renditions"
        ]
    )
    assert first == second
    original = await (await client.get(f"/api/v1/evidence/{item}/original", headers=h)).read()
    assert original == before


async def test_non_media_and_truncated_reach_final_states(media_client, users, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = media_client
    doc = tmp_path / "notice.pdf"
    doc.write_bytes(b"%PDF-1.4\n% not really a pdf but not media either\n" * 20)
    item_doc = await _setup(client, users, doc)
    clip = make_clip(tmp_path / "cut.mp4", seconds=3)  # moov at the end: cutting it loses the index
    cut = tmp_path / "cut-broken.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    item_cut = await _setup(client, users, cut)
    h = bearer(users["reviewer"])
    d = await (await client.get(f"/api/v1/evidence/{item_doc}", headers=h)).json()
    assert d["status"] == "stored" and "hls" not in d["links"]
    d = await (await client.get(f"/api/v1/evidence/{item_cut}", headers=h)).json()
    assert d["status"] == "unplayable" and d["status_reason"]
    r = await client.get(f"/api/v1/evidence/{item_cut}/hls/index.m3u8", headers=h)
    assert r.status == 404 and (await r.json())["code"] == "no_rendition"


async def test_station_and_auditor_cannot_queue(media_client, users, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = media_client
    item = add_evidence(app_db(client), app_store(client), make_clip(tmp_path / "b.mp4", seconds=1))
    for role in ("station", "auditor", "officer2"):
        r = await client.post(f"/api/v1/evidence/{item}/process", headers=bearer(users[role]))
        # Another agency's officer is told nothing exists there (issue 12): 404, not 403.
        assert r.status == (404 if role == "officer2" else 403), role


def test_claim_lease_and_retry(db) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from server.catalogue.models import utcnow

    db.call(jobs.enqueue, MEDIA_JOB, "item-1")
    assert db.call(jobs.enqueue, MEDIA_JOB, "item-1").id == 1  # no duplicate while queued
    j = db.call(jobs.claim, "w1", 30)
    assert j.worker == "w1" and j.attempts == 1
    assert db.call(jobs.claim, "w2", 30) is None  # leased to w1
    later = utcnow() + timedelta(seconds=31)
    j2 = db.call(jobs.claim, "w2", 30, None, later)  # w1 died: lease expired
    assert j2.id == j.id and j2.worker == "w2" and j2.attempts == 2
    assert not db.call(jobs.heartbeat, j.id, "w1", 0.5, 30)  # w1 lost it
    assert db.call(jobs.fail, j.id, "w2", "boom") == "queued"  # one attempt left, backoff
    assert db.call(jobs.claim, "w3", 30) is None  # not due yet
    j3 = db.call(jobs.claim, "w3", 30, None, utcnow() + timedelta(minutes=5))
    assert j3.attempts == 3
    assert db.call(jobs.fail, j.id, "w3", "boom again") == "failed"


async def test_dashcam_text_photo_exif_and_attempts_over_http(
    media_client, users, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import media_corpus

    from server.catalogue.models import EvidenceItem

    client = media_client
    h = bearer(users["reviewer"])
    dash = tmp_path / "DASH01.mkv"
    media_corpus.mkv_onekey_subtitles(dash)
    item = await _setup(client, users, dash)
    d = await (await client.get(f"/api/v1/evidence/{item}", headers=h)).json()
    assert d["status"] == "ready"
    # The fallback chain is on the item and in the signed derivation of the playlist.
    assert [a["step"] for a in d["attempts"]] == ["copy", "copy-genpts"]
    assert not d["attempts"][0]["passed"] and d["attempts"][1]["passed"]
    playlist = next(o for o in d["derivation"] if o["role"] == "hls_playlist")
    assert playlist["parameters"]["attempts"] == d["attempts"]
    assert d["text_track"] == {"stream_index": 2, "codec": "srt", "cues": 6, "gps_points": 6}
    assert {"index": 2, "codec": "srt", "media_type": "subtitle"} in d["streams_other"]
    r = await client.get(d["links"]["subtitles"], headers=h)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/vtt")
    assert (await r.text()).startswith("WEBVTT")
    gps = await (await client.get(d["links"]["gps"], headers=h)).json()
    assert len(gps["points"]) == 6 and gps["points"][0]["lat"] == 30.27415
    assert (await client.get(d["links"]["gps"])).status == 401

    photo = tmp_path / "IMG_1.jpg"
    media_corpus.photo_exif(photo, size=(1200, 900))
    pid = await _setup(client, users, photo)
    d = await (await client.get(f"/api/v1/evidence/{pid}", headers=h)).json()
    assert (d["status"], d["kind"]) == ("ready", "photo")
    assert d["photo"]["orientation"] == 6 and d["photo"]["gps_lat"] == 30.27415
    thumb = await (await client.get(d["links"]["thumbnail"], headers=h)).read()
    with av.open(io.BytesIO(thumb)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (180, 240)  # upright, scaled into 320x240
    # No recording time from the file name: the EXIF time with its offset fills it, in UTC.
    recorded = await app_db(client).run(lambda s: s.get(EvidenceItem, pid).recorded_at)
    assert recorded.replace(tzinfo=None).isoformat() == "2026-03-01T09:05:09"


async def test_unprobeable_cut_video_stays_a_video(make_client, make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A camera file cut in half before its index (power cut) cannot be probed: it is shown as
    an unplayable video, not re-classified as a document."""
    from server.catalogue.models import EvidenceItem
    from server.media.job import process_item
    from server.people.accounts import add_agency

    settings = make_settings(worker_in_server=False)
    client = await make_client(settings)
    db, store = app_db(client), app_store(client)
    await db.run(lambda s: add_agency(s, "A1", "One"))
    whole = make_clip(tmp_path / "whole.mp4", seconds=3)
    cut = tmp_path / "DSJ002_cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    item_id = await asyncio.to_thread(add_evidence, db, store, cut)
    await asyncio.to_thread(process_item, settings, db, store, item_id)
    item = await db.run(lambda s: s.get(EvidenceItem, item_id))
    assert (item.kind, item.status) == ("video", "unplayable"), (item.kind, item.status)
