"""Cases through the API: create, read, list, links, records, approvals, stages, agencies."""

from __future__ import annotations

from cases.conftest import at
from sqlalchemy import select

from helpers import app_db, app_store, bearer


async def _item(world, tmp_path, name: str = "clip.mp4", agency: str = "A1", **fields) -> str:  # type: ignore[no-untyped-def]
    """A small evidence item (not real media) with catalogue fields set."""
    from helpers import add_evidence
    from server.catalogue.models import EvidenceItem

    path = tmp_path / name
    path.write_bytes(f"bytes of {name} {agency} {sorted(fields.items())}".encode())
    db, store = app_db(world.client), app_store(world.client)
    item_id = add_evidence(db, store, path, agency_code=agency)

    def set_fields(s):  # type: ignore[no-untyped-def]
        item = s.get(EvidenceItem, item_id)
        for k, v in fields.items():
            setattr(item, k, v)

    db.call(set_fields)
    return item_id


def _ledger(world, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    import json

    from server.catalogue.models import LedgerRow

    rows = app_db(world.client).call(
        lambda s: list(s.scalars(select(LedgerRow).where(LedgerRow.action == action)))
    )
    return [{"subject": r.subject, "actor": r.actor, **json.loads(r.details)} for r in rows]


async def test_create_and_read_case(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="丽市监检〔2026〕1号", parties=["丽水某超市有限公司"])
    assert c["id"] and c["stage"] == "initiation" and c["agency"] == "A1"
    assert [o["certificate_no"] for o in c["officers"]] == ["33110001", "33110002"]
    got = await world.call("GET", f"/api/v1/cases/{c['id']}")
    assert [s["stage"] for s in got["stages"]] == [
        "initiation",
        "investigation",
        "decision",
        "service_execution",
        "archiving",
    ]
    assert got["stages"][0]["label_zh"] == "程序启动"
    by_number = await world.call("GET", "/api/v1/cases/丽市监检〔2026〕1号")
    assert by_number["id"] == c["id"]
    assert got["current_stage"] == "initiation"
    # General procedure, but still in initiation: nothing is due yet.
    assert got["findings"] == []
    opened = _ledger(world, "case_change")
    assert opened[-1]["event"] == "opened" and opened[-1]["subject"] == f"case:{c['id']}"


async def test_create_validates_and_refuses_duplicates(world) -> None:  # type: ignore[no-untyped-def]
    await world.case(number="N-1")
    await world.call(
        "POST",
        "/api/v1/cases",
        body={
            "number": "N-1",
            "title": "t",
            "enforcement_type": "inspection",
            "procedure": "general",
        },
        status=409,
    )
    for bad in (
        {"enforcement_type": "parking"},
        {"procedure": "fast"},
        {"title": ""},
        {"opened_at": "2026-03-02 09:00"},
        {"officers": ["nobody"]},
    ):
        body = {
            "number": "N-2",
            "title": "t",
            "enforcement_type": "inspection",
            "procedure": "general",
            **bad,
        }
        await world.call("POST", "/api/v1/cases", body=body, status=400)
    # An officer cannot open a case in another agency; an admin must name the agency.
    await world.call(
        "POST",
        "/api/v1/cases",
        body={
            "number": "N-3",
            "title": "t",
            "agency": "A2",
            "enforcement_type": "inspection",
            "procedure": "general",
        },
        status=403,
    )
    await world.call(
        "POST",
        "/api/v1/cases",
        "admin",
        body={
            "number": "N-3",
            "title": "t",
            "enforcement_type": "inspection",
            "procedure": "general",
        },
        status=400,
    )
    unknown = await world.call(
        "POST",
        "/api/v1/cases",
        "admin",
        body={
            "number": "N-3",
            "title": "t",
            "agency": "ZZ9",
            "enforcement_type": "inspection",
            "procedure": "general",
        },
        status=400,
    )
    assert unknown["code"] == "bad_agency" and unknown["params"]["field"] == "agency"
    # The same number may exist in another agency.
    await world.call(
        "POST",
        "/api/v1/cases",
        "officer2",
        body={"number": "N-1", "title": "t", "enforcement_type": "penalty", "procedure": "simple"},
        status=201,
    )


async def test_list_filters_and_pages(world) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        await world.case(
            number=f"L-{i}",
            title=f"检查 {i}",
            opened_at=at(i * 60),
            enforcement_type="inspection" if i % 2 else "penalty",
        )
    await world.call(
        "POST",
        "/api/v1/cases",
        "officer2",
        body={"number": "B-1", "title": "t", "enforcement_type": "penalty", "procedure": "simple"},
    )
    page = await world.call("GET", "/api/v1/cases?limit=2")
    assert [c["number"] for c in page["items"]] == ["L-4", "L-3"] and page["next"]
    rest = await world.call("GET", f"/api/v1/cases?limit=10&cursor={page['next']}")
    assert [c["number"] for c in rest["items"]] == ["L-2", "L-1", "L-0"] and rest["next"] is None
    q = await world.call("GET", "/api/v1/cases?enforcement_type=inspection")
    assert {c["number"] for c in q["items"]} == {"L-1", "L-3"}
    q = await world.call("GET", f"/api/v1/cases?from={at(60)}&to={at(180)}")
    assert {c["number"] for c in q["items"]} == {"L-1", "L-2"}
    q = await world.call("GET", "/api/v1/cases?q=L-4")
    assert [c["number"] for c in q["items"]] == ["L-4"]
    q = await world.call("GET", "/api/v1/cases?stage=initiation&status=open")
    assert len(q["items"]) == 5
    everyone = await world.call("GET", "/api/v1/cases?limit=50", "supervisor")
    assert {c["agency"] for c in everyone["items"]} == {"A1", "A2"}


async def test_other_agency_can_neither_read_nor_link(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="A1-X")
    a1_item = await _item(world, tmp_path, "a1.mp4")
    a2_item = await _item(world, tmp_path, "a2.mp4", agency="A2")
    for url in (
        f"/api/v1/cases/{c['id']}",
        "/api/v1/cases/A1-X",
        f"/api/v1/cases/{c['id']}/compliance",
        f"/api/v1/cases/{c['id']}/proposals",
    ):
        await world.call("GET", url, "officer2", status=404)  # as if absent (issue 12)
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/links",
        "officer2",
        {"evidence_id": a1_item, "stage": "investigation"},
        status=404,
    )
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records",
        "officer2",
        {"doc_type": "acceptance_notice", "time": at(1)},
        status=404,
    )
    listed = await world.call("GET", "/api/v1/cases", "officer2")
    assert listed["items"] == []
    # An A1 officer cannot link an A2 item to an A1 case either.
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/links",
        "officer",
        {"evidence_id": a2_item, "stage": "investigation"},
        status=404,
    )
    r = await world.client.get(
        f"/api/v1/evidence?case={c['id']}", headers=bearer(world.tokens["officer2"])
    )
    assert r.status == 404


