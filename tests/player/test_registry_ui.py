"""The registry pages in a real Chromium against a real server: officers, devices with their
assignment history and the unknown-device one-click re-attribution, stations (backlog,
offline), import with a dry run, an officer's footage by day; zh-CN first, English switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from livesite import BROWSER_ARGS, CHROMIUM, LiveServer, live_settings, login_page

from helpers import PASSWORD

DAY = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from sqlalchemy import select

    from server.catalogue.models import EvidenceItem, Station
    from server.people.accounts import add_agency, add_user
    from server.people.registry_attribution import on_catalogued

    root = tmp_path_factory.mktemp("registry-site")
    server = LiveServer(live_settings(root / "data", station_offline_seconds=300)).start()
    try:

        def users(s: Any) -> None:
            add_agency(s, "A1", "丽水市综合行政执法局")
            add_user(s, "admin", PASSWORD, "admin", None)
            add_user(s, "reviewer", PASSWORD, "reviewer", "A1")
            add_user(s, "officer", PASSWORD, "officer", "A1")
            add_user(s, "st1", PASSWORD, "station", "A1")

        server.db.call(users)
        admin = server.login("admin")
        for code, name, cert, unit in (
            ("010001", "王明", "33110001", "一中队"),
            ("010002", "李华", "33110002", "二中队"),
            ("010003", "赵强", "33110003", "一中队"),
        ):
            status, body = server.request(
                "POST",
                "/api/v1/officers",
                admin,
                {"code": code, "name": name, "certificate": cert, "unit": unit, "agency": "A1"},
            )
            assert status == 201, body
        for serial in ("DSJ-A1001", "DSJ-A1002"):
            status, body = server.request(
                "POST",
                "/api/v1/devices",
                admin,
                {"serial": serial, "agency": "A1", "model": "DSJ-V9"},
            )
            assert status == 201, body
        for serial, code, start in (
            ("DSJ-A1001", "010001", DAY),
            ("DSJ-A1001", "010002", DAY + timedelta(hours=5)),
            ("DSJ-A1002", "010003", DAY),
        ):
            status, body = server.request(
                "POST",
                f"/api/v1/devices/{serial}/assignments",
                admin,
                {"officer": code, "from": start.isoformat()},
            )
            assert status == 201, body
        st = server.login("st1")
        server.request(
            "POST",
            "/api/v1/stations",
            admin,
            {"code": "ST-EAST", "agency": "A1", "location": "东门执勤点", "user": "st1"},
        )
        server.request(
            "POST",
            "/api/v1/stations",
            admin,
            {"code": "ST-WEST", "agency": "A1", "location": "西区中队"},
        )
        status, body = server.request(
            "POST",
            "/api/v1/stations/heartbeat",
            st,
            {
                "station_id": "ST-EAST",
                "files_waiting": 3,
                "bytes_waiting": 734_003_200,
                "disk_free": 120_000_000_000,
                "last_error": "",
            },
        )
        assert status == 200, body
        status, body = server.request(
            "POST",
            "/api/v1/stations/heartbeat",
            st,
            {
                "station_id": "ST-WEST",
                "files_waiting": 12,
                "bytes_waiting": 4_100_000_000,
                "disk_free": 900_000_000,
                "last_error": "server unreachable: connection refused",
            },
        )

        def stale(s: Any) -> None:
            row = s.scalar(select(Station).where(Station.code == "ST-WEST"))
            row.last_contact = datetime.now(UTC) - timedelta(hours=3)

        server.db.call(stale)
        items = {}
        for name, device, officer, hours in (
            ("DSJ-A1001_010001_0930.mp4", "DSJ-A1001", "010001", 1.5),
            ("DSJ-A1001_010001_1010.mp4", "DSJ-A1001", "010001", 2.2),
            ("DSJ-A1001_010001_1420.mp4", "DSJ-A1001", "010001", 6.3),
            ("NEW42_010003_1100.mp4", "NEW42", "010003", 3.0),
        ):
            p = root / name
            p.write_bytes(name.encode() * 50)
            items[name] = server.add_item(
                p, DAY + timedelta(hours=hours), device_id=device, officer_id=officer
            )

            def attribute(s: Any, item_id: str = items[name]) -> None:
                item = s.get(EvidenceItem, item_id)
                item.station_id = "ST-EAST"
                on_catalogued(s, item, None)

            server.db.call(attribute)
        yield {"server": server, "url": server.url, "items": items}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shots() -> Path:
    where = os.environ.get("CUSTODIAN_SCREENSHOTS") or str(Path(__file__).parent / "screenshots")
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def rpage(reg: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        context = b.new_context(
            viewport={"width": 1366, "height": 768},
            bypass_csp=True,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.set_default_timeout(20_000)
        yield pg
        context.close()
        b.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def test_registry_pages(rpage: Any, reg: dict[str, Any], shots: Path, tmp_path: Path) -> None:  # noqa: PLR0915
    page, url = rpage, reg["url"]
    login_page(page, url, "admin")
    page.goto(url + "/#/registry/officers")
    page.wait_for_selector("#officer-table .officer-row")
    assert page.locator("#nav a[href='#/registry/officers']").inner_text() == "人员设备"
    assert page.locator(".officer-row").count() == 3
    # Register an officer through the form.
    form = page.locator("#officer-form")
    form.locator("input[name=code]").fill("010004")
    form.locator("input[name=name]").fill("孙丽")
    form.locator("input[name=certificate]").fill("33110004")
    form.locator("input[name=unit]").fill("法制科")
    form.locator("input[name=agency]").fill("A1")
    page.click("[data-action=officer-add]")
    page.wait_for_selector(".officer-row[data-code='010004']")
    page.screenshot(path=str(shots / "registry-01-officers.png"))

    # Devices: the unknown camera, registered to its holder with one click (re-attributed).
    page.goto(url + "/#/registry/devices")
    page.wait_for_selector("#unknown-devices .unknown-row[data-serial=NEW42]")
    assert page.locator(".device-row").count() == 2
    # The afternoon clip names 010001 but 010002 held the camera then: flagged, kept.
    assert page.locator("#flagged-footage .flagged-row").count() == 1
    assert "李华 (010002)" in page.locator(".flagged-row").inner_text()
    page.screenshot(path=str(shots / "registry-02-devices.png"))
    row = page.locator(".unknown-row[data-serial=NEW42]")
    row.locator("select[name=officer]").select_option("010003")
    row.locator("[data-action=device-register]").click()
    page.wait_for_selector(".device-row[data-serial=NEW42]")
    assert page.locator("#unknown-devices").count() == 0
    assert "赵强" in page.locator(".device-row[data-serial=NEW42]").inner_text()
    status, item = reg["server"].request(
        "GET",
        f"/api/v1/evidence/{reg['items']['NEW42_010003_1100.mp4']}",
        reg["server"].login("reviewer"),
    )
    assert (
        item["attribution"]["flag"] == "matched" and item["attribution"]["officer_code"] == "010003"
    )

    # A device's assignment history: 010002 holds it now, 010001 held it in the morning.
    page.click(".device-row[data-serial=DSJ-A1001] [data-action=device-open]")
    page.wait_for_selector("#assignment-table .assignment-row")
    hist = page.locator(".assignment-row").all_inner_texts()
    assert len(hist) == 2 and "李华" in hist[0] and "至今" in hist[0] and "王明" in hist[1]
    page.screenshot(path=str(shots / "registry-03-device.png"))

    # Stations: backlog figures, one online, one offline.
    page.goto(url + "/#/registry/stations")
    page.wait_for_selector("#station-table .station-row")
    assert page.locator(".station-row[data-code=ST-EAST]").get_attribute("data-state") == "online"
    assert page.locator(".station-row[data-code=ST-WEST]").get_attribute("data-state") == "offline"
    west = page.locator(".station-row[data-code=ST-WEST]").inner_text()
    assert "12" in west and "离线" in west and "3.8 GB" in west
    page.screenshot(path=str(shots / "registry-04-stations.png"))

    # Import with a dry run that lists the bad row, then the import.
    csv_file = tmp_path / "officers.csv"
    csv_file.write_text(
        "警号,姓名,执法证号,科室/中队\n020001,钱一,33120001,二中队\n020002,,33120002,二中队\n"
        "020003,钱三,33120001,二中队\n020004,钱四,,三中队\n",
        encoding="utf-8-sig",
    )
    page.goto(url + "/#/registry/import")
    page.wait_for_selector("#import-file")
    page.select_option("select[name=kind]", "officers")
    page.fill("input[name=agency]", "A1")
    page.set_input_files("#import-file", str(csv_file))
    page.click("[data-action=import-dry-run]")
    page.wait_for_selector("#import-errors .bad-row")
    assert [r.get_attribute("data-row") for r in page.locator(".bad-row").all()] == ["3", "4"]
    assert "2 条正确" in page.locator("#import-summary").inner_text()
    assert "姓名为空" in page.locator(".bad-row[data-row='3']").inner_text()
    assert "与第 2 行重复" in page.locator(".bad-row[data-row='4']").inner_text()
    page.screenshot(path=str(shots / "registry-05-import-dry-run.png"))
    page.click("[data-action=import-run]")
    page.wait_for_function(
        "document.querySelector('#import-summary').textContent.includes('已导入 2')"
    )

    # An officer's footage by day: the morning items of 010001 (the afternoon was 010002's).
    page.goto(url + "/#/registry/officer/010001")
    page.wait_for_selector(".reg-daybox .footage-row")
    assert page.locator(".reg-daybox").get_attribute("data-date") == "2026-11-30"
    assert page.locator(".footage-row").count() == 2
    page.screenshot(path=str(shots / "registry-06-officer-footage.png"))
    page.goto(url + "/#/registry/officer/010002")
    page.wait_for_selector(".footage-row")
    assert page.locator(".footage-row").count() == 1
    assert "与文件名不符" in page.locator(".footage-row").inner_text()

    # English: the same page, no Chinese labels left in the chrome.
    page.click("#lang-switch")
    page.wait_for_selector("text=Officer's footage")
    assert page.locator("#nav a[href='#/registry/officers']").inner_text() == "Registry"
    assert "File name disagrees" in page.locator(".footage-row").inner_text()
    page.goto(url + "/#/registry/stations")
    page.wait_for_selector("#station-table .station-row")
    page.screenshot(path=str(shots / "registry-07-stations-en.png"))
    page.click("#lang-switch")


def test_registry_roles_in_the_ui(rpage: Any, reg: dict[str, Any]) -> None:
    page, url = rpage, reg["url"]
    login_page(page, url, "reviewer")
    page.goto(url + "/#/registry/devices")
    page.wait_for_selector("#device-table .device-row")
    assert (
        page.locator("#device-form").count() == 0 and page.locator("[data-tab=import]").count() == 0
    )
    page.evaluate("sessionStorage.clear()")
    login_page(page, url, "officer")
    assert page.locator("#nav a[href='#/registry/officers']").count() == 0
