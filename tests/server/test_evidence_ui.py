"""Issue 11 points 6, 7, 9, 10, 11 over HTTP against the real app: custody history (roles,
agency, order, inclusion proofs), evidence list filters and the "linked to no case" semantics,
processing state in the list, error messages per Accept-Language, browser uploads by reviewers
(ledgered) and the file-name rules shared with the station agent."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from helpers import PASSWORD, app_db, bearer
from ingest.naming import from_name, load_naming
from integrity import merkle
from server.catalogue.models import EvidenceItem, LedgerRow
from server.messages import MESSAGES, negotiate, render

TUS = {"Tus-Resumable": "1.0.0"}
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
# An English word of three letters or more; Chinese messages may hold identifiers in quotes only.
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


def _meta(**kv: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in kv.items())


async def upload(client, token: str, data: bytes, filename: str, **meta: str) -> str:  # type: ignore[no-untyped-def]
    """One whole upload (tus creation-with-upload); returns the evidence id."""
    r = await client.post(
        "/api/v1/uploads/",
        data=data,
        headers={
            **TUS,
            **bearer(token),
            "Upload-Length": str(len(data)),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Metadata": _meta(
                filename=filename, sha256=hashlib.sha256(data).hexdigest(), **meta
            ),
        },
    )
    assert r.status == 201, await r.text()
    return r.headers["Custodian-Evidence-Id"]


async def get(client, token: str, url: str, status: int = 200, lang: str | None = None) -> Any:  # type: ignore[no-untyped-def]
    headers = bearer(token) if token else {}
    if lang:
        headers["Accept-Language"] = lang
    r = await client.get(url, headers=headers)
    assert r.status == status, (url, r.status, await r.text())
    return await r.json()


async def post(
    client, token: str, url: str, body: Any, status: int | tuple[int, ...] = (200, 201)
) -> Any:  # type: ignore[no-untyped-def]
    r = await client.post(url, json=body, headers=bearer(token))
    allowed = status if isinstance(status, tuple) else (status,)
    assert r.status in allowed, (url, r.status, await r.text())
    return await r.json()


async def new_case(client, token: str, number: str) -> str:  # type: ignore[no-untyped-def]
    body = await post(
        client,
        token,
        "/api/v1/cases",
        {
            "number": number,
            "title": "custody",
            "enforcement_type": "penalty",
            "procedure": "general",
        },
    )
    return str(body["id"])


# -- custody history ----------------------------------------------------------------------------
async def test_item_custody_in_order_for_readers_of_the_agency(client, users) -> None:  # type: ignore[no-untyped-def]
    item = await upload(
        client, users["officer"], b"custody bytes " * 50, "DSJ001_P7_20240305143000.mp4"
    )
    case = await new_case(client, users["reviewer"], "CUST-1")
    await post(
        client,
        users["reviewer"],
        f"/api/v1/cases/{case}/links",
        {"evidence_id": item, "stage": "investigation"},
    )
    await post(
        client,
        users["reviewer"],
        f"/api/v1/evidence/{item}/bookmarks",
        {"time_s": 0.5, "note": "门口"},
    )
    # A playback view is ledgered by the server (the playlist is fetched once per session).
    r = await client.get(
        f"/api/v1/evidence/{item}/hls/index.m3u8", headers=bearer(users["reviewer"])
    )
    assert r.status in (200, 404)

    zh = await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody")
    types = [e["type"] for e in zh["items"]]
    assert types[0] == "ingest" and "link" in types and "annotation" in types, types
    seqs = [e["seq"] for e in zh["items"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Every entry about the item is there, and nothing else.
    rows = app_db(client).call(
        lambda s: [
            r.seq
            for r in s.scalars(
                select(LedgerRow)
                .where(LedgerRow.subject == f"evidence:{item}")
                .order_by(LedgerRow.seq)
            )
        ]
    )
    assert seqs == rows
    first = zh["items"][0]
    assert first["actor_username"] == "officer" and first["type_label"] == "接收入库"
    assert "DSJ001_P7_20240305143000.mp4" in first["summary"]
    link = next(e for e in zh["items"] if e["type"] == "link")
    assert "CUST-1" in link["summary"] and "调查取证" in link["summary"]
    assert first["proof"] == f"/api/v1/evidence/{item}/custody/{first['seq']}/proof"
    en = await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody", lang="en")
    assert [e["type_label"] for e in en["items"]][0] == "Ingest"
    assert not any(CJK.search(e["type_label"]) for e in en["items"])
    assert "Investigation" in next(e for e in en["items"] if e["type"] == "link")["summary"]

    # Readers of the agency may read it; another agency may not; the auditors may.
    for role in ("officer", "legal", "supervisor", "auditor", "admin"):
        body = await get(client, users[role], f"/api/v1/evidence/{item}/custody")
        assert [e["seq"] for e in body["items"]] == seqs, role
    for role in ("officer2", "reviewer2"):
        r = await client.get(f"/api/v1/evidence/{item}/custody", headers=bearer(users[role]))
        assert r.status in (403, 404), role
        r = await client.get(
            f"/api/v1/evidence/{item}/custody/{seqs[0]}/proof", headers=bearer(users[role])
        )
        assert r.status in (403, 404), role
    r = await client.get(f"/api/v1/evidence/{item}/custody", headers=bearer(users["station"]))
    assert r.status == 403
    await get(client, users["reviewer"], "/api/v1/evidence/nope/custody", status=404)

    # Pages: after= and limit= walk the same entries.
    page1 = await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody?limit=1")
    assert [e["seq"] for e in page1["items"]] == seqs[:1] and page1["next"] == str(seqs[0])
    page2 = await get(
        client, users["reviewer"], f"/api/v1/evidence/{item}/custody?after={page1['next']}"
    )
    assert [e["seq"] for e in page2["items"]] == seqs[1:]
    await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody?after=x", status=400)


async def test_custody_proofs_verify_and_refuse_other_entries(client, users) -> None:  # type: ignore[no-untyped-def]
    item = await upload(client, users["officer"], b"proof bytes " * 40, "p.mp4")
    other = await upload(client, users["officer"], b"other bytes " * 40, "q.mp4")
    hist = await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody")
    for e in hist["items"]:
        p = await get(client, users["reviewer"], e["proof"])
        leaf = merkle.leaf_hash(p["entry_canonical"].encode())
        assert leaf.hex() == p["leaf_hash"] and p["seq"] == e["seq"]
        assert merkle.verify_inclusion(
            leaf,
            p["leaf_index"],
            p["tree_size"],
            [bytes.fromhex(x) for x in p["proof"]],
            bytes.fromhex(p["tree_head"]["root"]),
        )
    other_seq = (await get(client, users["reviewer"], f"/api/v1/evidence/{other}/custody"))[
        "items"
    ][0]["seq"]
    await get(
        client, users["reviewer"], f"/api/v1/evidence/{item}/custody/{other_seq}/proof", status=404
    )
    # The reviewer still cannot read the whole ledger.
    await get(client, users["reviewer"], f"/api/v1/ledger/{other_seq}/proof", status=403)


async def test_case_custody_has_its_entries_and_its_links(client, users) -> None:  # type: ignore[no-untyped-def]
    item = await upload(client, users["officer"], b"case custody " * 30, "c.mp4")
    case = await new_case(client, users["reviewer"], "CUST-2")
    other_case = await new_case(client, users["reviewer"], "CUST-3")
    link = await post(
        client,
        users["reviewer"],
        f"/api/v1/cases/{case}/links",
        {"evidence_id": item, "stage": "investigation"},
    )
    await post(
        client,
        users["reviewer"],
        f"/api/v1/cases/{other_case}/links",
        {"evidence_id": item, "stage": "initiation"},
    )
    r = await client.delete(
        f"/api/v1/cases/{case}/links/{link['id']}",
        headers=bearer(users["reviewer"]),
        json={"reason": "wrong case"},
    )
    assert r.status in (200, 204), await r.text()
    await post(
        client,
        users["reviewer"],
        f"/api/v1/cases/{other_case}/records",
        {"doc_type": "acceptance_notice", "title": "受理", "time": "2026-03-02T01:00:00Z"},
    )
    body = await get(client, users["legal"], f"/api/v1/cases/{case}/custody")
    types = [e["type"] for e in body["items"]]
    assert types[0] == "case_change" and types[1:] == ["link", "unlink"], types
    # A record is named by the rule pack's label of its document type, in the caller's language.
    rec = [
        e
        for e in (await get(client, users["legal"], f"/api/v1/cases/{other_case}/custody"))["items"]
        if e["type"] == "record"
    ]
    assert rec and rec[0]["summary"].startswith("受理通知书"), rec
    rec_en = [
        e
        for e in (
            await get(client, users["legal"], f"/api/v1/cases/{other_case}/custody", lang="en")
        )["items"]
        if e["type"] == "record"
    ]
    assert (
        rec_en[0]["summary"].startswith("Acceptance notice") and rec_en[0]["type_label"] == "Record"
    )
    assert all(e["details"].get("case", case) == case for e in body["items"])
    other = await get(client, users["legal"], f"/api/v1/cases/{other_case}/custody")
    assert [e["type"] for e in other["items"]] == ["case_change", "link", "record"]
    # By case number too; another agency cannot.
    by_number = await get(client, users["legal"], "/api/v1/cases/CUST-2/custody")
    assert [e["seq"] for e in by_number["items"]] == [e["seq"] for e in body["items"]]
    r = await client.get(f"/api/v1/cases/{case}/custody", headers=bearer(users["reviewer2"]))
    assert r.status in (403, 404)
    p = await get(client, users["officer"], body["items"][1]["proof"])
    assert p["seq"] == body["items"][1]["seq"]
    await get(
        client,
        users["officer"],
        f"/api/v1/cases/{other_case}/custody/{body['items'][0]['seq']}/proof",
        status=404,
    )


# -- evidence list --------------------------------------------------------------------------------
async def _stamp(client, item: str, **fields: Any) -> None:  # type: ignore[no-untyped-def]
    def do(s):  # type: ignore[no-untyped-def]
        it = s.get(EvidenceItem, item)
        for k, v in fields.items():
            setattr(it, k, v)

    await app_db(client).run(do)


async def test_evidence_filters_on_the_server(client, users) -> None:  # type: ignore[no-untyped-def]
    tok = users["reviewer"]
    a = await upload(client, users["officer"], b"a" * 500, "DSJ001_P1_20240305143000.mp4")
    b = await upload(client, users["officer"], b"b" * 500, "CCTV07_20240306090000.mp4")
    c = await upload(client, users["officer"], b"c" * 500, "scan.pdf")
    await _stamp(
        client,
        a,
        device_id="DSJ001",
        officer_id="P1",
        station_id="ST1",
        status="ready",
        recorded_at=datetime(2024, 3, 5, 6, 30, tzinfo=UTC),
    )
    await _stamp(
        client,
        b,
        device_id="CCTV07",
        officer_id=None,
        station_id="ST2",
        status="damaged",
        recorded_at=datetime(2024, 3, 6, 1, 0, tzinfo=UTC),
    )
    await _stamp(client, c, kind="document", status="stored", recorded_at=None)

    async def ids(query: str) -> set[str]:
        return {i["id"] for i in (await get(client, tok, f"/api/v1/evidence?{query}"))["items"]}

    assert await ids("") == {a, b, c}
    assert await ids("officer_id=P1") == {a}
    assert await ids("device_id=CCTV07") == {b}
    assert await ids("device=CCTV07") == {b}
    assert await ids("station_id=ST1") == {a}
    assert await ids("kind=document") == {c}
    assert await ids("kind=video,document") == {a, b, c}
    assert await ids("status=damaged") == {b}
    assert await ids("status=ready,stored") == {a, c}
    assert await ids("recorded_from=2024-03-05T06:30:00Z") == {a, b}
    assert await ids(
        "recorded_from=2024-03-05T07:00:00%2B08:00&recorded_to=2024-03-05T23:59:59Z"
    ) == {a}
    assert await ids("recorded_from=2024-03-06&recorded_to=2024-03-06") == {b}
    assert await ids("filename=cctv") == {b} or await ids("filename=CCTV") == {b}
    assert await ids("officer_id=P1&status=damaged") == set()
    assert await ids(f"ids={a},{c}") == {a, c}
    # Another agency sees none of them, whatever the filter.
    assert {
        i["id"]
        for i in (await get(client, users["officer2"], "/api/v1/evidence?device_id=DSJ001"))[
            "items"
        ]
    } == set()
    for bad in (
        "kind=movie",
        "status=lost",
        "recorded_from=yesterday",
        "recorded_to=2024-03-05T10:00:00",
        "unlinked=maybe",
        "limit=x",
        "officer_id=" + "x" * 101,
    ):
        r = await client.get(
            f"/api/v1/evidence?{bad}", headers={**bearer(tok), "Accept-Language": "zh-CN"}
        )
        body = await r.json()
        assert r.status == 400 and body["code"] == "bad_query" and body["params"]["field"], (
            bad,
            body,
        )
        assert CJK.search(body["message"]) and not ENGLISH_WORD.search(
            body["message"].split("“")[0]
        ), body


async def test_unlinked_means_linked_to_no_case(client, users) -> None:  # type: ignore[no-untyped-def]
    tok = users["reviewer"]
    free = await upload(client, users["officer"], b"free" * 100, "free.mp4")
    taken = await upload(client, users["officer"], b"taken" * 100, "taken.mp4")
    case_a = await new_case(client, tok, "UL-A")
    await new_case(client, tok, "UL-B")
    link = await post(
        client,
        tok,
        f"/api/v1/cases/{case_a}/links",
        {"evidence_id": taken, "stage": "investigation"},
    )

    async def unlinked() -> set[str]:
        return {i["id"] for i in (await get(client, tok, "/api/v1/evidence?unlinked=1"))["items"]}

    # Seen from case B's page, the item linked to case A is not offered as unlinked.
    assert await unlinked() == {free}
    rows = {i["id"]: i for i in (await get(client, tok, "/api/v1/evidence"))["items"]}
    assert [c["number"] for c in rows[taken]["cases"]] == ["UL-A"] and rows[free]["cases"] == []
    r = await client.delete(
        f"/api/v1/cases/{case_a}/links/{link['id']}", headers=bearer(tok), json={"reason": "wrong"}
    )
    assert r.status in (200, 204)
    assert await unlinked() == {free, taken}
    assert (await get(client, tok, f"/api/v1/evidence?ids={taken}"))["items"][0]["cases"] == []
    assert {i["id"] for i in (await get(client, tok, "/api/v1/evidence?unlinked=0"))["items"]} == {
        free,
        taken,
    }


async def test_list_carries_processing_progress_of_pending_items(client, users) -> None:  # type: ignore[no-untyped-def]
    item = await upload(client, users["officer"], b"pending" * 100, "pending.mp4")
    body = await get(client, users["reviewer"], f"/api/v1/evidence?ids={item}")
    it = body["items"][0]
    if it["status"] in ("received", "processing"):
        assert (
            it["job"]["state"] in ("queued", "running", "done", "failed")
            and 0 <= it["job"]["progress"] <= 1
        )
    await _stamp(client, item, status="ready")
    it = (await get(client, users["reviewer"], f"/api/v1/evidence?ids={item}"))["items"][0]
    assert "job" not in it


# -- messages per language -----------------------------------------------------------------------
def test_negotiate_and_render() -> None:
    assert (
        negotiate(None) == "zh-CN"
        and negotiate("en") == "en"
        and negotiate("en-US,en;q=0.9") == "en"
    )
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN" and negotiate("fr") == "zh-CN"
    assert negotiate("fr;q=1, en;q=0.5, zh;q=0.2") == "en"
    assert render("not_found", {"what": "evidence", "ref": "x1"}, "zh-CN") == "未找到音像记录“x1”"
    assert render("not_found", {"what": "evidence", "ref": "x1"}, "en") == "No evidence item “x1”"
    assert (
        render("forbidden", {"role": "officer", "action": "ledger.read"}, "zh-CN")
        == "执法人员无权查看留痕记录"
    )
    # A missing parameter or an unknown code never gives English in Chinese.
    assert render("not_found", {}, "zh-CN", status=404) == "未找到所请求的内容"
    assert (
        render("some_new_code", {}, "zh-CN", status=409, fallback="english text")
        == "操作与当前状态冲突"
    )
    assert render("some_new_code", {}, "en", status=409, fallback="english text") == "english text"
    for code, texts in MESSAGES.items():
        assert set(texts) == {"zh-CN", "en"}, code
        assert CJK.search(texts["zh-CN"]) and not CJK.search(texts["en"]), code
        words = set(ENGLISH_WORD.findall(re.sub(r"\{[^}]*\}", "", texts["zh-CN"]))) - {"SHA"}
        assert not words, (code, texts["zh-CN"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_error_messages_follow_accept_language(client, users, lang) -> None:  # type: ignore[no-untyped-def]
    item = await upload(client, users["officer"], b"lang" * 100, "lang.mp4")
    h = {"Accept-Language": lang}
    calls = [
        ("GET", "/api/v1/evidence/none-such", users["reviewer"], None, 404, "not_found"),
        ("GET", "/api/v1/ledger", users["reviewer"], None, 403, "forbidden"),
        ("GET", f"/api/v1/evidence/{item}", users["officer2"], None, (403, 404), None),
        ("POST", "/api/v1/cases", users["reviewer"], {"title": "x"}, 400, "bad_field"),
        ("POST", "/api/v1/cases", users["reviewer"], ["not", "an", "object"], 400, "bad_json"),
        ("GET", "/api/v1/evidence", "", None, 401, "unauthorized"),
        ("GET", "/api/v1/nothing-here", users["reviewer"], None, 404, "not_found"),
        ("GET", "/api/v1/evidence?limit=ten", users["reviewer"], None, 400, "bad_query"),
        ("GET", "/api/v1/cases/NOPE-1", users["reviewer"], None, 404, "not_found"),
    ]
    number = "LANG-1"
    await new_case(client, users["reviewer"], number)
    calls.append(
        (
            "POST",
            "/api/v1/cases",
            users["reviewer"],
            {"number": number, "title": "t", "enforcement_type": "penalty", "procedure": "general"},
            409,
            None,
        )
    )
    for method, url, tok, body, status, code in calls:
        headers = {**h, **(bearer(tok) if tok else {})}
        r = await client.request(method, url, json=body, headers=headers)
        data = await r.json()
        statuses = status if isinstance(status, tuple) else (status,)
        assert r.status in statuses, (url, r.status, data)
        assert data["error"] and data["code"] and data["message"], data
        if code:
            assert data["code"] == code, data
        if lang == "zh-CN":
            assert CJK.search(data["message"]), data
            # No English words outside quoted identifiers/data.
            assert not ENGLISH_WORD.search(re.sub(r"“[^”]*”", "", data["message"])), data
        else:
            assert not CJK.search(data["message"]), data
    # tus errors carry the message too.
    r = await client.post(
        "/api/v1/uploads/",
        headers={
            **TUS,
            **h,
            **bearer(users["auditor"]),
            "Upload-Length": "4",
            "Upload-Metadata": _meta(filename="a.bin"),
        },
    )
    data = await r.json()
    assert r.status == 403 and data["code"] == "forbidden"
    assert bool(CJK.search(data["message"])) == (lang == "zh-CN")


# -- reviewer upload and file names -----------------------------------------------------------------
async def test_reviewer_uploads_a_phone_video_and_it_is_ledgered(client, users) -> None:  # type: ignore[no-untyped-def]
    data = b"phone video " * 80
    item = await upload(
        client,
        users["reviewer"],
        data,
        "VID_20240305_143000.mp4",
        recorded_at="2024-03-05T06:30:00Z",
    )
    it = await get(client, users["reviewer"], f"/api/v1/evidence/{item}")
    assert (
        it["sha256"] == hashlib.sha256(data).hexdigest()
        and it["recorded_at"] == "2024-03-05T06:30:00Z"
    )
    hist = await get(client, users["reviewer"], f"/api/v1/evidence/{item}/custody")
    first = hist["items"][0]
    assert first["type"] == "ingest" and first["actor_username"] == "reviewer"
    assert first["details"]["sha256"] == it["sha256"]
    # Legal staff may upload too; supervisors and auditors may not.
    await upload(client, users["legal"], b"legal upload " * 10, "legal.mp4")
    for role in ("supervisor", "auditor"):
        r = await client.post(
            "/api/v1/uploads/",
            headers={
                **TUS,
                **bearer(users[role]),
                "Upload-Length": "4",
                "Upload-Metadata": _meta(filename="x.mp4"),
            },
        )
        assert r.status == 403, role


AGENT_NAMES = [
    "DSJ001_P12345_20240305143000.mp4",
    "20240305143000.mp4",
    "NVR-20240305-143000-ch01.dav",
    "holiday.mp4",
    "DSJ001_P1_20241399999999.mp4",
    "VID_20240305_143000.mp4",
    "phone_VID_20260301_0930.mp4",
    "DSJ002_cut.mp4",
    "执法记录 2024.mp4",
]


async def test_name_parsing_agrees_with_the_station_agent(client, users) -> None:  # type: ignore[no-untyped-def]
    naming = load_naming()
    for name in AGENT_NAMES:
        body = await post(client, users["reviewer"], "/api/v1/naming/parse", {"name": name})
        got = {k: v for k, v in body.items() if k != "name"}
        assert got == from_name(name, naming), name
    body = await post(
        client,
        users["officer"],
        "/api/v1/naming/parse",
        {"name": "DSJ001_P12345_20240305143000.mp4"},
    )
    assert body["recorded_at"] == "2024-03-05T06:30:00Z" and body["device_id"] == "DSJ001"
    await post(client, users["reviewer"], "/api/v1/naming/parse", {"name": ""}, status=400)
    await post(client, users["reviewer"], "/api/v1/naming/parse", {"name": "x" * 1001}, status=400)
    await post(client, users["supervisor"], "/api/v1/naming/parse", {"name": "a.mp4"}, status=403)


# -- the custody queries on both catalogues -------------------------------------------------------
def test_custody_queries_on_sqlite_and_postgres(db) -> None:  # type: ignore[no-untyped-def]
    """Items and cases with ids that are LIKE wildcards, exports that carried an item, links
    seen from the case: the same answers on both databases."""
    from server.access import Principal
    from server.catalogue.models import Case, CaseLink, StoredObject
    from server.custody.history import case_custody, item_custody
    from server.custody.ledger import append
    from server.people.accounts import add_agency, add_user

    def setup(s):  # type: ignore[no-untyped-def]
        a1 = add_agency(s, "A1", "Agency one")
        add_agency(s, "A2", "Agency two")
        rev = add_user(s, "rev", PASSWORD, "reviewer", "A1", display_name="审核员")
        items = []
        for n, item_id in enumerate(
            ("item_1", "item%1", "itemA1")
        ):  # "_" and "%" are LIKE wildcards
            key = hashlib.sha256(item_id.encode()).hexdigest()
            s.add(StoredObject(sha256=key, size=1, role="original"))
            s.flush()
            s.add(
                EvidenceItem(
                    id=item_id,
                    sha256=key,
                    size=1,
                    kind="video",
                    original_filename=f"{n}.mp4",
                    agency_id=a1.id,
                )
            )
            s.flush()
            append(
                s,
                actor=f"user:{rev.id}:rev",
                action="ingest",
                subject=f"evidence:{item_id}",
                details={"sha256": key, "filename": f"{n}.mp4", "size": 1},
            )
            items.append(item_id)
        case = Case(
            id="case_1",
            agency_id=a1.id,
            number="N-1",
            title="t",
            enforcement_type="penalty",
            procedure="general",
        )
        other = Case(
            id="caseA1",
            agency_id=a1.id,
            number="N-2",
            title="t",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add_all([case, other])
        s.flush()
        append(
            s,
            actor="system",
            action="case_change",
            subject="case:case_1",
            details={"event": "opened"},
        )
        for item_id in ("item_1", "itemA1"):
            s.add(CaseLink(case_id="case_1", item_id=item_id, stage="investigation"))
            append(
                s,
                actor=f"user:{rev.id}:rev",
                action="link",
                subject=f"evidence:{item_id}",
                details={"case": "case_1", "number": "N-1", "stage": "investigation"},
            )
        append(
            s,
            actor="system",
            action="link",
            subject="evidence:item%1",
            details={"case": "caseA1", "number": "N-2", "stage": "initiation"},
        )
        append(
            s,
            actor=f"user:{rev.id}:rev",
            action="export",
            subject="case:case_1",
            details={
                "case_id": "case_1",
                "recipient": "法院",
                "purpose": "诉讼",
                "items": [{"item_id": "item_1", "sha256": "0" * 64}],
                "clips": [],
            },
        )
        append(
            s, actor="system", action="fixity_scrub", subject="evidence:item_1", details={"x": 1}
        )
        return rev.id

    rev_id = db.call(setup)
    who = Principal(rev_id, "rev", "reviewer", 1)

    def types(page: dict[str, Any]) -> list[str]:
        return [e["type"] for e in page["items"]]

    one = db.call(item_custody, "item_1", who)
    assert types(one) == ["ingest", "link", "export", "fixity_scrub"]
    assert one["items"][0]["actor_name"] == "审核员" and one["items"][0]["actor_username"] == "rev"
    assert one["items"][2]["summary"] == "1 个文件，接收单位：法院 · 用途：诉讼"
    assert one["items"][3]["type_label"] == "定期校验" and one["items"][3]["actor_name"] == "系统"
    en = db.call(lambda s: item_custody(s, "item_1", who, lang="en"))
    assert [e["type_label"] for e in en["items"]] == [
        "Ingest",
        "Link to case",
        "Export",
        "Fixity check",
    ]
    assert en["items"][3]["actor_name"] == "System"
    # Types added later (trust-custody's, for instance) are shown generically, never untranslated.
    from server.custody.history import type_label

    assert type_label("package_download", "zh-CN") == "其他操作"
    assert type_label("package_download", "en") == "Package download"
    assert types(db.call(item_custody, "item%1", who)) == ["ingest", "link"]
    assert types(db.call(item_custody, "itemA1", who)) == ["ingest", "link"]  # not item_1's export
    case = db.call(case_custody, "case_1", who)
    assert types(case) == ["case_change", "link", "link", "export"]
    assert [e["subject_name"] for e in case["items"]][1:3] == ["0.mp4", "2.mp4"]
    assert types(db.call(case_custody, "caseA1", who)) == ["link"]
    assert types(db.call(case_custody, "N-2", who)) == ["link"]


def test_list_filters_on_sqlite_and_postgres(db) -> None:  # type: ignore[no-untyped-def]
    from server.access import Principal
    from server.catalogue.models import Case, CaseLink, Job, StoredObject
    from server.errors import BadRequest
    from server.intake.evidence import ItemFilters, list_items
    from server.people.accounts import add_agency

    def setup(s):  # type: ignore[no-untyped-def]
        a1 = add_agency(s, "A1", "Agency one")
        rows = [
            (
                "a",
                "DSJ1",
                "P1",
                "video",
                "ready",
                "100%a.mp4",
                datetime(2024, 3, 5, 6, 30, tzinfo=UTC),
            ),
            (
                "b",
                "DSJ2",
                "P2",
                "photo",
                "received",
                "b_1.jpg",
                datetime(2024, 3, 6, 6, 30, tzinfo=UTC),
            ),
            ("c", "DSJ1", None, "video", "damaged", "c.mp4", None),
        ]
        for item_id, dev, off, kind, status, name, rec in rows:
            key = hashlib.sha256(item_id.encode()).hexdigest()
            s.add(StoredObject(sha256=key, size=1, role="original"))
            s.flush()
            s.add(
                EvidenceItem(
                    id=item_id,
                    sha256=key,
                    size=1,
                    kind=kind,
                    status=status,
                    original_filename=name,
                    agency_id=a1.id,
                    device_id=dev,
                    officer_id=off,
                    recorded_at=rec,
                )
            )
        s.flush()
        s.add(
            Case(
                id="k1",
                agency_id=a1.id,
                number="K-1",
                title="t",
                enforcement_type="penalty",
                procedure="general",
            )
        )
        s.flush()
        s.add(CaseLink(case_id="k1", item_id="a", stage="investigation"))
        s.add(
            CaseLink(
                case_id="k1", item_id="c", stage="investigation", unlinked_at=datetime.now(UTC)
            )
        )
        s.add(Job(kind="media", subject="b", state="running", progress=0.25))
        return a1.id

    agency = db.call(setup)
    who = Principal(1, "rev", "reviewer", agency)

    def ids(**q: str) -> list[str]:
        return sorted(
            i["id"]
            for i in db.call(lambda s: list_items(s, who, filters=ItemFilters.from_query(q)))[
                "items"
            ]
        )

    assert ids() == ["a", "b", "c"]
    assert ids(device_id="DSJ1") == ["a", "c"] and ids(officer_id="P2") == ["b"]
    assert ids(kind="photo") == ["b"] and ids(status="ready,damaged") == ["a", "c"]
    assert ids(recorded_from="2024-03-05T14:30:00+08:00", recorded_to="2024-03-05") == ["a"]
    assert ids(recorded_from="2024-03-06") == ["b"]
    assert ids(unlinked="1") == ["b", "c"]  # c's link was removed
    assert ids(filename="%") == ["a"] and ids(filename="_") == ["b"]  # wildcards are literal
    page = db.call(lambda s: list_items(s, who, filters=ItemFilters.from_query({"ids": "b"})))
    assert (
        page["items"][0]["job"]["state"] == "running"
        and page["items"][0]["job"]["progress"] == 0.25
    )
    with pytest.raises(BadRequest):
        ItemFilters.from_query({"ids": ",".join(["x"] * 201)})


def test_every_ledger_type_has_a_label_in_both_languages() -> None:
    from integrity.ledger import ACTIONS
    from server.custody.history import TYPE_LABELS

    assert not ACTIONS - set(TYPE_LABELS), (
        "give new ledger actions a custody label (server/custody.py)"
    )
    for zh, en in TYPE_LABELS.values():
        assert CJK.search(zh) and not CJK.search(en)
