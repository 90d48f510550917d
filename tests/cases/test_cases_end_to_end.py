"""End to end: a market-supervision inspection case from initiation to archiving, with a refusal
to sign recorded on body-worn video and 留置送达 service on video — zero findings at the end and
every step in the custody ledger."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from cases.conftest import T0, at
from sqlalchemy import select

from helpers import add_evidence, app_db, app_store, bearer, make_clip


async def _footage(world, tmp_path, name: str, officer: str, device: str, minutes: float) -> str:  # type: ignore[no-untyped-def]
    """A real H.264 clip, stored and catalogued as a camera's recording, then processed by the
    media job (probe, HLS, thumbnails) as the worker would."""
    from server.catalogue.models import EvidenceItem
    from server.http import appkeys as keys
    from server.media.job import process_item

    path = make_clip(tmp_path / name, seconds=4, extra=("-metadata", f"comment={device} {minutes}"))
    db, store = app_db(world.client), app_store(world.client)
    item_id = add_evidence(db, store, path)

    def stamp(s):  # type: ignore[no-untyped-def]
        it = s.get(EvidenceItem, item_id)
        it.officer_id, it.device_id = officer, device
        it.recorded_at = T0 + timedelta(minutes=minutes)

    db.call(stamp)
    settings = world.client.server.app[keys.SETTINGS]
    await asyncio.to_thread(process_item, settings, db, store, item_id)
    return item_id


@pytest.mark.slow
async def test_market_inspection_case_from_initiation_to_archiving(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from integrity.ledger import check_chain
    from server.custody.ledger import iter_rows, row_entry

    u = world.uid
    officers = [world.officer("JZ001"), world.officer("JZ002")]

    # -- 程序启动: a named complaint, the case, the initiation approval within the day --------
    case = await world.case(
        number="丽市监检〔2026〕17号",
        title="某超市销售过期食品检查",
        enforcement_type="inspection",
        procedure="general",
        opened_at=at(0),
        parties=[{"name": "丽水某超市有限公司", "id_no": "91331100MA2XXXXXX"}],
        officers=["JZ001", "33110002"],
    )
    cid = case["id"]
    base = f"/api/v1/cases/{cid}"
    await world.call(
        "POST",
        f"{base}/complaints",
        body={
            "received_at": at(-120),
            "channel": "12315",
            "complainant": "周某",
            "contact": "138****0000",
            "content": "超市货架上有过期酸奶",
            "decision": "investigate",
        },
        status=201,
    )
    await world.approve(
        cid,
        "initiation",
        reason="12315投诉反映销售过期食品",
        party="丽水某超市有限公司，统一社会信用代码91331100MA2XXXXXX",
        handler_opinion="建议立案检查",
        unit_opinion="同意",
        legal_basis="《中华人民共和国食品安全法》第三十四条、第一百一十条",
    )
    await world.call("POST", f"{base}/stage", body={"stage": "investigation"})

    # -- 调查取证: on-site inspection; the manager refuses to sign; the body cam was running ----
    refusal_clip = await _footage(
        world, tmp_path, "DSJ-A1-0001_20260302_110000.mp4", "JZ001", "DSJ-A1-0001", minutes=120
    )
    inspection = await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "onsite_inspection_transcript",
            "time": at(118),
            "end_time": at(121),
            "officers": officers,
            "signature_status": "refused",
            "fields": {
                "place": "丽水市莲都区某路1号",
                "person": "店长 吴某",
                "findings": "货架上发现超过保质期酸奶12盒",
                "refusal": "吴某拒绝在笔录上签字，执法人员现场记录并全程录像",
                "refused_at": at(120.03),
            },
        },
        status=201,
    )
    report = await world.call("GET", f"{base}/compliance")
    assert [f["rule"] for f in report["findings"]] == ["art13-refusal-to-sign-av"]
    assert report["findings"][0]["records"][0]["id"] == inspection["id"]
    proposals = await world.call("GET", f"{base}/proposals")
    assert [p["evidence_id"] for p in proposals["items"]] == [refusal_clip]
    link = await world.call(
        "POST",
        f"{base}/links",
        body={"evidence_id": refusal_clip, "stage": "investigation", "record_id": inspection["id"]},
        status=201,
    )
    assert (await world.call("GET", f"{base}/compliance"))["findings"] == []
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "evidence_register",
            "time": at(120),
            "officers": officers,
            "signature_status": "refused",
            "evidence_ids": [],
            "fields": {
                "items": "过期酸奶12盒",
                "method": "先行登记保存",
                "refusal": "吴某同时拒绝在证据登记保存清单上签字",
                "refused_at": at(120.05),
            },
        },
    )
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "rights_notice",
            "time": at(60 * 24 * 3),
            "officers": officers,
            "signature_status": "signed",
            "fields": {"facts": "销售超过保质期食品", "rights": "陈述、申辩、听证"},
        },
    )
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "statement_transcript",
            "time": at(60 * 24 * 4),
            "officers": officers,
            "signature_status": "signed",
            "fields": {"statement": "承认货架管理疏忽"},
        },
    )

    # -- 审查决定 ------------------------------------------------------------------------------
    await world.call("POST", f"{base}/stage", body={"stage": "decision"})
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "decision_draft",
            "time": at(60 * 24 * 5),
            "fields": {
                "drafter": "王明",
                "draft_reviewer": "张科长",
                "legal_basis": "《食品安全法》第一百二十四条",
                "evidence": "现场检查笔录、执法记录仪录像",
            },
        },
    )
    await world.approve(
        cid, "decision", handler_opinion="建议责令改正并处罚款", unit_opinion="同意"
    )
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "decision",
            "time": at(60 * 24 * 6 + 60),
            "fields": {
                "decision": "责令改正，罚款人民币五万元",
                "rectification_deadline": at(60 * 24 * 16),
            },
        },
    )

    # -- 送达执行: the party refuses the decision; 留置送达 with a witness, on video ------------
    await world.call("POST", f"{base}/stage", body={"stage": "service_execution"})
    service_clip = await _footage(
        world,
        tmp_path,
        "DSJ-A1-0002_20260309_020000.mp4",
        "JZ002",
        "DSJ-A1-0002",
        minutes=60 * 24 * 7,
    )
    service = await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "service_receipt",
            "time": at(60 * 24 * 7 + 1),
            "officers": officers,
            "service_method": "left_at_residence",
            "witness": "社区主任 陈某",
            "signature_status": "refused",
            "evidence_ids": [service_clip],
            "fields": {
                "refusal_reason": "当事人拒绝签收",
                "refused_at": at(60 * 24 * 7 + 0.03),
                "document": "行政处罚决定书",
                "place": "丽水某超市有限公司经营场所",
            },
        },
        status=201,
    )
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "performance_record",
            "time": at(60 * 24 * 20),
            "fields": {"result": "已缴纳罚款，过期食品已下架销毁"},
        },
    )
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "rectification_check",
            "time": at(60 * 24 * 16),
            "officers": officers,
            "signature_status": "signed",
            "fields": {"result": "复查：货架已整改，未发现过期食品"},
        },
    )
    for doc_type, minutes, fields in (
        ("case_closure", 60 * 24 * 21, {"conclusion": "罚款已缴纳，责令改正已复查，结案"}),
        ("file_catalogue", 60 * 24 * 21 + 5, {"documents": "立案审批表、现场检查笔录……"}),
    ):
        await world.call(
            "POST",
            f"{base}/records",
            body={"doc_type": doc_type, "time": at(minutes), "fields": fields},
        )

    # -- 归档管理 ------------------------------------------------------------------------------
    archived = await world.call("POST", f"{base}/stage", body={"stage": "archiving"})
    assert archived["status"] == "archived"
    final = await world.call("GET", f"{base}")
    assert final["findings"] == []
    assert (await world.call("GET", f"{base}/compliance", "supervisor"))["findings"] == []
    inv = next(s for s in final["stages"] if s["stage"] == "investigation")
    svc = next(s for s in final["stages"] if s["stage"] == "service_execution")
    assert [i["link_id"] for i in inv["items"]] == [link["id"]]
    assert inv["items"][0]["duration_s"] == pytest.approx(4, abs=0.2)
    assert inv["items"][0]["thumbnails"].endswith("/thumbnails.vtt")
    assert [i["evidence_id"] for i in svc["items"]] == [service_clip]
    assert svc["records"][0]["id"] == service["id"]
    for clip in (refusal_clip, service_clip):
        ret = await world.call("GET", f"/api/v1/evidence/{clip}/retention")
        assert ret["class"] == "case" and ret["permanent"]
    r = await world.client.get(
        f"/api/v1/evidence/{refusal_clip}/thumbnails.vtt", headers=bearer(world.tokens["reviewer"])
    )
    assert r.status == 200

    # -- the custody ledger holds every step, in order, and its chain is whole -----------------
    rows = app_db(world.client).call(lambda s: list(iter_rows(s)))
    assert (
        check_chain([row_entry(r) for r in rows], {r.seq: json.loads(r.details) for r in rows})
        == []
    )
    mine = [  # the acts on the case (reading it leaves access entries, tested elsewhere)
        r
        for r in rows
        if (r.subject == f"case:{cid}" and r.action != "view")
        or (
            r.subject in (f"evidence:{refusal_clip}", f"evidence:{service_clip}")
            and r.action in ("link", "retention_change")
        )
    ]
    steps = [
        (
            r.action,
            json.loads(r.details).get("event")
            or json.loads(r.details).get("doc_type")
            or json.loads(r.details).get("kind")
            or json.loads(r.details).get("to_class")
            or json.loads(r.details).get("stage"),
        )
        for r in mine
    ]
    assert steps == [
        ("case_change", "opened"),
        ("complaint", None),
        ("approval", "requested"),
        ("approval", "decision"),
        ("approval", "decision"),
        ("case_change", "stage"),
        ("record", "onsite_inspection_transcript"),
        ("link", "investigation"),
        ("retention_change", "case"),
        ("record", "evidence_register"),
        ("record", "rights_notice"),
        ("record", "statement_transcript"),
        ("case_change", "stage"),
        ("record", "decision_draft"),
        ("approval", "requested"),
        ("approval", "decision"),
        ("approval", "decision"),
        ("record", "decision"),
        ("case_change", "stage"),
        ("record", "service_receipt"),
        ("link", "service_execution"),
        ("retention_change", "case"),
        ("record", "performance_record"),
        ("record", "rectification_check"),
        ("record", "case_closure"),
        ("record", "file_catalogue"),
        ("case_change", "archived"),
    ]
    # each approval is requested by the officer, then decided by the reviewer and the legal
    # office in their own sessions
    deciders = [r.actor for r in mine if json.loads(r.details).get("event") == "decision"]
    assert deciders == [f"user:{u[n]}:{n}" for n in ("reviewer", "legal") * 2]
    assert all(
        r.actor.startswith(f"user:{u['officer']}:")
        for r in mine
        if json.loads(r.details).get("event") != "decision"
    )
    linked_items = app_db(world.client).call(
        lambda s: s.scalars(
            select(__import__("server.catalogue.models", fromlist=["x"]).CaseLink.item_id)
        ).all()
    )
    assert set(linked_items) == {refusal_clip, service_clip}


async def _approve(world, base: str, kind: str, **fields) -> None:  # type: ignore[no-untyped-def]
    """Requested by the officer, decided by the reviewer and the legal office in their own
    sessions, at server time (the approver's opinion comes with the approver's decision)."""
    extra = dict(fields.pop("fields", {}))
    extra.pop("approver_opinion", None)
    await world.approve(
        base.rsplit("/", 1)[1], kind, **fields, **({"fields": extra} if extra else {})
    )


async def _record(world, base: str, doc_type: str, minutes: float, **body) -> dict:  # type: ignore[no-untyped-def]
    return await world.call(
        "POST",
        f"{base}/records",
        body={"doc_type": doc_type, "time": at(minutes), **body},
        status=201,
    )


async def _general_start(world, base: str, officers: list) -> None:  # type: ignore[no-untyped-def]
    """程序启动 and 调查取证 of a general-procedure case, complete."""
    await _approve(
        world,
        base,
        "initiation",
        reason="巡查发现违法搭建",
        party="陈某，身份证号3311XXXXXXXXXXXXXX",
        handler_opinion="建议立案",
        unit_opinion="同意",
        legal_basis="《浙江省违法建筑处置规定》第十六条",
    )
    await world.call("POST", f"{base}/stage", body={"stage": "investigation"})
    await _record(
        world,
        base,
        "onsite_inspection_transcript",
        60,
        officers=officers,
        signature_status="signed",
        fields={"place": "莲都区某村12号", "findings": "院内搭建彩钢棚约40平方米"},
    )
    await _record(
        world, base, "rights_notice", 60 * 24, officers=officers, signature_status="signed"
    )
    await _record(
        world,
        base,
        "statement_waiver",
        60 * 24 + 30,
        signature_status="signed",
        fields={"waiver": "当事人口头放弃陈述申辩，已记录"},
    )
    await world.call("POST", f"{base}/stage", body={"stage": "decision"})
    await _record(
        world,
        base,
        "decision_draft",
        60 * 24 * 2,
        fields={
            "drafter": "王明",
            "draft_reviewer": "张科长",
            "legal_basis": "《浙江省违法建筑处置规定》第十六条",
            "evidence": "现场检查笔录、照片",
        },
    )
    await _approve(
        world,
        base,
        "decision",
        handler_opinion="建议作出决定",
        unit_opinion="同意",
        fields={"approver_opinion": "同意"},
    )


@pytest.mark.slow
async def test_coercive_execution_remove_obstruction_archives_cleanly(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Art. 20-21: a 排除妨碍 after a 催告书 served on the party, its period elapsed, an execution
    approval, and the execution filmed throughout (test media stay tiny: the clip is 4 s and the
    execution record spans 3.3 s inside it) — archived with zero findings."""
    officers = [world.officer("JZ001"), world.officer("JZ002")]
    case = await world.case(
        number="丽综执强〔2026〕3号",
        enforcement_type="coercion",
        title="违法搭建彩钢棚强制拆除",
        opened_at=at(0),
    )
    base = f"/api/v1/cases/{case['id']}"
    await _general_start(world, base, officers)
    await _record(world, base, "decision", 60 * 24 * 3, fields={"decision": "限期七日内自行拆除"})
    await world.call("POST", f"{base}/stage", body={"stage": "service_execution"})
    await _record(
        world,
        base,
        "service_receipt",
        60 * 24 * 3 + 60,
        service_method="direct",
        signature_status="signed",
        officers=officers,
    )
    await _record(
        world,
        base,
        "demand_notice",
        60 * 24 * 11,
        signature_status="signed",
        fields={"period_days": 10, "content": "催告当事人十日内自行拆除"},
    )
    execution_at = 60 * 24 * 22
    clip = await _footage(
        world, tmp_path, "DSJ-A1-0001_exec.mp4", "JZ001", "DSJ-A1-0001", minutes=execution_at
    )
    assert (await world.call("GET", f"{base}/compliance"))["findings"] == []
    await _approve(
        world,
        base,
        "execution",
        handler_opinion="经催告仍不履行，建议强制拆除",
        unit_opinion="同意",
        fields={"approver_opinion": "同意"},
    )
    ex = await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "enforcement_record",
            "time": at(execution_at + 0.005),
            "end_time": at(execution_at + 0.06),
            "execution_type": "remove_obstruction",
            "signature_status": "signed",
            "officers": officers,
            "evidence_ids": [clip],
            "fields": {"result": "彩钢棚已拆除"},
        },
        status=201,
    )
    await _record(
        world,
        base,
        "performance_record",
        execution_at + 60,
        fields={"result": "违法建筑已强制拆除"},
    )
    await _record(world, base, "case_closure", execution_at + 120, fields={"conclusion": "结案"})
    await _record(world, base, "file_catalogue", execution_at + 121, fields={"documents": "…"})
    archived = await world.call("POST", f"{base}/stage", body={"stage": "archiving"})
    assert archived["status"] == "archived"
    final = await world.call("GET", base)
    assert final["findings"] == []
    assert ex["execution_type"] == "remove_obstruction"


