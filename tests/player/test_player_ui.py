"""The reviewer UI in real Chromium against a real server: cases, playback, trickplay, frame
stepping, bookmarks, clips, damaged items, multi-camera sync, upload, language switch."""

from __future__ import annotations

import json
import re
from typing import Any

from livesite import login_page
from sqlalchemy import select

from helpers import make_clip
from server.catalogue.models import LedgerRow

REC1_MS = 1772355600000  # 2026-03-01T09:00:00Z, the body camera's recording start

FRAME_HASH = """() => {
  const v = document.querySelector('#video');
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0; for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) >>> 0;
  return h;
}"""
VIDEO_STATE = """() => { const v = document.querySelector('#video');
  return {t: v.currentTime, w: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames,
          paused: v.paused, duration: v.duration}; }"""


def _vtt_cues(site: Any, item: str) -> list[tuple[float, float, str, str]]:
    status, raw = site.server.request(
        "GET", f"/api/v1/evidence/{item}/thumbnails.vtt", site.tokens["reviewer"]
    )
    assert status == 200
    text = raw.decode() if isinstance(raw, bytes) else str(raw)

    def secs(ts: str) -> float:
        h, m, s = ts.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    for a, b, sheet, xywh in re.findall(r"([\d:.]+) --> ([\d:.]+)\s+(\S+?)#xywh=(\S+)", text):
        cues.append((secs(a), secs(b), sheet, xywh))
    return cues


def _open_player(page: Any, site: Any, item: str, case: bool = True) -> None:
    suffix = f"?case={site.case_id}" if case else ""
    page.goto(f"{site.url}/#/evidence/{item}{suffix}")
    page.wait_for_function(
        "() => window.__firstFrameAt && document.querySelector('#video').readyState >= 2"
    )
    page.wait_for_selector("#bookmark-list li")


def test_login_case_list_and_case(page, site) -> None:  # type: ignore[no-untyped-def]
    page.goto(site.url + "/")
    page.wait_for_selector("#login-form")
    page.screenshot(path=str(site.shots / "01-login.png"))
    login_page(page, site.url)
    row = page.wait_for_selector(f"tr.case-row[data-id='{site.case_id}']")
    assert "丽综执罚" in row.inner_text() and "行政处罚" in row.inner_text()
    # Search by party and by a word of the title; a miss shows the empty state.
    page.fill("#case-q", "占道")
    page.click("#case-search")
    page.wait_for_selector(f"tr.case-row[data-id='{site.case_id}']")
    page.fill("#case-q", "不存在的案件")
    page.click("#case-search")
    page.wait_for_selector("#case-table td.empty")
    page.goto(site.url + "/#/cases")
    page.wait_for_selector("tr.case-row")
    page.screenshot(path=str(site.shots / "02-cases.png"))
    page.click(f"tr.case-row[data-id='{site.case_id}'] a.case-link")
    page.wait_for_selector("#stage-timeline")
    stages = page.eval_on_selector_all(
        "#stage-timeline > li", "els => els.map(e => e.dataset.stage)"
    )
    assert stages == ["initiation", "investigation", "decision", "service_execution", "archiving"]
    inv = page.locator("li.stage-col[data-stage='investigation']")
    assert inv.locator("a.item-link").count() == 2
    # Duration and thumbnail come from the item's details and sprite sheet.
    page.wait_for_function(
        "() => [...document.querySelectorAll('li[data-stage=investigation] .dur')].every(e => e.textContent === '00:08')"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('li[data-stage=investigation] .thumb')].every(e => e.style.backgroundImage.startsWith('url(\"blob:'))"
    )
    assert inv.locator("a.mc-link").count() == 1
    page.wait_for_selector("#findings")
    # The agency's unlinked footage (the damaged clip) can be linked from here.
    page.wait_for_selector(f"tr.unlinked-row[data-id='{site.broken}']")
    page.screenshot(path=str(site.shots / "03-case.png"), full_page=True)


