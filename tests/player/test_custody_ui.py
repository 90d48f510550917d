"""Issue 12 in the browser: an account without an agency names the footage's agency on upload
(the upload page asks it), and the item then belongs to that agency only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livesite import LiveServer, live_settings, login_page

from helpers import make_clip


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server with the usual users and no footage."""
    server = LiveServer(live_settings(tmp_path_factory.mktemp("custody-site") / "data")).start()
    try:
        server.add_users()
        yield server
    finally:
        server.stop()


@pytest.fixture
def upage(browser: Any, bare: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_admin_upload_names_the_agency(upage, bare, tmp_path, shots_dir) -> None:  # type: ignore[no-untyped-def]
    page = upage
    clip = make_clip(tmp_path / "admin_upload.mp4", seconds=1, size="160x120")
    login_page(page, bare.url, "admin")
    page.click("#nav a[href='#/upload']")
    page.wait_for_selector("#upload-agency")
    assert "机构" in page.inner_text(".upload-layout")
    page.set_input_files("#upload-file", str(clip))
    page.fill("#upload-agency", "A1")
    page.screenshot(path=str(Path(shots_dir) / "12-upload-agency.png"))
    page.click("#upload-start")
    link = page.wait_for_selector("#upload-item-link", timeout=30_000)
    item_id = link.get_attribute("href").rsplit("/", 1)[1]
    admin = bare.login("admin")
    status, item = bare.request("GET", f"/api/v1/evidence/{item_id}", admin)
    assert status == 200 and item["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    status, agencies = bare.request("GET", "/api/v1/evidence?limit=5", bare.login("reviewer"))
    assert item_id in [i["id"] for i in agencies["items"]]  # A1's reviewer sees it
    # An account of an agency is not asked.
    page2 = page.context.new_page()
    login_page(page2, bare.url, "officer")
    page2.click("#nav a[href='#/upload']")
    page2.wait_for_selector("#upload-file")
    assert page2.query_selector("#upload-agency") is None