async def test_execution_without_demand_is_refused_then_fixed(world) -> None:  # type: ignore[no-untyped-def]
    """Art. 21 "经催告…仍不履行": an execution recorded with no 催告书 and no approval cannot be
    archived; the refusal names both in Chinese (and English on request)."""
    officers = [world.officer("JZ001"), world.officer("JZ002")]
    case = await world.case(
        number="丽综执强〔2026〕4号", enforcement_type="coercion", opened_at=at(0)
    )
    base = f"/api/v1/cases/{case['id']}"
    await _general_start(world, base, officers)
    await _record(world, base, "decision", 60 * 24 * 3, fields={"decision": "限期拆除"})
    await world.call("POST", f"{base}/stage", body={"stage": "service_execution"})
    await _record(
        world,
        base,
        "enforcement_record",
        60 * 24 * 4,
        execution_type="surcharge",
        signature_status="signed",
        end_time=at(60 * 24 * 4 + 10),
    )
    r = await world.client.post(
        f"{base}/stage",
        json={"stage": "archiving"},
        headers={**bearer(world.tokens["officer"]), "Accept-Language": "en"},
    )
    body = await r.json()
    assert r.status == 409
    codes = {m.get("code") for m in body["missing"]}
    assert {"execution_no_demand", "execution_no_approval"} <= codes
    msg = next(m for m in body["missing"] if m.get("code") == "execution_no_demand")
    assert msg["label"] == msg["label_en"] and "demand notice" in msg["label"]
    assert "催告书" in msg["label_zh"]
    rep = await world.call("GET", f"{base}/compliance")
    f = next(f for f in rep["findings"] if f["code"] == "execution_no_demand")
    assert f["message"] == f["message_zh"] and f["stage"] == "service_execution"
    assert f["record_id"] and f["article"] == 21
    for url in (f"{base}/compliance", base):
        r = await world.client.get(
            url, headers={**bearer(world.tokens["officer"]), "Accept-Language": "en-GB,en;q=0.9"}
        )
        en = next(x for x in (await r.json())["findings"] if x["code"] == "execution_no_demand")
        assert en["message"] == en["message_en"] == f["message_en"]
        assert "No demand notice precedes" in en["message"]