async def test_links_unlinks_and_history(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="LK-1")
    item = await _item(world, tmp_path)
    link = await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/links",
        body={"evidence_id": item, "stage": "investigation"},
        status=201,
    )
    again = await world.call(
        "POST",
        "/api/v1/cases/LK-1/links",
        body={"evidence_id": item, "stage": "investigation"},
        status=200,
    )
    assert again["id"] == link["id"]
    second_stage = await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/links",
        body={"evidence_id": item, "stage": "service_execution"},
        status=201,
    )
    got = await world.call("GET", f"/api/v1/cases/{c['id']}")
    inv = next(s for s in got["stages"] if s["stage"] == "investigation")
    assert [i["link_id"] for i in inv["items"]] == [link["id"]]
    assert inv["items"][0]["links"]["original"].endswith("/original")
    listed = await world.call("GET", "/api/v1/evidence?case=LK-1")
    assert [i["id"] for i in listed["items"]] == [item]
    detail = await world.call("GET", f"/api/v1/evidence/{item}")
    assert {x["stage"] for x in detail["cases"]} == {"investigation", "service_execution"}

    gone = await world.call(
        "DELETE", f"/api/v1/cases/{c['id']}/links/{link['id']}?reason=wrong%20case"
    )
    assert gone["unlinked_at"] and gone["active"] is False and gone["unlink_reason"] == "wrong case"
    await world.call("DELETE", f"/api/v1/cases/{c['id']}/links/{link['id']}", status=409)
    got = await world.call("GET", f"/api/v1/cases/{c['id']}")
    assert [i["link_id"] for i in got["items"]] == [second_stage["id"]]
    assert [u["id"] for u in got["unlinked"]] == [link["id"]]
    links = [e for e in _ledger(world, "link") if e["case"] == c["id"]]
    unlinks = [e for e in _ledger(world, "unlink") if e["case"] == c["id"]]
    assert len(links) == 2 and len(unlinks) == 1 and unlinks[0]["reason"] == "wrong case"
    assert unlinks[0]["subject"] == f"evidence:{item}"


