"""The field corpus (issue 14) ingested into a real server: every video rendition plays with
hls.js in Chromium (picture size, decoded frames growing, played to the end, no fatal hls.js
error), and each kind of item opens in its own viewer (video with GPS text, audio waveform,
photo, PDF). Screenshots at 1366x768 go to tests/player/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import media_corpus
import pytest
from livesite import LiveServer, live_settings, login_page

VIDEO_STATE = """() => { const v = document.querySelector('#video');
  const q = v.getVideoPlaybackQuality();
  return {t: v.currentTime, w: v.videoWidth, h: v.videoHeight, frames: q.totalVideoFrames,
          dropped: q.droppedVideoFrames, paused: v.paused, ended: v.ended, duration: v.duration,
          fatal: window.__hlsFatal || [], rs: v.readyState}; }"""


@dataclass
class CorpusSite:
    server: LiveServer
    token: str
    items: dict[str, str]  # class id -> item id
    files: dict[str, media_corpus.CorpusFile]
    details: dict[str, Any]
    pdf: str
    pdf_size: int


@pytest.fixture(scope="module")
def corpus_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusSite]:
    root = tmp_path_factory.mktemp("corpus-site")
    files = media_corpus.build(root / "files")
    server = LiveServer(live_settings(root / "data", worker_concurrency=2)).start()
    try:
        server.add_users()
        token = server.login("reviewer")
        items = {cid: server.add_item(f.path, None, device_id="DSJ001") for cid, f in files.items()}
        pdf_path = root / "files" / "inspection-record.pdf"
        media_corpus.pdf(pdf_path)
        pdf = server.add_item(pdf_path, None)
        details = server.process(token, *items.values(), pdf, timeout=600)
        yield CorpusSite(server, token, items, files, details, pdf, pdf_path.stat().st_size)
    finally:
        server.stop()


@pytest.fixture
def kpage(browser: Any, corpus_site: CorpusSite) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=False)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(30_000)
    login_page(pg, corpus_site.server.url)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def shots(shots_dir: Path) -> Path:
    return shots_dir


def test_every_item_reaches_its_status(corpus_site: CorpusSite) -> None:
    for cid, item in corpus_site.items.items():
        d = corpus_site.details[item]
        f = corpus_site.files[cid]
        assert (d["status"], d["kind"]) == (f.status, f.kind), (cid, d["status_reason"])
        if f.kind in ("video", "audio"):
            assert d["links"].get("hls"), cid
            assert d["attempts"] and d["attempts"][-1]["passed"], (cid, d["attempts"])
            hls_params = next(
                o["parameters"] for o in d["derivation"] if o["role"] == "hls_playlist"
            )
            assert hls_params["attempts"] == d["attempts"]  # recorded in the derivation
    pdf = corpus_site.details[corpus_site.pdf]
    assert (pdf["status"], pdf["kind"]) == ("stored", "document")


VIDEO_CLASSES = [cid for cid, _n, _m, kind, _s, _l in media_corpus.CLASSES if kind == "video"]


@pytest.mark.slow
@pytest.mark.parametrize("cid", VIDEO_CLASSES)
def test_video_rendition_plays_in_chromium(kpage: Any, corpus_site: CorpusSite, cid: str) -> None:
    item = corpus_site.items[cid]
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{item}")
    kpage.wait_for_function(
        "() => document.querySelector('#video') && document.querySelector('#video').videoWidth > 0"
    )
    kpage.evaluate(
        "() => { const v = document.querySelector('#video'); v.muted = true; v.playbackRate = 2; return v.play(); }"
    )
    first = kpage.evaluate(VIDEO_STATE)
    deadline = time.monotonic() + 30
    state = first
    while time.monotonic() < deadline:
        time.sleep(0.25)
        state = kpage.evaluate(VIDEO_STATE)
        if state["ended"] or state["fatal"]:
            break
    assert not state["fatal"], (cid, state)
    assert state["w"] > 0 and state["h"] > 0
    assert state["frames"] > first["frames"] or state["ended"], (cid, first, state)
    # Played to the end: every segment appended and decoded (the damaged one up to its cut).
    assert state["ended"] or state["t"] >= state["duration"] - 0.3, (cid, state)
    assert state["frames"] >= 5, state
    if cid == "mov_hevc10_rot":
        assert state["w"] < state["h"]  # shown upright: portrait after the 90 degree rotation


def test_video_with_gps_text_track(kpage: Any, corpus_site: CorpusSite, shots: Path) -> None:
    item = corpus_site.items["mkv_onekey_gps"]
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{item}")
    kpage.wait_for_selector("[data-action='subtitles-toggle']")
    kpage.wait_for_function("() => document.querySelector('#video').videoWidth > 0")
    kpage.evaluate("() => { const v = document.querySelector('#video'); v.currentTime = 2.5; }")
    kpage.wait_for_function(
        "() => document.querySelector('#gps-now').textContent.includes('42 km/h')"
    )
    cue = kpage.inner_text("#subtitle-cue")
    assert "N30.27439 E120.15533" in cue and "42 km/h" in cue
    gps = kpage.inner_text("#gps-now")
    assert "N30.27439 E120.15533" in gps and "42" in gps
    assert kpage.inner_text("#rendition-path") == "直接封装 ✗ → 重建时间戳后封装 ✓"
    kpage.screenshot(path=str(shots / "kind-video-gps.png"))
    kpage.click("[data-action='subtitles-toggle']")
    assert kpage.is_hidden("#subtitle-cue") and kpage.inner_text("#gps-now") == ""


def test_audio_shows_its_waveform(kpage: Any, corpus_site: CorpusSite, shots: Path) -> None:
    item = corpus_site.items["wav_mulaw"]
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{item}")
    kpage.wait_for_selector("#waveform.wave-main")
    assert kpage.is_hidden("#video") and kpage.is_hidden("#btn-frame-back")
    box = kpage.locator("#waveform").bounding_box()
    assert box and box["height"] >= 200 and box["width"] > 600
    # The peaks are drawn: pixels of the wave colour in the middle of the canvas.
    kpage.wait_for_function("""() => { const c = document.querySelector('#waveform');
      const d = c.getContext('2d').getImageData(0, c.height / 2 - 2, c.width, 4).data;
      let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 180 && d[i] < 140) n++;
      return n > c.width / 2; }""")
    kpage.evaluate(
        "() => { const v = document.querySelector('#video'); v.muted = true; return v.play(); }"
    )
    kpage.wait_for_function("() => document.querySelector('#video').currentTime > 0.5")
    kpage.evaluate("() => document.querySelector('#video').pause()")
    assert kpage.inner_text("#item-info").count("可播放") == 1
    kpage.screenshot(path=str(shots / "kind-audio.png"))


def test_photo_opens_in_the_image_viewer(kpage: Any, corpus_site: CorpusSite, shots: Path) -> None:
    item = corpus_site.items["photo"]
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{item}")
    kpage.wait_for_selector("#photo-viewer[data-loaded='1']")
    size = kpage.evaluate(
        "() => { const i = document.querySelector('#photo'); return [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [480, 640]  # upright: EXIF orientation 6 applied to the landscape original
    info = kpage.inner_text("#item-info")
    assert "可查看" in info and "可播放" not in info
    assert "N30.27415 E120.15515" in info
    assert kpage.inner_text("#photo-taken") == "2026-03-01 17:05:09 (UTC+08:00)"
    assert kpage.is_hidden(".bm-panel")
    assert kpage.is_hidden("#timeline") and kpage.query_selector("#photo-viewer video") is None
    before = float(kpage.get_attribute("#photo-viewer", "data-scale") or 0)
    kpage.click("[data-action='photo-zoom-in']")
    after = float(kpage.get_attribute("#photo-viewer", "data-scale") or 0)
    assert after == pytest.approx(before * 1.25, rel=0.01)
    kpage.click("[data-action='photo-fit']")
    assert float(kpage.get_attribute("#photo-viewer", "data-scale") or 0) == pytest.approx(before)
    kpage.screenshot(path=str(shots / "kind-photo.png"))
    # The evidence list says 可查看 for the photo too, and its card thumbnail is scaled.
    kpage.goto(f"{corpus_site.server.url}/#/evidence")
    row = kpage.wait_for_selector(f"tr.evidence-row[data-id='{item}']")
    assert "可查看" in row.inner_text()


def test_pdf_opens_in_the_browsers_viewer(kpage: Any, corpus_site: CorpusSite, shots: Path) -> None:
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{corpus_site.pdf}")
    frame = kpage.wait_for_selector("iframe#doc-viewer")
    assert frame.get_attribute("src").startswith("blob:")
    assert int(frame.get_attribute("data-bytes")) == corpus_site.pdf_size
    assert frame.get_attribute("data-type") == "application/pdf"
    assert frame.get_attribute("data-head") == "%PDF-"  # the original's bytes, as stored
    assert kpage.query_selector("[data-action='original-download']") is not None
    assert kpage.is_hidden("#timeline")
    kpage.wait_for_timeout(800)
    kpage.screenshot(path=str(shots / "kind-pdf.png"))


def test_english_viewer_chrome_has_no_chinese(kpage: Any, corpus_site: CorpusSite) -> None:
    kpage.evaluate("() => localStorage.setItem('custodian.lang', 'en')")
    kpage.goto(f"{corpus_site.server.url}/#/evidence/{corpus_site.items['photo']}")
    kpage.reload()
    kpage.wait_for_selector("#photo-viewer[data-loaded='1']")
    text = kpage.inner_text("#photo-controls") + kpage.inner_text("#item-info")
    assert "Viewable" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
