"""verify.html and player.html opened from file:// in headless Chromium, no server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from export_support import Built

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def check_in_browser(browser, bag: Path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    try:
        page.goto((bag / "verify.html").as_uri())
        page.set_input_files("#pick", str(bag))
        page.wait_for_function(
            "['valid','invalid'].includes(document.getElementById('verdict').dataset.status)",
            timeout=60_000,
        )
        verdict = page.locator("#verdict")
        return verdict.get_attribute("data-status") or "", verdict.inner_text()
    finally:
        page.close()


def test_verify_html_reports_the_package_valid(browser, sealed: Built) -> None:  # type: ignore[no-untyped-def]
    status, text = check_in_browser(browser, sealed.folder)
    assert status == "valid", text
    assert "校验通过 VALID" in text


def test_verify_html_reports_a_tampered_copy_invalid(  # type: ignore[no-untyped-def]
    browser, fresh_copy: Callable[[], Path]
) -> None:
    bag = fresh_copy()
    clip = bag / "data/clips/clip-01.mp4"
    data = bytearray(clip.read_bytes())
    data[4000] ^= 1
    clip.write_bytes(bytes(data))
    (bag / "data/report/extra.txt").write_text("added")
    status, text = check_in_browser(browser, bag)
    assert status == "invalid"
    assert "data/clips/clip-01.mp4: 已被修改 changed" in text
    assert "data/report/extra.txt: 多出的文件 added" in text


def test_player_html_lists_and_plays_clips(browser, sealed: Built) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    try:
        page.goto((sealed.folder / "player.html").as_uri())
        buttons = page.locator("button.media")
        assert buttons.count() == 3  # one clip, two MP4 originals
        page.locator("#clips button.media").first.click()
        page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=30_000)
        duration = page.evaluate("document.getElementById('video').duration")
        assert duration > 1.0
    finally:
        page.close()