async def test_records_are_typed_by_the_pack(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="R-1")
    url = f"/api/v1/cases/{c['id']}/records"
    await world.call("POST", url, body={"doc_type": "no_such_doc", "time": at(5)}, status=400)
    await world.call(
        "POST",
        url,
        body={"doc_type": "inquiry_transcript", "stage": "decision", "time": at(5)},
        status=400,
    )
    await world.call("POST", url, body={"doc_type": "inquiry_transcript"}, status=400)
    await world.call(
        "POST",
        url,
        body={"doc_type": "service_receipt", "time": at(5), "service_method": "pigeon"},
        status=400,
    )
    scan = await _item(world, tmp_path, "scan.pdf", kind="document")
    rec = await world.call(
        "POST",
        url,
        body={
            "doc_type": "inquiry_transcript",
            "time": at(30),
            "end_time": at(50),
            "officers": [
                world.officer("JZ001"),
                {"officer": "33110002", "shown": True},
                {"name": "外借人员", "certificate_no": "33119999"},
            ],
            "signature_status": "signed",
            "evidence_ids": [scan],
            "fields": {"person": "张三"},
        },
        status=201,
    )
    assert rec["stage"] == "investigation"
    assert [o["certificate_no"] for o in rec["officers"]] == ["33110001", "33110002", "33119999"]
    assert rec["officers"][0]["name"] == "王明" and rec["officers"][0]["shown"] is True
    got = await world.call("GET", f"/api/v1/cases/{c['id']}")
    inv = next(s for s in got["stages"] if s["stage"] == "investigation")
    assert [r["id"] for r in inv["records"]] == [rec["id"]]
    assert [i["evidence_id"] for i in inv["items"]] == [scan] and inv["items"][0][
        "source"
    ] == "record"
    entry = [e for e in _ledger(world, "record") if e["record"] == rec["id"]][0]
    assert entry["doc_type"] == "inquiry_transcript" and len(entry["sha256"]) == 64
    # A correction supersedes; the old record stays in the ledger but leaves the case view.
    fixed = await world.call(
        "POST",
        url,
        body={
            "doc_type": "inquiry_transcript",
            "time": at(30),
            "supersedes": rec["id"],
            "officers": [world.officer("JZ001"), world.officer("JZ002")],
            "signature_status": "signed",
        },
    )
    got = await world.call("GET", f"/api/v1/cases/{c['id']}")
    assert [r["id"] for r in got["records"]] == [fixed["id"]]
    # ... and stays visible on its stage as superseded, pointing at its correction.
    inv = next(s for s in got["stages"] if s["stage"] == "investigation")
    assert [(r["id"], r["superseded_by"]) for r in inv["superseded"]] == [(rec["id"], fixed["id"])]
    assert fixed["time_source"] == "claimed"  # a record's time is the writer's claim
    # A scan of the paper correction is attached to it afterwards: a link naming the record.
    paper = await _item(world, tmp_path, "paper.pdf", kind="document")
    attach = f"/api/v1/cases/{c['id']}/records/{fixed['id']}/attachments"
    link = await world.call("POST", attach, body={"evidence_id": paper}, status=201)
    assert (link["record_id"], link["stage"], link["source"]) == (
        fixed["id"],
        "investigation",
        "record",
    )
    assert (await world.call("POST", attach, body={"evidence_id": paper}, status=200))[
        "id"
    ] == link["id"]
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records/{rec['id']}/attachments",
        body={"evidence_id": paper},
        status=409,
    )
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records/nope/attachments",
        body={"evidence_id": paper},
        status=404,
    )
    assert any(
        e["record"] == fixed["id"] and e["subject"] == f"evidence:{paper}"
        for e in _ledger(world, "link")
    )


