"""Issue 11 points 6, 7, 9, 10, 11 in real Chromium against a real server: the evidence list
with server-side filters and original download, custody history on the item and case pages with
proofs checked in the browser, processing that updates the page by itself, uploads that read the
recording time from the file name, and the language test (English: no CJK in the chrome, the
case page or the player; Chinese: no English server message)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from livesite import login_page

from helpers import make_clip

CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
REC1 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def _ids(page: Any) -> set[str]:
    return set(
        page.eval_on_selector_all(
            "#evidence-table tr.evidence-row", "els => els.map(e => e.dataset.id)"
        )
    )


def _wait_rows(page: Any, expected: set[str]) -> None:
    page.wait_for_function(
        "ids => { const got = [...document.querySelectorAll('#evidence-table tr.evidence-row')].map(e => e.dataset.id).sort();"
        " return JSON.stringify(got) === JSON.stringify(ids); }",
        arg=sorted(expected),
    )


def test_evidence_list_filters_download_and_custody(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    page.click("#nav a[href='#/evidence']")
    page.wait_for_selector("#evidence-table tr.evidence-row")
    assert {site.cam1, site.cam2, site.broken} <= _ids(page)
    assert page.inner_text("#nav a[href='#/evidence']") == "音像记录"
    # Every filter input carries the API field as its name; the filter runs on the server.
    names = page.eval_on_selector_all("#evidence-filters [name]", "els => els.map(e => e.name)")
    assert {
        "officer_id",
        "unit",
        "device_id",
        "station_id",
        "recorded_from",
        "recorded_to",
        "kind",
        "status",
        "unlinked",
    } <= set(names)
    page.fill("input[name=device_id]", "CCTV07")
    page.click("[data-action='evidence-filter']")
    _wait_rows(page, {site.cam2})
    assert "device_id=CCTV07" in page.url
    page.fill("input[name=device_id]", "")
    page.fill("input[name=officer_id]", "0421")
    page.click("[data-action='evidence-filter']")
    _wait_rows(page, {site.cam1})
    page.fill("input[name=officer_id]", "")
    page.select_option(
        "select[name=status]", site.details[site.broken]["status"]
    )  # damaged or unplayable
    page.click("[data-action='evidence-filter']")
    _wait_rows(page, {site.broken})
    page.select_option("select[name=status]", "")
    # Not linked to any case: the two cameras are in the case, the cut clip is not.
    page.check("input[name=unlinked]")
    page.click("[data-action='evidence-filter']")
    page.wait_for_function("() => location.hash.includes('unlinked=1')")
    page.wait_for_selector("#evidence-table tr.evidence-row")
    ids = _ids(page)
    assert site.broken in ids and site.cam1 not in ids and site.cam2 not in ids
    page.uncheck("input[name=unlinked]")
    page.fill("input[name=recorded_from]", "2026-03-01")
    page.fill("input[name=recorded_to]", "2026-03-01")
    page.click("[data-action='evidence-filter']")
    page.wait_for_function("() => location.hash.includes('recorded_from=2026-03-01')")
    page.wait_for_selector(f"#evidence-table tr.evidence-row[data-id='{site.cam1}']")
    page.goto(f"{site.url}/#/evidence")
    page.wait_for_selector(f"#evidence-table tr.evidence-row[data-id='{site.cam1}']")
    # Which case an item is in shows on its row and leads to the case.
    assert "丽综执罚" in page.inner_text(f"tr.evidence-row[data-id='{site.cam1}'] td.ev-cases")
    assert page.inner_text(f"tr.evidence-row[data-id='{site.broken}'] td.ev-cases").strip() == ""
    page.screenshot(path=str(site.shots / "20-evidence-list.png"))

    # Download the original: the very bytes, and the server ledgers the act where it does so.
    with page.expect_download() as dl:
        page.click(f"tr.evidence-row[data-id='{site.cam1}'] [data-action='original-download']")
    path = dl.value.path()
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == site.details[site.cam1]["sha256"]
    assert dl.value.suggested_filename == site.details[site.cam1]["original_filename"]
    status, hist = site.server.request(
        "GET", f"/api/v1/evidence/{site.cam1}/custody", site.tokens["reviewer"]
    )
    reads = [
        e for e in hist["items"] if e["type"] == "view" and e["details"].get("what") == "original"
    ]
    assert (
        reads
        and reads[-1]["actor_username"] == "reviewer"
        and reads[-1]["summary"] == "获取原始文件"
    )

    # Custody history from the list row.
    page.click(f"tr.evidence-row[data-id='{site.cam1}'] [data-action='custody-open']")
    page.wait_for_selector("#custody-panel[data-loaded='1'] tr.custody-entry[data-seq]")
    types = page.eval_on_selector_all(
        "#custody-panel tr.custody-entry", "els => els.map(e => e.dataset.type)"
    )
    assert "link" in types, types


def test_custody_on_item_and_case_pages_with_proofs(page, site) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    page.goto(f"{site.url}/#/evidence/{site.cam1}?case={site.case_id}")
    page.wait_for_function("() => window.__firstFrameAt")
    page.wait_for_selector("#item-toolbar [data-action='custody-open']")
    assert page.locator("#item-toolbar [data-action='original-download']").count() == 1
    assert page.locator("#back-to-case").count() == 1
    page.screenshot(path=str(site.shots / "21-item-page.png"))
    page.click("#item-toolbar [data-action='custody-open']")
    page.wait_for_selector("#custody-panel[data-loaded='1'] tr.custody-entry[data-seq]")
    rows = page.eval_on_selector_all(
        "#custody-panel tr.custody-entry",
        "els => els.map(e => ({seq: Number(e.dataset.seq), type: e.dataset.type, text: e.innerText}))",
    )
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs)
    types = [r["type"] for r in rows]
    assert "link" in types and "view" in types, (
        types
    )  # linked to the case; played (playlist fetched)
    link = next(r for r in rows if r["type"] == "link")
    assert "关联案件" in link["text"] and "丽综执罚" in link["text"] and "调查取证" in link["text"]
    # The entry numbers are the ledger's, in the same order as the API gives them.
    status, body = site.server.request(
        "GET", f"/api/v1/evidence/{site.cam1}/custody", site.tokens["reviewer"]
    )
    assert status == 200 and [e["seq"] for e in body["items"]] == seqs
    # Check every entry's inclusion proof in the browser.
    for seq in seqs:
        page.click(
            f"#custody-panel tr.custody-entry[data-seq='{seq}'] [data-action='custody-proof']"
        )
        page.wait_for_selector(
            f"#custody-panel tr.custody-entry[data-seq='{seq}'] .proof-result[data-verified='1']"
        )
    page.screenshot(path=str(site.shots / "22-custody-item.png"))
    # A tampered proof fails the same check.
    bad = page.evaluate(
        """async (url) => {
          const { checkProof } = await import('/player/js/custody.js');
          const { api } = await import('/player/js/api.js');
          const p = await api(url);
          const good = checkProof(p, p.seq);
          const tampered = { ...p, entry_canonical: p.entry_canonical.replace('"seq":', '"seq": ') };
          const wrongPath = { ...p, proof: p.proof.map((x, i) => i === 0 ? x.replace(/^./, c => c === '0' ? '1' : '0') : x) };
          return { good, tampered: checkProof(tampered, p.seq), wrongPath: p.proof.length ? checkProof(wrongPath, p.seq) : false };
        }""",
        body["items"][0]["proof"],
    )
    assert bad == {"good": True, "tampered": False, "wrongPath": False}

    page.goto(f"{site.url}/#/cases/{site.case_id}")
    page.wait_for_selector("#stage-timeline")
    page.click("[data-action='custody-open']")
    page.wait_for_selector("#custody-panel[data-loaded='1'] tr.custody-entry[data-seq]")
    types = page.eval_on_selector_all(
        "#custody-panel tr.custody-entry", "els => els.map(e => e.dataset.type)"
    )
    assert types[0] == "case_change" and types.count("link") >= 2, types
    page.screenshot(path=str(site.shots / "23-custody-case.png"))
    page.click("[data-action='custody-close']")
    assert page.locator("#custody-panel").count() == 0


def test_processing_updates_the_pages_by_themselves(page, site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = site.server.add_item(
        make_clip(tmp_path / "DSJ009_20260301100000.mp4", seconds=2), REC1, device_id="DSJ009"
    )
    login_page(page, site.url)
    # The list: the item shows its processing state and turns ready without a reload.
    page.goto(f"{site.url}/#/evidence?device_id=DSJ009")
    row = f"#evidence-table tr.evidence-row[data-id='{item}']"
    page.wait_for_selector(f"{row}[data-status='received'] .proc")
    page.evaluate("() => { window.__noReload = true; }")
    status, _ = site.server.request(
        "POST", f"/api/v1/evidence/{item}/process", site.tokens["reviewer"]
    )
    assert status == 202
    page.wait_for_selector(f"{row}[data-status='ready']", timeout=90_000)
    assert page.evaluate("() => window.__noReload") is True  # same document: updated in place
    assert page.locator(f"{row} .proc").count() == 0
    page.wait_for_function("() => window.__custodianPolls === 0")

    # The item page: progress while processing, the player once ready, by itself.
    item2 = site.server.add_item(
        make_clip(tmp_path / "DSJ009_20260301100500.mp4", seconds=3), REC1, device_id="DSJ009"
    )
    page.goto(f"{site.url}/#/evidence/{item2}")
    page.wait_for_selector("#item-progress .proc")
    assert page.evaluate("() => window.__custodianPolls") == 1
    page.evaluate("() => { window.__noReload = true; }")
    status, _ = site.server.request(
        "POST", f"/api/v1/evidence/{item2}/process", site.tokens["reviewer"]
    )
    assert status == 202
    page.wait_for_function(
        "() => window.__firstFrameAt && document.querySelector('#video').readyState >= 2",
        timeout=90_000,
    )
    assert page.evaluate("() => window.__noReload") is True
    assert page.locator("#item-progress .proc").count() == 0
    # Leaving a page stops its polling.
    item3 = site.server.add_item(
        make_clip(tmp_path / "DSJ009_20260301101000.mp4", seconds=1), REC1, device_id="DSJ009"
    )
    page.goto(f"{site.url}/#/evidence/{item3}")
    page.wait_for_selector("#item-progress .proc")
    page.wait_for_function("() => window.__custodianPolls === 1")
    page.goto(f"{site.url}/#/cases")
    page.wait_for_selector("tr.case-row")
    page.wait_for_function("() => window.__custodianPolls === 0")


def test_upload_reads_time_from_name_and_updates_when_ready(page, site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip(tmp_path / "DSJ001_P12345_20260301093000.mp4", seconds=1, size="160x120")
    login_page(page, site.url, "reviewer")  # a reviewer uploads a phone video (README step 5)
    page.click("#nav a[href='#/upload']")
    page.wait_for_selector("#upload-file")
    page.set_input_files("#upload-file", str(clip))
    page.wait_for_selector("#upload-parsed[data-recorded-at='2026-03-01T01:30:00Z']")
    assert page.input_value("input[name=device_id]") == "DSJ001"
    assert page.input_value("input[name=officer_id]") == "P12345"
    # The datetime-local field holds that moment in the browser's own time zone.
    assert (
        page.evaluate(
            "() => new Date(document.querySelector('input[name=recorded_at]').value).toISOString()"
        )
        == "2026-03-01T01:30:00.000Z"
    )
    page.screenshot(path=str(site.shots / "24-upload-parsed.png"))
    page.click("#upload-start")
    link = page.wait_for_selector("#upload-item-link", timeout=30_000)
    item_id = link.get_attribute("href").rsplit("/", 1)[1]
    status, item = site.server.request(
        "GET", f"/api/v1/evidence/{item_id}", site.tokens["reviewer"]
    )
    assert status == 200 and item["recorded_at"] == "2026-03-01T01:30:00Z"
    assert item["device_id"] == "DSJ001" and item["officer_id"] == "P12345"
    status, hist = site.server.request(
        "GET", f"/api/v1/evidence/{item_id}/custody", site.tokens["reviewer"]
    )
    assert hist["items"][0]["type"] == "ingest" and hist["items"][0]["actor_username"] == "reviewer"
    # The recent list shows it and turns it ready by itself (the server queued its processing).
    page.wait_for_selector(
        f"#recent-items tr[data-id='{item_id}'][data-status='ready']", timeout=90_000
    )
    page.screenshot(path=str(site.shots / "25-upload-done.png"))


@pytest.fixture
def ascii_case(site) -> str:  # type: ignore[no-untyped-def]
    """A case whose own data are ASCII, so any CJK on its English page is interface text."""
    status, case = site.server.request(
        "POST",
        "/api/v1/cases",
        site.tokens["reviewer"],
        {
            "number": "EN-2026-1",
            "title": "Street vending check",
            "enforcement_type": "penalty",
            "procedure": "general",
            "parties": ["Zhang San"],
        },
    )
    if status == 409:
        status, case = site.server.request(
            "GET", "/api/v1/cases/EN-2026-1", site.tokens["reviewer"]
        )
    assert status in (200, 201), case
    status, body = site.server.request(
        "POST",
        f"/api/v1/cases/{case['id']}/links",
        site.tokens["reviewer"],
        {"evidence_id": site.cam2, "stage": "investigation"},
    )
    assert status in (200, 201, 409), body
    return str(case["id"])


def _visible_text(page: Any) -> str:
    """The header and main view as a user reads them, without the language switch (which names
    the other language in that language)."""
    return page.evaluate("""() => {
      const sw = document.getElementById('lang-switch');
      const keep = sw ? sw.textContent : null;
      if (sw) sw.textContent = '';
      const text = document.querySelector('header').innerText + '\\n' + document.getElementById('main').innerText
        + '\\n' + document.title;
      if (sw) sw.textContent = keep;
      return text;
    }""")


def test_language_english_has_no_cjk_and_chinese_has_no_english_server_text(
    page, site, ascii_case, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    login_page(page, site.url)
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    pages = [
        ("case", f"#/cases/{ascii_case}", "#stage-timeline li.stage-col", "26-case-en.png"),
        (
            "player",
            f"#/evidence/{site.cam2}",
            "#item-toolbar [data-action='custody-open']",
            "27-player-en.png",
        ),
        # (the other rows name the Chinese case: data, not interface text)
        (
            "evidence",
            "#/evidence?device_id=DSJ002",
            "#evidence-table tr.evidence-row",
            "28-evidence-en.png",
        ),
        ("upload", "#/upload", "#upload-file", None),
        ("cases", "#/cases", "tr.case-row", None),
    ]
    for name, hash_, ready, shot in pages:
        page.goto(f"{site.url}/{hash_}")
        page.wait_for_selector(ready)
        if name == "case":
            page.wait_for_selector("#findings")
            page.wait_for_selector("#unlinked table, #unlinked p")
        if name == "player":
            page.wait_for_function("() => window.__firstFrameAt")
            page.wait_for_selector("#bookmark-list li")
        text = _visible_text(page)
        if name == "cases":  # the list holds the other case's Chinese data; check only the chrome
            text = page.evaluate(
                "() => [...document.querySelectorAll('#nav a, #whoami, #logout, #brand, #main th, #main label, #main button, #main h2')].map(e => e.innerText).join(' ')"
            )
        found = sorted(set(CJK.findall(text)))
        assert not found, f"{name}: CJK in the English UI: {found} in {text!r}"
        if shot:
            page.screenshot(path=str(site.shots / shot))
    # English server messages reach the English UI as they are.
    page.goto(f"{site.url}/#/evidence/not-an-item-id")
    page.wait_for_selector("text=No evidence item")

    # Chinese: server errors are shown in Chinese, never as the English diagnostic.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    problems = [
        ("#/evidence/not-an-item-id", "未找到音像记录"),
        ("#/cases/NO-SUCH-CASE", "未找到"),
        ("#/evidence?kind=movie", "类型"),
        ("#/evidence?recorded_from=2026-13-45", "录制"),
    ]
    for hash_, expect in problems:
        page.goto(f"{site.url}/{hash_}")
        page.wait_for_selector(f"#main :text('{expect}')")
        main = page.inner_text("#main")
        english = [
            w for w in ENGLISH_WORD.findall(re.sub(r"“[^”]*”", "", main)) if w not in ("SHA",)
        ]
        assert not english, f"{hash_}: English in the Chinese UI: {english} in {main!r}"
        assert "no evidence item" not in main.lower() and "query parameter" not in main
    # An upload the server refuses (an empty file) is explained in Chinese too.
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    page.goto(f"{site.url}/#/upload")
    page.set_input_files("#upload-file", str(empty))
    page.click("#upload-start")
    page.wait_for_function(
        "() => document.querySelector('#upload-status').textContent.startsWith('上传失败')"
    )
    status = page.inner_text("#upload-status")
    assert CJK.search(status.split("：", 1)[-1]) and not ENGLISH_WORD.search(
        re.sub(r"\(HTTP \d+\)", "", status)
    ), status
