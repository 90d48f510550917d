"""Supervision: approval requests still waiting for a decision longer than N days (Art. 8, 24)
are overdue; decided ones (approved or rejected) are not."""

from __future__ import annotations

from datetime import timedelta

from helpers import app_db


async def test_pending_approval_requests_older_than_n_days(world) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.models import CaseApproval

    old = await world.case(number="P-1")
    fresh = await world.case(number="P-2")
    rejected = await world.case(number="P-3")
    reqs = {}
    for c in (old, fresh, rejected):
        reqs[c["number"]] = await world.call(
            "POST",
            f"/api/v1/cases/{c['id']}/approvals",
            body={
                "kind": "initiation",
                "reviewer_id": world.uid["reviewer"],
                "approver_id": world.uid["legal"],
            },
            status=201,
        )
    await world.call(
        "POST",
        f"/api/v1/approvals/{reqs['P-3']['id']}/decision",
        "reviewer",
        body={"decision": "reject", "opinion": "材料不全"},
    )

    def age(s):  # type: ignore[no-untyped-def]
        # time passes: P-1 and P-3 were requested five days ago, P-2 one day ago
        for number, days in (("P-1", 5), ("P-2", 1), ("P-3", 5)):
            a = s.get(CaseApproval, reqs[number]["id"])
            a.created_at = a.created_at - timedelta(days=days)

    await app_db(world.client).run(age)
    rep = await world.call("GET", "/api/v1/supervision?agency=A1", "supervisor")
    pending = [o for o in rep["agencies"][0]["overdue_approvals"] if o["reason"] == "pending"]
    assert [o["number"] for o in pending] == ["P-1"]
    assert pending[0]["id"] == old["id"] and pending[0]["age_days"] >= 5
    assert pending[0]["approval_id"] == reqs["P-1"]["id"] and pending[0]["kind"] == "initiation"
    loose = await world.call("GET", "/api/v1/supervision?agency=A1&pending_days=0.5", "supervisor")
    numbers = [o["number"] for o in loose["agencies"][0]["overdue_approvals"]]
    assert numbers == ["P-1", "P-2"] and fresh["id"]
