"""抽查 / 案卷评查 end to end (Art. 22-23): a seeded reproducible sample of archived cases, scored
against the checklist from the rule pack, a 责令限期整改 with a deadline, the agency's answer,
the overdue order on the supervision view, and every step in the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cases.conftest import at
from sqlalchemy import select

from helpers import app_db


async def _archived_simple_case(world, number: str, signed: bool = True) -> dict:  # type: ignore[no-untyped-def]
    c = await world.case(number=number, procedure="simple", enforcement_type="penalty")
    base = f"/api/v1/cases/{c['id']}"
    await world.call(
        "POST",
        f"{base}/records",
        body={
            "doc_type": "simple_procedure_record",
            "time": at(10),
            "signature_status": "signed" if signed else "not_applicable",
            "fields": {"fact_basis": "当场发现", "legal_basis": "第十条", "statement_waived": True},
        },
    )
    await world.call("POST", f"{base}/records", body={"doc_type": "file_catalogue", "time": at(20)})
    await world.call("POST", f"{base}/stage", body={"stage": "archiving"})
    return c


async def test_spot_check_from_sample_to_rectification(world) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.models import LedgerRow, RectificationOrder

    cases = [await _archived_simple_case(world, f"SC-{i}", signed=i != 2) for i in range(5)]
    await world.case(number="SC-OPEN")  # not archived: never sampled
    ids = {c["id"] for c in cases}

    # -- draw: the seed makes the sample reproducible; only the supervisor may draw --------
    body = {"agency": "A1", "size": 3, "seed": "2026-抽查-1"}
    await world.call("POST", "/api/v1/spot-checks", "legal", body, status=403)
    await world.call("POST", "/api/v1/spot-checks", "supervisor", {**body, "size": 0}, status=400)
    empty = await world.call(
        "POST", "/api/v1/spot-checks", "supervisor", {**body, "agency": "A2"}, status=409
    )
    assert empty["code"] == "empty" and "没有已归档的案卷" in empty["message"]
    sc = await world.call("POST", "/api/v1/spot-checks", "supervisor", body, status=201)
    again = await world.call("POST", "/api/v1/spot-checks", "supervisor", body, status=201)
    sample = [c["case_id"] for c in sc["cases"]]
    assert sample == [c["case_id"] for c in again["cases"]] and len(sample) == 3
    assert set(sample) <= ids and sc["population"] == 5 and sc["seed"] == "2026-抽查-1"
    other = await world.call(
        "POST", "/api/v1/spot-checks", "supervisor", {**body, "seed": "another"}, status=201
    )
    assert len(other["cases"]) == 3
    auto = await world.call("POST", "/api/v1/spot-checks", "supervisor", {"agency": "A1"}, 201)
    assert len(auto["seed"]) == 16 and len(auto["cases"]) == 5  # a generated seed, all five

    # -- the checklist comes from the rule pack; the engine suggests results --------------
    items = {i["id"]: i for i in sc["checklist"]}
    assert "rule:art13-party-document-signature" in items and "req:file-catalogue" in items
    assert items["rule:art17-disputed-simple-av"]["article"] == 17
    first = sc["cases"][0]
    assert first["suggested"]["req:file-catalogue"] == "pass"
    assert first["suggested"]["rule:art21-execution-after-demand"] in ("pass", "na")

    # -- score: the supervisor marks a failure and notes a problem ------------------------
    url = f"/api/v1/spot-checks/{sc['id']}/cases/{first['case_id']}/score"
    await world.call("POST", url, "supervisor", {"results": {"rule:nope": "fail"}}, status=400)
    await world.call("POST", url, "legal", {"results": {}}, status=403)
    scored = await world.call(
        "POST",
        url,
        "supervisor",
        {
            "results": {"rule:art17-simple-record-content": "fail"},
            "problems": [
                {
                    "item": "rule:art17-simple-record-content",
                    "note": "事实依据过于简单，未写明具体情形",
                }
            ],
        },
    )
    row = next(c for c in scored["cases"] if c["case_id"] == first["case_id"])
    assert row["results"]["rule:art17-simple-record-content"] == "fail"
    assert row["problems"][0]["article"] == 17 and 0 < row["score"] < 100
    outside = next(c["id"] for c in cases if c["id"] not in sample)
    await world.call(
        "POST",
        f"/api/v1/spot-checks/{sc['id']}/cases/{outside}/score",
        "supervisor",
        {},
        status=404,
    )

    # -- 责令限期整改 with a deadline; the agency answers; the overdue one shows -----------
    orders_url = f"/api/v1/spot-checks/{sc['id']}/orders"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await world.call(
        "POST", orders_url, "supervisor", {"deadline": past, "requirement": "x"}, status=400
    )
    deadline = (datetime.now(UTC) + timedelta(days=15)).isoformat()
    order = await world.call(
        "POST",
        orders_url,
        "supervisor",
        {"deadline": deadline, "requirement": "十五日内补正简易程序记录并报送整改情况"},
        status=201,
    )
    assert order["case_ids"] == [first["case_id"]] and order["status"] == "open"
    assert order["problems"][0]["number"] == first["number"] and not order["overdue"]
    second = await world.call(
        "POST",
        orders_url,
        "supervisor",
        {"deadline": deadline, "requirement": "另案整改", "case_ids": [first["case_id"]]},
        status=201,
    )

    # time passes: the second order's deadline runs out unanswered
    def expire(s):  # type: ignore[no-untyped-def]
        o = s.get(RectificationOrder, second["id"])
        o.deadline = datetime.now(UTC) - timedelta(days=2)

    await app_db(world.client).run(expire)
    rep = await world.call("GET", "/api/v1/supervision?agency=A1", "supervisor")
    overdue = rep["agencies"][0]["overdue_rectifications"]
    assert [o["id"] for o in overdue] == [second["id"]] and overdue[0]["overdue_days"] >= 2
    assert overdue[0]["cases"] == [{"id": first["case_id"], "number": first["number"]}]
    listed = await world.call("GET", "/api/v1/rectification-orders?overdue=1", "legal")
    assert [o["id"] for o in listed["items"]] == [second["id"]]

    answer_url = f"/api/v1/rectification-orders/{order['id']}/response"
    await world.call("POST", answer_url, "officer", {"response": "x"}, status=403)
    await world.call("POST", answer_url, "supervisor", {"response": "x"}, status=403)
    await world.call("POST", answer_url, "legal", {"response": ""}, status=400)
    answered = await world.call(
        "POST", answer_url, "legal", {"response": "已补正简易程序记录，组织执法人员培训"}
    )
    assert answered["status"] == "answered" and answered["response_by"] == world.uid["legal"]
    await world.call("POST", answer_url, "legal", {"response": "again"}, status=409)

    # -- every step ledgered, with the seed -------------------------------------------------
    def ledger(s):  # type: ignore[no-untyped-def]
        rows = s.scalars(
            select(LedgerRow)
            .where(LedgerRow.action.in_(["spot_check", "rectification"]))
            .order_by(LedgerRow.seq)
        )
        return [(r.action, r.subject, json.loads(r.details)) for r in rows]

    steps = await app_db(world.client).run(ledger)
    mine = [
        (a, d["event"])
        for a, subj, d in steps
        if subj
        in (
            f"spot_check:{sc['id']}",
            f"rectification:{order['id']}",
            f"rectification:{second['id']}",
        )
    ]
    assert mine == [
        ("spot_check", "drawn"),
        ("spot_check", "scored"),
        ("rectification", "issued"),
        ("rectification", "issued"),
        ("rectification", "answered"),
    ]
    drawn = next(d for a, subj, d in steps if subj == f"spot_check:{sc['id']}")
    assert drawn["seed"] == "2026-抽查-1" and drawn["cases"] == sample
    assert drawn["population"] == 5 and len(drawn["population_sha256"]) == 64
    assert all(subj.split(":")[0] in ("spot_check", "rectification") for _, subj, _ in steps)

    listing = await world.call("GET", "/api/v1/spot-checks?agency=A1", "supervisor")
    mine_row = next(i for i in listing["items"] if i["id"] == sc["id"])
    assert mine_row["scored"] == 1 and mine_row["mean_score"] == row["score"]
    # an officer of A2 sees nothing of A1's spot checks
    await world.call("GET", f"/api/v1/spot-checks/{sc['id']}", "officer2", status=403)