async def test_approvals_enforce_separation_of_duties(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="AP-1")
    url = f"/api/v1/cases/{c['id']}/approvals"
    u = world.uid
    same = {
        "kind": "initiation",
        "handler_id": u["officer"],
        "reviewer_id": u["reviewer"],
        "approver_id": u["officer"],
    }
    r = await world.client.post(url, json=same, headers=bearer(world.tokens["officer"]))
    assert r.status == 409 and (await r.json())["code"] == "separation_of_duties"
    await world.call("POST", url, body={**same, "approver_id": u["officer2"]}, status=400)
    await world.call("POST", url, body={**same, "approver_id": 99999}, status=400)
    form = {
        **same,
        "approver_id": u["legal"],
        "reason": "举报",
        "party": "某超市",
        "handler_opinion": "建议立案",
        "legal_basis": "法条",
    }
    # A client-supplied approval time is refused: times are the server's.
    r = await world.client.post(
        url, json={**form, "approved_at": at(60)}, headers=bearer(world.tokens["officer"])
    )
    assert r.status == 400 and (await r.json())["code"] == "client_time_refused"
    ok = await world.call("POST", url, body=form, status=201)
    assert ok["fields"]["reason"] == "举报" and ok["stage"] == "initiation"
    assert ok["status"] == "pending" and ok["approved_at"] is None
    assert ok["waiting_for"] == {"role": "reviewer", "user_id": u["reviewer"]}
    # Legal review is the legal office's act.
    review = {
        "kind": "legal_review",
        "handler_id": u["officer"],
        "reviewer_id": u["legal"],
        "approver_id": u["reviewer"],
        "legal_review_opinion": "合法",
    }
    await world.call("POST", url, "officer", review, status=403)
    lr = await world.call("POST", url, "legal", review, status=201)
    # legal asked in the officer's name: the officer (handler) confirms first
    assert lr["waiting_for"] == {"role": "handler", "user_id": u["officer"]}
    assert len(_ledger(world, "approval")) == 2


async def test_stages_move_forward_and_archiving_is_refused_with_the_missing_list(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="S-1")
    url = f"/api/v1/cases/{c['id']}/stage"
    moved = await world.call("POST", url, body={"stage": "decision"})
    assert moved["stage"] == "decision"
    await world.call("POST", url, body={"stage": "investigation"}, status=409)
    r = await world.client.post(
        url, json={"stage": "archiving"}, headers=bearer(world.tokens["officer"])
    )
    body = await r.json()
    assert r.status == 409 and body["code"] == "archiving_refused"
    missing = {m.get("requirement") for m in body["missing"]}
    assert {"initiation-approval", "investigation-transcript"} <= missing
    assert all(m["label_zh"] and m["stage"] for m in body["missing"] if m["kind"] == "record")
    # Findings now show what the stages already left are missing.
    report = await world.call("GET", f"/api/v1/cases/{c['id']}/compliance")
    assert {f["rule"] for f in report["findings"]} == {"art3-required-records"}
    assert report["counts"]["error"] == 2


