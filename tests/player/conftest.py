"""Browser tests: one real server with generated footage and one real Chromium per package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from livesite import BROWSER_ARGS, CHROMIUM, LiveServer, live_settings

from helpers import make_clip

REC1 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
REC2 = datetime(2026, 3, 1, 9, 0, 3, tzinfo=UTC)  # overlaps cam1 by 5 s


@dataclass
class Site:
    server: LiveServer
    url: str
    tokens: dict[str, str]
    cam1: str
    cam2: str
    broken: str
    case_id: str
    details: dict[str, Any]
    shots: Path


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of each main screen: tests/player/screenshots/ (gitignored) unless
    CUSTODIAN_SCREENSHOTS names another folder."""
    where = os.environ.get("CUSTODIAN_SCREENSHOTS") or str(Path(__file__).parent / "screenshots")
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shots_dir: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("player-site")
    server = LiveServer(live_settings(root / "data")).start()
    try:
        server.add_users()
        tokens = {u: server.login(u) for u in ("reviewer", "officer")}
        cam1 = server.add_item(
            make_clip(root / "DSJ001_20260301090000.mp4", seconds=8),
            REC1,
            device_id="DSJ001",
            officer_id="0421",
        )
        cam2 = server.add_item(
            make_clip(root / "CCTV07_20260301090003.mp4", seconds=8, size="352x288"),
            REC2,
            device_id="CCTV07",
        )
        whole = make_clip(root / "cut.mp4", seconds=3)
        cut = root / "DSJ002_cut.mp4"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        broken = server.add_item(cut, REC1, device_id="DSJ002")
        details = server.process(tokens["reviewer"], cam1, cam2, broken)
        status, case = server.request(
            "POST",
            "/api/v1/cases",
            tokens["reviewer"],
            {
                "number": "丽综执罚〔2026〕17号",
                "title": "占道经营 现场检查",
                "enforcement_type": "penalty",
                "procedure": "general",
                "parties": ["张三"],
            },
        )
        assert status == 201, case
        for item in (cam1, cam2):
            status, body = server.request(
                "POST",
                f"/api/v1/cases/{case['id']}/links",
                tokens["reviewer"],
                {"evidence_id": item, "stage": "investigation"},
            )
            assert status in (200, 201), body
        yield Site(
            server,
            server.url,
            tokens,
            cam1,
            cam2,
            broken,
            case["id"],
            details,
            shots_dir,
        )
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh page at 1366x768. CSP is bypassed only so Playwright can evaluate its helpers."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