def test_item_really_plays(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    page.goto(f"{site.url}/#/cases/{site.case_id}")
    page.click(f"li[data-stage='investigation'] a.item-link[data-id='{site.cam1}']")
    page.wait_for_function("() => window.__firstFrameAt")
    page.click("#btn-play")
    page.wait_for_function("() => document.querySelector('#video').currentTime > 0.3")
    a = page.evaluate(VIDEO_STATE)
    page.wait_for_timeout(1200)
    b = page.evaluate(VIDEO_STATE)
    assert b["t"] > a["t"] + 0.5, (a, b)
    assert b["w"] == 320
    assert b["frames"] > a["frames"] + 10, (a, b)  # frames really decoded, not an audio-only play
    wall = page.inner_text("#wall-time")
    assert wall.startswith("2026-03-01 ") or wall.startswith("2026-03-0"), wall
    page.keyboard.press("k")
    page.screenshot(path=str(site.shots / "04-player.png"))


def test_trickplay_hover_click_seek_and_frame_step(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    _open_player(page, site, site.cam1)
    page.wait_for_function("() => window.custodianPlayer.cues.length > 0")
    cues = _vtt_cues(site, site.cam1)
    box = page.locator("#timeline").bounding_box()
    for frac in (0.1, 0.37, 0.62, 0.9):
        page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] / 2)
        page.wait_for_function("() => document.querySelector('#trick').classList.contains('show')")
        data = page.evaluate("() => ({...document.querySelector('#trick').dataset})")
        t = float(data["time"])
        assert abs(t - frac * 8.0) < 0.1, (frac, data)
        want = next(c for c in cues if c[0] <= t < c[1])
        assert (data["sheet"], data["xywh"]) == (want[2], want[3]), (t, data, want)
        x, y = (int(v) for v in want[3].split(",")[:2])
        page.wait_for_function(
            "([x, y]) => { const s = document.querySelector('#trick .trick-img').style;"
            " return s.backgroundImage.startsWith('url(\"blob:') && s.backgroundPosition === `${-x}px ${-y}px`; }",
            arg=[x, y],
        )
    page.screenshot(path=str(site.shots / "05-trickplay-hover.png"))

    # Seek by clicking the timeline at 25 %.
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.wait_for_function("() => !document.querySelector('#video').seeking")
    t = page.evaluate("() => document.querySelector('#video').currentTime")
    assert abs(t - 2.0) < 0.1, t

    # Frame step while paused: exactly one frame (1/25 s) and a different picture.
    page.wait_for_function("() => document.querySelector('#video').readyState >= 2")
    before_t, before_img = page.evaluate(VIDEO_STATE)["t"], page.evaluate(FRAME_HASH)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "t => { const v = document.querySelector('#video'); return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) > 0.01; }",
        arg=before_t,
    )
    page.wait_for_timeout(100)
    after = page.evaluate(VIDEO_STATE)
    frame_no = lambda s: int(s * 25 + 1e-6)  # noqa: E731
    assert frame_no(after["t"]) == frame_no(before_t) + 1, (before_t, after)
    assert after["paused"]
    assert page.evaluate(FRAME_HASH) != before_img
    page.click("#btn-frame-back")
    page.wait_for_function(
        "t => { const v = document.querySelector('#video'); return !v.seeking && Math.abs(v.currentTime - t) > 0.01; }",
        arg=after["t"],
    )
    back = page.evaluate(VIDEO_STATE)["t"]
    assert frame_no(back) == frame_no(before_t)


def test_bookmark_saved_listed_after_reload_and_ledgered(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    _open_player(page, site, site.cam2)
    page.evaluate("() => { document.querySelector('#video').currentTime = 3.2; }")
    page.wait_for_function("() => !document.querySelector('#video').seeking")
    page.locator("#video").focus()
    page.keyboard.press("b")
    assert page.evaluate("() => document.activeElement.id") == "bookmark-note"
    page.keyboard.type("当事人拒绝签字")
    page.keyboard.press("Enter")
    page.wait_for_selector("#bookmark-list li.bookmark >> text=当事人拒绝签字")
    page.reload()
    page.wait_for_selector("#bookmark-list li.bookmark >> text=当事人拒绝签字")
    entry = page.locator("#bookmark-list li.bookmark").first
    assert abs(float(entry.get_attribute("data-time")) - 3.2) < 0.05
    # Jump-to seeks the video to the bookmark.
    page.evaluate("() => { document.querySelector('#video').currentTime = 0.5; }")
    entry.locator("button.jump").click()
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#video').currentTime - 3.2) < 0.05"
    )
    rows = site.server.db.call(
        lambda s: [
            (r.actor, json.loads(r.details))
            for r in s.scalars(
                select(LedgerRow).where(
                    LedgerRow.action == "annotation", LedgerRow.subject == f"evidence:{site.cam2}"
                )
            )
        ]
    )
    assert any(d.get("note") == "当事人拒绝签字" and abs(d["time_s"] - 3.2) < 0.05 for _, d in rows)
    assert all(actor.endswith(":reviewer") for actor, _ in rows)