async def test_complaints_and_the_notice_rule(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="CP-1", enforcement_type="other")
    complaint = await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/complaints",
        body={
            "received_at": at(-600),
            "channel": "12345热线",
            "complainant": "周某",
            "contact": "138****0000",
            "content": "超市出售过期食品",
            "decision": "declined",
            "decision_reason": "经核查不属实",
        },
        status=201,
    )
    assert complaint["named"] is True
    report = await world.call("GET", f"/api/v1/cases/{c['id']}/compliance")
    assert [f["rule"] for f in report["findings"]] == ["art9-declined-complaint-notice"]
    assert report["findings"][0]["records"][0]["id"] == complaint["id"]
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records",
        body={
            "doc_type": "complaint_notice",
            "time": at(60),
            "fields": {"complaint_id": complaint["id"], "method": "书面告知"},
        },
    )
    report = await world.call("GET", f"/api/v1/cases/{c['id']}/compliance")
    assert report["findings"] == []
    assert _ledger(world, "complaint")[0]["decision"] == "declined"


async def test_proposals_and_auto_link(make_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from cases.conftest import T0, World

    from server.catalogue.models import (
        Agency,
        Device,
        DeviceAssignment,
        EvidenceItem,
        Officer,
        User,
    )

    for auto in (False, True):
        client = await make_client(
            auto_link_agencies="A1" if auto else "", data_dir=str(tmp_path / f"d{auto}")
        )
        from helpers import PASSWORD, add_evidence
        from server.people.accounts import add_agency, add_user

        db, store = app_db(client), app_store(client)

        def setup(s):  # type: ignore[no-untyped-def]
            add_agency(s, "A1", "a")
            add_user(s, "officer", PASSWORD, "officer", "A1")
            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            o = Officer(agency_id=a1.id, code="JZ001", name="王明", certificate_no="33110001")
            o2 = Officer(agency_id=a1.id, code="JZ002", name="李华", certificate_no="33110002")
            s.add_all([o, o2])
            s.flush()
            dev = Device(agency_id=a1.id, serial="DSJ-7", officer_id=o2.id)
            s.add(dev)
            s.flush()  # the registry: JZ002 holds DSJ-7 over the record's time (一人一机)
            s.add(
                DeviceAssignment(
                    device_id=dev.id, officer_id=o2.id, valid_from=T0 - timedelta(days=1)
                )
            )
            return {"JZ001": o.id, "JZ002": o2.id}

        officers = db.call(setup)
        r = await client.post(
            "/api/v1/auth/login", json={"username": "officer", "password": PASSWORD}
        )
        w = World(
            client,
            {"officer": (await r.json())["token"]},
            db.call(lambda s: {u.username: u.id for u in s.scalars(select(User))}),
            officers,
        )
        ids = {}
        for name, officer, device, minutes, secs in (
            ("by-officer", "JZ001", None, 28, 600),  # overlaps the record
            ("by-device", None, "DSJ-7", 40, 60),  # the second officer's camera
            ("too-early", "JZ001", None, -120, 60),  # ends long before
            ("stranger", "JZ999", None, 30, 600),
        ):  # another officer's footage
            p = tmp_path / f"{name}-{auto}.mp4"
            p.write_bytes(name.encode() + str(auto).encode())
            ids[name] = add_evidence(db, store, p)

            def upd(
                s, item_id=ids[name], officer=officer, device=device, minutes=minutes, secs=secs
            ):  # type: ignore[no-untyped-def]
                it = s.get(EvidenceItem, item_id)
                it.officer_id, it.device_id = officer, device
                it.recorded_at = T0 + timedelta(minutes=minutes)
                it.media_info = {"probe": {"duration_s": secs}}
                it.duration_s = secs

            db.call(upd)
        c = await w.case(number="P-1")
        await w.call(
            "POST",
            f"/api/v1/cases/{c['id']}/records",
            body={
                "doc_type": "onsite_inspection_transcript",
                "time": at(35),
                "end_time": at(45),
                "officers": [w.officer("JZ001"), w.officer("JZ002")],
                "signature_status": "signed",
            },
        )
        props = await w.call("GET", f"/api/v1/cases/{c['id']}/proposals")
        got = await w.call("GET", f"/api/v1/cases/{c['id']}")
        linked = {i["evidence_id"] for i in got["items"]}
        if auto:
            assert props["items"] == [] and props["auto_link"] is True
            assert linked == {ids["by-officer"], ids["by-device"]}
            assert {i["source"] for i in got["items"]} == {"auto"}
        else:
            assert {p["evidence_id"] for p in props["items"]} == {
                ids["by-officer"],
                ids["by-device"],
            }
            assert all(p["stage"] == "investigation" for p in props["items"]) and linked == set()
            await w.call(
                "POST",
                f"/api/v1/cases/{c['id']}/links",
                body={"evidence_id": ids["by-officer"], "stage": "investigation"},
            )
            props = await w.call("GET", f"/api/v1/cases/{c['id']}/proposals")
            assert [p["evidence_id"] for p in props["items"]] == [ids["by-device"]]


async def test_archived_case_is_closed(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="AR-1", procedure="simple", enforcement_type="penalty")
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records",
        body={
            "doc_type": "simple_procedure_record",
            "time": at(10),
            "signature_status": "signed",
            "officers": [world.officer("JZ001"), world.officer("JZ002")],
            "fields": {"fact_basis": "当场发现", "legal_basis": "第十条", "statement_waived": True},
        },
    )
    await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/records",
        body={"doc_type": "file_catalogue", "time": at(20), "fields": {"documents": "当场决定书"}},
    )
    archived = await world.call(
        "POST", f"/api/v1/cases/{c['id']}/stage", body={"stage": "archiving"}
    )
    assert archived["status"] == "archived" and archived["archived_at"]
    for url, body in (
        (f"/api/v1/cases/{c['id']}/records", {"doc_type": "case_closure", "time": at(99)}),
        (f"/api/v1/cases/{c['id']}/complaints", {"content": "x"}),
    ):
        r = await world.client.post(url, json=body, headers=bearer(world.tokens["officer"]))
        assert r.status == 409 and (await r.json())["code"] == "archived"
    events = [
        e["event"] for e in _ledger(world, "case_change") if e["subject"] == f"case:{c['id']}"
    ]
    assert events == ["opened", "archived"]


