"""The package for a court that cannot install anything (issue 13 point 7): an HEVC original
gets a browser-playable H.264 copy marked as derived; player.html shows photos and plays audio."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from export_support import unpack

from helpers import add_evidence, app_db, app_store, bearer, make_clip
from integrity.package import PackageFile, PackageSpec, write_package_file

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        yield b
        b.close()


async def test_hevc_original_gets_a_playable_derived_copy(make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_export_server import _users

    client = await make_client(job_poll_seconds=0.2)
    users = await _users(client)
    hevc = make_clip(
        tmp_path / "DSJ_hevc.mp4", seconds=2, codec="libx265", extra=("-tag:v", "hvc1")
    )
    item = await asyncio.to_thread(add_evidence, app_db(client), app_store(client), hevc)
    h = bearer(users["legal"])
    r = await client.post(
        "/api/v1/cases",
        headers=h,
        json={
            "number": "丽综执罚〔2024〕099号",
            "title": "HEVC",
            "enforcement_type": "penalty",
            "procedure": "general",
        },
    )
    case = await r.json()
    r = await client.post(
        f"/api/v1/cases/{case['id']}/links",
        headers=h,
        json={"evidence_id": item, "stage": "investigation"},
    )
    assert r.status == 201, await r.text()
    r = await client.post(
        f"/api/v1/cases/{case['id']}/exports", headers=h, json={"recipient": "法院", "clips": []}
    )
    assert r.status == 202, await r.text()
    export = await r.json()
    for _ in range(600):
        status = await (await client.get(f"/api/v1/exports/{export['id']}", headers=h)).json()
        if status["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.2)
    assert status["state"] == "done", status
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(
        await (await client.get(f"/api/v1/exports/{export['id']}/package", headers=h)).read()
    )
    fingerprint = (await (await client.get("/api/v1/keys")).json())["items"][0]["fingerprint"]
    await client.close()
    folder = unpack(zip_path, tmp_path / "u")
    (copy,) = sorted((folder / "data/clips").iterdir())
    assert copy.name.endswith(".h264.mp4")
    with av.open(str(copy)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert float(c.duration) / 1e6 > 1.5  # whole length, not a cut
    entries = [
        json.loads(x) for x in (folder / "data/ledger/entries.jsonl").read_text().splitlines()
    ]
    details = [e for e in entries if e["entry"]["action"] == "export"][-1]["details"]
    (clip,) = details["clips"]
    assert clip["parameters"]["purpose"] == "browser_playable_copy"
    assert clip["derived_from"] == details["items"][0]["sha256"] and clip["method"] == "reencode"
    report = json.loads((folder / "data/report/custody-report.json").read_text("utf-8"))
    assert report["tree_head"]["fingerprint"] == fingerprint
    assert report["time_zone"] == "Asia/Shanghai"
    assert report["export"]["exporter"].endswith(":legal")
    player = (folder / "player.html").read_text("utf-8")
    assert copy.name in player and "derived copy" in player
    text = subprocess.run(
        ["pdftotext", str(folder / "data/report/custody-report.pdf"), "-"],
        capture_output=True,
        text=True,
    ).stdout
    assert "浏览器可播放副本" in text
    result = subprocess.run(
        [sys.executable, str(folder / "verify.py"), str(zip_path), "--trusted-key", fingerprint],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def _photo_and_audio(tmp_path: Path) -> Path:
    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    photo, sound = tmp_path / "scene.jpg", tmp_path / "inquiry.m4a"
    subprocess.run(
        [
            ff,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240",
            "-frames:v",
            "1",
            str(photo),
        ],
        check=True,
    )
    subprocess.run(
        [
            ff,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "aac",
            str(sound),
        ],
        check=True,
    )
    spec = PackageSpec(
        "media",
        (("Source-Organization", "t"),),
        (
            PackageFile("originals/01_现场照片.jpg", photo, "现场照片"),
            PackageFile("originals/02_询问录音.m4a", sound, "询问录音"),
        ),
    )
    write_package_file(spec, tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        zf.extractall(tmp_path / "m")
    return tmp_path / "m" / "media"


def test_player_shows_photos_and_plays_audio(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bag = _photo_and_audio(tmp_path)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto((bag / "player.html").as_uri())
        page.locator("button.media[data-type=photo]").click()
        page.wait_for_function("document.getElementById('photo').naturalWidth > 0", timeout=30_000)
        assert page.evaluate("document.getElementById('photo').naturalWidth") == 320
        assert page.locator("#video").is_hidden()
        shot = Path(__file__).resolve().parents[1] / "player" / "screenshots"
        shot.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot / "court-player-photo.png"))
        page.locator("button.media[data-type=audio]").click()
        page.wait_for_function("document.getElementById('audio').readyState >= 1", timeout=30_000)
        assert page.evaluate("document.getElementById('audio').duration") > 1.5
        assert page.locator("#photo").is_hidden() and page.locator("#audio").is_visible()
    finally:
        page.close()
