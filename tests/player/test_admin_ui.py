"""The account administration page (admin.js) in a real Chromium against a real server:
create, change role, disable (the user's token dies at once), zh-CN and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livesite import LiveServer, live_settings, login_page

from helpers import PASSWORD

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(live_settings(tmp_path_factory.mktemp("admin-site") / "data")).start()
    try:
        server.add_users()
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin_page(browser: Any, admin_site: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_admin_manages_users_in_both_languages(
    admin_page: Any, admin_site: LiveServer, shots_dir: Path
) -> None:
    page, site = admin_page, admin_site
    officer_token = site.login("officer")
    login_page(page, site.url, "admin")
    page.click("nav a[href='#/admin']")
    page.wait_for_selector("#users-table tr.user-row[data-username='officer']")
    assert page.locator("h2").first.inner_text() == "账号管理"
    # Create a user through the form.
    form = page.locator("#user-new")
    form.locator("input[name=username]").fill("wang5")
    form.locator("input[name=display_name]").fill("王五")
    form.locator("input[name=password]").fill("short")
    form.locator("[data-action=user-create]").click()
    page.wait_for_selector(".toast.error")  # the weak password is refused, named by the server
    form = page.locator("#user-new")
    form.locator("input[name=username]").fill("wang5")
    form.locator("input[name=password]").fill(PASSWORD + " five")
    form.locator("select[name=role]").select_option("officer")
    form.locator("select[name=agency]").select_option("A1")
    form.locator("[data-action=user-create]").click()
    row = page.locator("tr.user-row[data-username='wang5']")
    row.wait_for()
    # Promote wang5 to reviewer.
    row.locator("select[name=role]").select_option("reviewer")
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        row.locator("[data-action=user-save]").click()
    assert patched.value.status == 200
    status, users = site.request("GET", "/api/v1/users", site.login("admin"))
    assert {u["username"]: u["role"] for u in users["items"]}["wang5"] == "reviewer"
    # Disable the officer: their existing token stops working at once.
    assert site.request("GET", "/api/v1/auth/me", officer_token)[0] == 200
    page.locator("tr.user-row[data-username='officer'] [data-action=user-disable]").click()
    page.wait_for_selector(
        "tr.user-row.inactive[data-username='officer'] [data-action=user-enable]"
    )
    status, body = site.request("GET", "/api/v1/auth/me", officer_token)
    assert status == 401 and body["code"] == "account_disabled"
    # Reset a password.
    row = page.locator("tr.user-row[data-username='legal']")
    row.locator("input[name=password]").fill("a fresh passphrase for court")
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        row.locator("[data-action=user-password]").click()
    assert patched.value.status == 200
    site.login("legal", "a fresh passphrase for court")
    # Agencies.
    page.locator("#agency-new input[name=code]").fill("QT")
    page.locator("#agency-new input[name=name]").fill("青田县综合行政执法局")
    page.locator("#agency-new [data-action=agency-create]").click()
    page.wait_for_selector("#agencies-table tr.agency-row[data-code='QT']")
    page.screenshot(path=str(shots_dir / "admin-zh.png"), full_page=True)
    # English: every label switches, none stays Chinese (names and agency names are data).
    page.click("#lang-switch")
    page.wait_for_selector("#main h2:has-text('Accounts')")
    page.wait_for_selector("#users-table tr.user-row >> nth=0")
    labels = " ".join(
        page.locator(
            "#main th, #main h2, #main h3, #main h4, #main button, #main .badge, #main .hint"
        ).all_inner_texts()
    )
    labels += " " + " ".join(
        page.evaluate(  # a label's own text, not the agency names it offers
            "() => [...document.querySelectorAll('#main label')].map(l => l.firstChild.textContent)"
        )
    )
    assert not CJK.search(labels), labels
    assert "Disable" in labels and "Reset password" in labels
    page.screenshot(path=str(shots_dir / "admin-en.png"), full_page=True)


def test_admin_page_is_for_admins_only(admin_page: Any, admin_site: LiveServer) -> None:
    login_page(admin_page, admin_site.url, "reviewer")
    assert admin_page.locator("nav a[href='#/admin']").count() == 0
    admin_page.goto(admin_site.url + "/#/admin")
    admin_page.wait_for_selector(".banner.unplayable")  # the API answers 403, shown as an error
