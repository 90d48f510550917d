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


def _pick(browser, bag: Path, query: str = "", fingerprint: str = "") -> tuple[str, str, object]:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto((bag / "verify.html").as_uri() + query)
    if fingerprint:
        page.fill("#fingerprint", fingerprint)
    page.set_input_files("#pick", str(bag))
    page.wait_for_function(
        "['valid','invalid'].includes(document.getElementById('verdict').dataset.status)",
        timeout=180_000,
    )
    verdict = page.locator("#verdict")
    return verdict.get_attribute("data-status") or "", verdict.inner_text(), page


def test_verify_html_says_what_it_proves(browser, sealed: Built) -> None:  # type: ignore[no-untyped-def]
    status, text, page = _pick(browser, sealed.folder)
    try:
        limits = page.locator("#limits").inner_text()
        assert "本页面只能发现损坏，不能证明来源" in limits
        assert "This page detects damage; it cannot prove origin" in limits
        assert "verify.py --trusted-key" in limits
        assert status == "valid" and "origin is not proven here" in text
    finally:
        page.close()


def test_verify_html_checks_the_signature_against_a_typed_fingerprint(  # type: ignore[no-untyped-def]
    browser, sealed: Built
) -> None:
    for fingerprint, expected in ((sealed.fingerprint, "verified"), ("ab" * 32, "failed")):
        _, _, page = _pick(browser, sealed.folder, fingerprint=fingerprint)
        try:
            page.wait_for_function(
                "['verified','failed','unsupported'].includes("
                "document.getElementById('origin').dataset.status)",
                timeout=30_000,
            )
            origin = page.locator("#origin")
            assert origin.get_attribute("data-status") == expected, origin.inner_text()
        finally:
            page.close()


def _big_bag(folder: Path, size: int) -> tuple[Path, str]:
    """A folder with one file of `size` bytes (sparse, a marker at the end) and a verify.html
    that expects its SHA-256."""
    import hashlib

    from integrity.package import render_verify_html

    folder.mkdir()
    big = folder / "big.bin"
    with open(big, "wb") as f:
        f.truncate(size - 5)
        f.seek(size - 5)
        f.write(b"tail!")
    h = hashlib.sha256()
    with open(big, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    (folder / "verify.html").write_bytes(render_verify_html("big", {"big.bin": h.hexdigest()}, ()))
    return big, h.hexdigest()


@pytest.mark.slow
def test_streaming_sha256_above_the_webcrypto_threshold(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A file above WEBCRYPTO_MAX (256 MiB) goes through the page's streaming SHA-256."""
    big, _ = _big_bag(tmp_path / "bag", 256 * 1024 * 1024 + 4099)
    status, text, page = _pick(browser, big.parent)
    page.close()
    assert status == "valid", text
    data = bytearray(b"tail?")
    with open(big, "r+b") as f:
        f.seek(big.stat().st_size - 5)
        f.write(bytes(data))
    status, text, page = _pick(browser, big.parent)
    page.close()
    assert status == "invalid" and "big.bin: 已被修改 changed" in text


def test_streaming_sha256_across_slice_boundaries(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The streaming path (threshold lowered) on sizes around the 8 MiB slice and 64-byte block."""
    for n, size in enumerate((8 * 1024 * 1024 + 63, 8 * 1024 * 1024 * 2 + 55, 64 * 3 + 1)):
        big, _ = _big_bag(tmp_path / f"bag{n}", size)
        status, text, page = _pick(browser, big.parent, query="?webcrypto_max=16")
        page.close()
        assert status == "valid", (size, text)