async def test_approval_is_decided_by_each_named_person_in_order_at_server_time(world) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    c = await world.case(number="AP-2", opened_at=at(0))
    u = world.uid
    url = f"/api/v1/cases/{c['id']}/approvals"
    req = await world.call(
        "POST",
        url,
        "officer",
        {"kind": "decision", "reviewer_id": u["reviewer"], "approver_id": u["legal"]},
        201,
    )
    assert req["handler_id"] == u["officer"]  # the caller, not named
    decide = f"/api/v1/approvals/{req['id']}/decision"
    # Nothing waits for the legal office yet; the reviewer sees it in "pending=me".
    assert (await world.call("GET", "/api/v1/approvals?pending=me", "legal"))["items"] == []
    mine = await world.call("GET", "/api/v1/approvals?pending=me", "reviewer")
    assert [a["id"] for a in mine["items"]] == [req["id"]]
    assert mine["items"][0]["case_number"] == "AP-2"
    # Out of order, not named, a client time, a bad decision: refused.
    await world.call("POST", decide, "legal", {"decision": "approve"}, 409)
    await world.call("POST", decide, "officer2", {"decision": "approve"}, (403, 404))
    await world.call("POST", decide, "admin", {"decision": "approve"}, 403)
    await world.call("POST", decide, "reviewer", {"decision": "approve", "decided_at": at(1)}, 400)
    await world.call("POST", decide, "reviewer", {"decision": "maybe"}, 400)
    before = datetime.now(UTC)
    rv = await world.call("POST", decide, "reviewer", {"decision": "approve", "opinion": "同意"})
    assert rv["status"] == "reviewed" and rv["approved_at"] is None
    assert rv["fields"]["unit_opinion"] == "同意"
    await world.call("POST", decide, "reviewer", {"decision": "approve"}, 409)  # decided already
    ok = await world.call("POST", decide, "legal", {"decision": "approve", "opinion": "批准"})
    assert ok["status"] == "approved"
    when = datetime.fromisoformat(ok["approved_at"])
    assert before <= when <= datetime.now(UTC)
    assert [(d["role"], d["decision"]) for d in ok["decisions"]] == [
        ("handler", "request"),
        ("reviewer", "approve"),
        ("approver", "approve"),
    ]
    await world.call("POST", decide, "legal", {"decision": "approve"}, 409)
    assert (await world.call("GET", "/api/v1/approvals?pending=me", "reviewer"))["items"] == []
    entries = _ledger(world, "approval")
    assert [(e["event"], e["actor"].rsplit(":", 1)[1]) for e in entries] == [
        ("requested", "officer"),
        ("decision", "reviewer"),
        ("decision", "legal"),
    ]
    case = await world.call("GET", f"/api/v1/cases/{c['id']}")
    shown = case["approvals"][0]
    assert shown["people"]["approver"]["username"] == "legal"
    # A rejection closes the request; it never counts as an approval.
    req2 = await world.call(
        "POST",
        url,
        "officer",
        {"kind": "execution", "reviewer_id": u["reviewer"], "approver_id": u["legal"]},
        201,
    )
    no = await world.call(
        "POST",
        f"/api/v1/approvals/{req2['id']}/decision",
        "reviewer",
        {"decision": "reject", "opinion": "证据不足"},
    )
    assert no["status"] == "rejected" and no["approved_at"] is None
    await world.call(
        "POST", f"/api/v1/approvals/{req2['id']}/decision", "legal", {"decision": "approve"}, 409
    )