async def test_seizure_case_archives_cleanly(world) -> None:  # type: ignore[no-untyped-def]
    """Art. 2/13/21: a 查封扣押 case — decision, on-site record naming the place and goods, the
    list of items signed by the party, the release — archives with zero findings."""
    officers = [world.officer("JZ001"), world.officer("JZ002")]
    case = await world.case(
        number="丽市监强〔2026〕9号",
        enforcement_type="coercion",
        title="扣押涉嫌假冒冻品",
        opened_at=at(0),
    )
    base = f"/api/v1/cases/{case['id']}"
    await _general_start(world, base, officers)
    await _record(
        world,
        base,
        "seizure_decision",
        60 * 24 * 3,
        signature_status="signed",
        fields={"items": "冻品200箱", "term_days": 30},
    )
    await world.call("POST", f"{base}/stage", body={"stage": "service_execution"})
    missing = await world.client.post(
        f"{base}/stage", json={"stage": "archiving"}, headers=bearer(world.tokens["officer"])
    )
    need = {m.get("requirement") for m in (await missing.json())["missing"]}
    assert {"seizure-onsite-record", "seizure-property-list"} <= need
    await _record(
        world,
        base,
        "seizure_onsite_record",
        60 * 24 * 3 + 30,
        officers=officers,
        signature_status="signed",
        fields={"place": "莲都区某冷库3号库", "items": "冻品200箱，已贴封条"},
    )
    await _record(
        world,
        base,
        "property_list",
        60 * 24 * 3 + 40,
        signature_status="signed",
        fields={"items": "冻品（品名见附页）200箱"},
    )
    await _record(
        world,
        base,
        "seizure_release_decision",
        60 * 24 * 20,
        signature_status="signed",
        fields={"reason": "检验合格，解除扣押"},
    )
    await _record(
        world, base, "case_closure", 60 * 24 * 21, fields={"conclusion": "解除扣押，结案"}
    )
    await _record(world, base, "file_catalogue", 60 * 24 * 21 + 1, fields={"documents": "…"})
    archived = await world.call("POST", f"{base}/stage", body={"stage": "archiving"})
    assert archived["status"] == "archived"
    assert (await world.call("GET", base))["findings"] == []