def test_clip_into_export_basket(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    _open_player(page, site, site.cam1)
    page.wait_for_selector("#basket-list li")
    for t, key in ((1.0, "["), (3.5, "]")):
        page.evaluate(f"() => {{ document.querySelector('#video').currentTime = {t}; }}")
        page.wait_for_function("() => !document.querySelector('#video').seeking")
        page.locator("#video").focus()
        page.keyboard.press(key)
    assert page.inner_text("#clip-in-val") == "00:00:01.000"
    assert page.inner_text("#clip-out-val") == "00:00:03.500"
    page.fill("#clip-name", "拒签过程")
    page.click("#btn-add-clip")
    page.wait_for_selector("#basket-list li >> text=拒签过程")
    status, basket = site.server.request(
        "GET", f"/api/v1/cases/{site.case_id}/basket", site.tokens["reviewer"]
    )
    clip = next(c for c in basket["items"] if c["name"] == "拒签过程")
    assert (clip["evidence_id"], clip["in_s"], clip["out_s"]) == (site.cam1, 1.0, 3.5)


def test_damaged_item_says_what_and_why(page, site) -> None:  # type: ignore[no-untyped-def]
    detail = site.details[site.broken]
    assert detail["status"] in ("damaged", "unplayable")
    login_page(page, site.url)
    page.goto(f"{site.url}/#/evidence/{site.broken}")
    banner = page.wait_for_selector("#item-banner .banner")
    text = banner.inner_text()
    assert ("无法播放" in text or "部分损坏" in text) and "原因" in text
    assert (detail["status_reason_zh"] or detail["status_reason"])[:10] in text
    page.screenshot(path=str(site.shots / "06-damaged.png"))


def test_multicam_stays_in_sync_after_seek(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    page.goto(f"{site.url}/#/cases/{site.case_id}")
    page.click("li[data-stage='investigation'] a.mc-link")
    page.wait_for_selector(".mc-video")
    page.wait_for_function(
        "() => window.custodianMulticam && window.custodianMulticam.cams.length === 2"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mc-video')].every(v => v.readyState >= 2)"
    )
    span_s = 11.0  # 09:00:00 .. 09:00:11

    def click_at(second: float) -> None:
        lanes = page.locator("#mc-timeline").bounding_box()
        page.mouse.click(lanes["x"] + lanes["width"] * (second / span_s), lanes["y"] + 6)

    # At 09:00:01 only the body camera has footage; the CCTV says so.
    click_at(1.0)
    assert abs(page.evaluate("() => window.custodianMulticam.T") - (REC1_MS + 1000)) < 50
    gaps = page.eval_on_selector_all(
        ".mc-cell", "els => els.map(e => !e.querySelector('.mc-gap').classList.contains('hidden'))"
    )
    assert gaps == [False, True]
    page.click("#mc-play")
    for target in (5.0, 3.4):
        click_at(target)
        page.wait_for_timeout(1500)
        pos = page.evaluate("() => window.custodianMulticam.positions()")
        assert all(p["inside"] and not p["paused"] for p in pos), pos
        assert abs(pos[0]["wall"] - pos[1]["wall"]) < 100, pos
        now = page.evaluate("() => window.custodianMulticam.T")
        assert abs(now - (pos[0]["wall"])) < 150
        assert now > REC1_MS + (target + 1.0) * 1000, "the seek did not land"
    page.screenshot(path=str(site.shots / "07-multicam.png"))
    page.click("#mc-play")


def test_upload_through_the_page(page, site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip(tmp_path / "phone_VID_20260301_0930.mp4", seconds=1, size="160x120")
    login_page(page, site.url, "officer")
    page.click("#nav a[href='#/upload']")
    page.wait_for_selector("#upload-file")
    page.set_input_files("#upload-file", str(clip))
    page.click("#upload-start")
    link = page.wait_for_selector("#upload-item-link", timeout=30_000)
    item_id = link.get_attribute("href").rsplit("/", 1)[1]
    page.wait_for_selector(f"#recent-items tr[data-id='{item_id}']")
    assert "phone_VID_20260301_0930.mp4" in page.inner_text(
        f"#recent-items tr[data-id='{item_id}']"
    )
    page.screenshot(path=str(site.shots / "08-upload.png"))
    status, item = site.server.request("GET", f"/api/v1/evidence/{item_id}", site.tokens["officer"])
    import hashlib

    assert status == 200 and item["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()


def test_english_switch_and_static_files(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    assert page.inner_text("#nav a[href='#/cases']") == "案件"
    page.click("#lang-switch")
    page.wait_for_function(
        "() => document.querySelector(\"#nav a[href='#/cases']\").textContent === 'Cases'"
    )
    page.wait_for_selector("tr.case-row")
    assert "Penalty" in page.inner_text("#case-table")
    page.screenshot(path=str(site.shots / "09-cases-en.png"))
    page.click("#lang-switch")
    for path, ctype in (
        ("/", "text/html"),
        ("/player/js/app.js", "text/javascript"),
        ("/player/app.css", "text/css"),
        ("/player/vendor/hls.min.js", "text/javascript"),
        ("/player/vendor/hls.js.LICENSE", "text/plain"),
    ):
        r = page.request.get(site.url + path)
        assert r.status == 200 and r.headers["content-type"].startswith(ctype), (path, r.headers)
    for path in (
        "/player/../server/app.py",
        "/player/.hidden",
        "/player/js/nope.js",
        "/player/index.py",
    ):
        assert page.request.get(site.url + path).status == 404, path