async def test_case_search_covers_parties_and_officers_and_edits_are_ledgered(world) -> None:  # type: ignore[no-untyped-def]
    c = await world.case(number="Q-1", title="占道经营", parties=["张三"], officers=["JZ001"])
    await world.case(number="Q-2", title="其他", parties=["李四"], officers=["JZ002"])
    found = lambda body: [x["number"] for x in body["items"]]  # noqa: E731
    assert found(await world.call("GET", "/api/v1/cases?q=张三")) == ["Q-1"]
    assert found(await world.call("GET", "/api/v1/cases?q=王明")) == ["Q-1"]  # officer JZ001
    assert found(await world.call("GET", "/api/v1/cases?q=33110002")) == ["Q-2"]
    edited = await world.call(
        "PATCH",
        f"/api/v1/cases/{c['id']}",
        body={
            "parties": ["张三", {"name": "某公司"}],
            "officers": [{"name": "赵六", "certificate_no": "999"}],
        },
    )
    assert [p["name"] for p in edited["parties"]] == ["张三", "某公司"]
    assert edited["officers"][0]["name"] == "赵六"
    assert found(await world.call("GET", "/api/v1/cases?q=某公司")) == ["Q-1"]
    await world.call("PATCH", f"/api/v1/cases/{c['id']}", body={"number": "X"}, status=400)
    entries = [e for e in _ledger(world, "case_change") if e.get("event") == "edited"]
    assert entries and entries[0]["after"]["parties"][1]["name"] == "某公司"
    assert entries[0]["before"]["parties"] == [{"name": "张三"}]
    # Archived: the file is closed, parties included.
    from server.catalogue.models import Case

    def archive(s):  # type: ignore[no-untyped-def]
        s.get(Case, c["id"]).status = "archived"

    app_db(world.client).call(archive)
    await world.call("PATCH", f"/api/v1/cases/{c['id']}", body={"parties": ["X"]}, status=409)
