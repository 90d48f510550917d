"""The supervision view and 抽查 in real Chromium against a real server (no footage needed):
numbers drill down to the cases behind them and on to the case page; the hand-drawn SVG charts
drill down too; the language switch; scoring a sampled case and issuing a 责令限期整改.
Screenshots at 1366x768 go to tests/player/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from livesite import LiveServer, live_settings, login_page

from helpers import PASSWORD

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _at(minutes: float, base: datetime = T0) -> str:
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def sv_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from server.catalogue.models import Agency, Officer
    from server.people.accounts import add_user

    root = tmp_path_factory.mktemp("supervision-site")
    server = LiveServer(live_settings(root / "data")).start()
    try:
        server.add_users()

        def setup(s: Any) -> dict[str, int]:
            from sqlalchemy import select

            add_user(s, "supervisor", PASSWORD, "supervisor", None)
            add_user(s, "reviewer2", PASSWORD, "reviewer", "A1")
            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            s.add_all(
                [
                    Officer(agency_id=a1.id, code="JZ001", name="王明", certificate_no="33110001"),
                    Officer(agency_id=a1.id, code="JZ002", name="李华", certificate_no="33110002"),
                ]
            )
            from server.catalogue.models import User

            return {u.username: u.id for u in s.scalars(select(User))}

        uid = server.db.call(setup)
        tok = {u: server.login(u) for u in ("officer", "reviewer", "legal", "supervisor")}

        def call(method: str, path: str, body: Any = None, who: str = "officer") -> Any:
            status, out = server.request(method, path, tok[who], body)
            assert status in (200, 201), (path, status, out)
            return out

        def case(number: str, minutes: float, **kw: Any) -> dict[str, Any]:
            body = {
                "number": number,
                "title": kw.pop("title", "占道经营检查"),
                "enforcement_type": kw.pop("enforcement_type", "inspection"),
                "procedure": kw.pop("procedure", "general"),
                "opened_at": _at(minutes),
                "officers": ["JZ001", "JZ002"],
                **kw,
            }
            return call("POST", "/api/v1/cases", body)

        # March: an inspection missing its initiation approval and transcript (Art. 8, 11)
        missing = case("丽综执检〔2026〕1号", 0)
        call("POST", f"/api/v1/cases/{missing['id']}/stage", {"stage": "decision"})
        good = case("丽综执检〔2026〕2号", 60)
        # an approval is requested, then decided by each named person at server time
        req = call(
            "POST",
            f"/api/v1/cases/{good['id']}/approvals",
            {
                "kind": "initiation",
                "reviewer_id": uid["reviewer"],
                "approver_id": uid["legal"],
                "reason": "巡查发现",
                "party": "某商户",
                "handler_opinion": "建议立案",
                "unit_opinion": "同意",
                "legal_basis": "《条例》第十条",
            },
        )
        for who in ("reviewer", "legal"):
            call("POST", f"/api/v1/approvals/{req['id']}/decision", {"decision": "approve"}, who)
        # April: a disputed simple-procedure penalty with no recording (Art. 17) and a
        # 排除妨碍 with no recording (Art. 21)
        case(
            "丽综执罚〔2026〕3号",
            60 * 24 * 31,
            procedure="simple",
            disputed=True,
            enforcement_type="penalty",
        )
        ex = case("丽综执强〔2026〕4号", 60 * 24 * 32, enforcement_type="coercion")
        call(
            "POST",
            f"/api/v1/cases/{ex['id']}/records",
            {
                "doc_type": "enforcement_record",
                "time": _at(60 * 24 * 40),
                "end_time": _at(60 * 24 * 40 + 19),
                "execution_type": "remove_obstruction",
                "signature_status": "signed",
            },
        )
        # three archived simple cases for the 抽查
        archived = []
        for i in range(3):
            c = case(
                f"丽综执简〔2026〕{10 + i}号",
                60 * 24 * 33 + i,
                procedure="simple",
                enforcement_type="penalty",
            )
            call(
                "POST",
                f"/api/v1/cases/{c['id']}/records",
                {
                    "doc_type": "simple_procedure_record",
                    "time": _at(60 * 24 * 33 + i + 5),
                    "signature_status": "signed",
                    "fields": {
                        "fact_basis": "当场发现",
                        "legal_basis": "第十条",
                        "statement_waived": True,
                    },
                },
            )
            call(
                "POST",
                f"/api/v1/cases/{c['id']}/records",
                {"doc_type": "file_catalogue", "time": _at(60 * 24 * 33 + i + 9)},
            )
            call("POST", f"/api/v1/cases/{c['id']}/stage", {"stage": "archiving"})
            archived.append(c)
        spot = call(
            "POST",
            "/api/v1/spot-checks",
            {"agency": "A1", "size": 2, "seed": "ui-1"},
            who="supervisor",
        )
        yield {"server": server, "url": server.url, "missing": missing, "spot": spot, "call": call}
    finally:
        server.stop()


@pytest.fixture
def spage(browser: Any, sv_site: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_supervision_numbers_drill_down_to_the_case(spage, sv_site, shots_dir: Path) -> None:  # type: ignore[no-untyped-def]
    page, url = spage, sv_site["url"]
    login_page(page, url, "supervisor")
    page.goto(url + "/#/supervision")
    page.wait_for_selector("section.agency[data-agency=A1]")
    assert page.locator("#nav a[href='#/supervision']").inner_text() == "执法监督"
    # the SVG charts are drawn: one bar per article with findings, one per month
    assert page.locator("section[data-agency=A1] svg.chart g.bar[data-article]").count() >= 3
    months = page.locator("section[data-agency=A1] svg.chart g.bar[data-month]")
    assert months.count() == 2
    assert "未制定本机关记录制度" in page.locator("#packs-not-filed").inner_text()
    page.screenshot(path=str(shots_dir / "sv-01-supervision.png"))
    page.screenshot(path=str(shots_dir / "sv-02-supervision-full.png"), full_page=True)

    # the exports download from the page (bearer token, no inline script)
    with page.expect_download() as dl:
        page.click("[data-action=supervision-export-xlsx]")
    import io

    import openpyxl

    assert dl.value.suggested_filename == "supervision.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    assert book.sheetnames[0] == "汇总" and book["汇总"]["A1"].value == "机关代码"
    with page.expect_download() as dl:
        page.click("[data-action=supervision-export-articles]")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("机关代码,条款") and sv_site["missing"]["number"] in text

    # a number in the per-article table: Art. 8 -> the case behind it -> its case page
    page.click("[data-drill='A1-art-8']")
    drill = page.locator("#drill")
    drill.wait_for(state="visible")
    assert "第8条" in drill.inner_text()
    links = drill.locator("a.case-link")
    assert links.all_inner_texts() == [sv_site["missing"]["number"]]
    page.screenshot(path=str(shots_dir / "sv-03-drill.png"))
    links.first.click()
    page.wait_for_selector("#case-title")
    assert page.url.endswith(f"#/cases/{sv_site['missing']['id']}")
    assert sv_site["missing"]["number"] in page.locator("#case-title").inner_text()
    page.wait_for_selector("#findings li.finding")
    assert "程序启动审批表" in page.locator("#findings").inner_text()
    page.screenshot(path=str(shots_dir / "sv-04-case-from-drill.png"))

    # a bar of the chart drills down as well (Art. 21: the execution with no recording)
    page.go_back()
    page.wait_for_selector("section.agency[data-agency=A1]")
    page.click("section[data-agency=A1] svg.chart g.bar[data-article='21']")
    assert "丽综执强〔2026〕4号" in page.locator("#drill").inner_text()
    exec_table = page.locator("#exec-A1").inner_text()
    assert "丽综执强〔2026〕4号" in exec_table and "0.0%" in exec_table

    # English: the same view with no Chinese interface labels left
    page.click("#lang-switch")
    page.wait_for_selector("text=Supervision of whole-process recording")
    head = page.locator("section[data-agency=A1] .kpis").inner_text()
    assert "Cases" in head and "案件" not in head
    assert "Art. 8" in page.locator("#articles-A1").inner_text()
    page.screenshot(path=str(shots_dir / "sv-05-supervision-en.png"))
    page.click("#lang-switch")


def test_spot_check_scoring_and_order_in_the_browser(spage, sv_site, shots_dir: Path) -> None:  # type: ignore[no-untyped-def]
    page, url, spot = spage, sv_site["url"], sv_site["spot"]
    login_page(page, url, "supervisor")
    page.goto(url + "/#/supervision")
    page.wait_for_selector(f"#spot-table tr[data-id='{spot['id']}']")
    page.click(f"#spot-table tr[data-id='{spot['id']}'] a.spot-link")
    page.wait_for_selector("#spot-seed")
    assert page.locator("#spot-seed").inner_text() == "ui-1"
    first = spot["cases"][0]["case_id"]
    box = page.locator(f"details.spot-case[data-case='{first}']")
    box.locator("summary").click()
    row = box.locator("tr[data-item='rule:art17-simple-record-content']")
    row.locator("select").select_option("fail")
    box.locator("textarea[name=note]").fill("事实依据过于简单")
    page.screenshot(path=str(shots_dir / "sv-06-spot-check.png"))
    box.locator("[data-action=spot-score]").click()
    page.wait_for_function(
        f"() => {{ const b = document.querySelector(\"details.spot-case[data-case='{first}'] b.score\");"
        " return b && b.textContent !== '—'; }"
    )
    deadline = (datetime.now(UTC) + timedelta(days=15)).strftime("%Y-%m-%d")
    page.fill("#order-form input[name=deadline]", deadline)
    page.fill("#order-form textarea[name=requirement]", "十五日内补正简易程序记录")
    page.click("[data-action=order-issue]")
    page.wait_for_selector("#order-table tr[data-id]")
    assert "待整改" in page.locator("#order-table").inner_text()
    page.screenshot(path=str(shots_dir / "sv-07-order.png"))

    # the agency's legal office answers in its own session
    page.evaluate("() => sessionStorage.clear()")
    login_page(page, url, "legal")
    page.goto(url + f"/#/supervision/spot/{spot['id']}")
    page.wait_for_selector("#order-table textarea[name=response]")
    page.fill("#order-table textarea[name=response]", "已补正并组织培训")
    page.click("[data-action=order-respond]")
    page.wait_for_function(
        "() => { const t = document.querySelector('#order-table');"
        " return t && t.textContent.includes('已整改'); }"
    )
    page.screenshot(path=str(shots_dir / "sv-08-answered.png"))
