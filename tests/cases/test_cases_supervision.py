"""Supervision (Art. 5, 22): per agency and period, JSON and CSV; who may see what."""

from __future__ import annotations

import csv
import io

from cases.conftest import at

from helpers import bearer


async def test_supervision_report_json_and_csv(world) -> None:  # type: ignore[no-untyped-def]
    complete = await world.case(number="SV-1", opened_at=at(0))
    await world.approve(
        complete["id"],
        reason="r",
        party="p",
        handler_opinion="h",
        unit_opinion="u",
        legal_basis="l",
    )
    incomplete = await world.case(number="SV-2", opened_at=at(60), enforcement_type="penalty")
    await world.call("POST", f"/api/v1/cases/{incomplete['id']}/stage", body={"stage": "decision"})
    await world.case(number="SV-OLD", opened_at=at(-60 * 24 * 40))  # outside the period
    await world.call(
        "POST",
        "/api/v1/cases",
        "officer2",
        body={
            "number": "B-1",
            "title": "t",
            "enforcement_type": "licensing",
            "procedure": "simple",
            "opened_at": at(10),
        },
    )

    period = f"from={at(-60)}&to={at(24 * 60)}"
    rep = await world.call("GET", f"/api/v1/supervision?{period}", "supervisor")
    by = {a["agency"]: a for a in rep["agencies"]}
    a1 = by["A1"]
    assert a1["cases"] == 2 and a1["complete"] == 1 and a1["complete_share"] == 0.5
    assert a1["by_type"]["inspection"] == 1 and a1["by_type"]["penalty"] == 1
    assert a1["by_stage"]["initiation"] == 1 and a1["by_stage"]["decision"] == 1
    assert a1["findings_by_rule"]["art3-required-records"] == 2
    assert by["A2"]["cases"] == 1 and by["A2"]["by_type"]["licensing"] == 1

    r = await world.client.get(
        f"/api/v1/supervision?{period}&format=csv", headers=bearer(world.tokens["supervisor"])
    )
    assert r.status == 200 and r.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    row = next(x for x in rows if x["agency"] == "A1")
    assert row["cases"] == "2" and row["complete_share"] == "0.5"
    assert row["rule:art3-required-records"] == "2" and row["stage:decision"] == "1"

    # An agency's legal office sees its own agency only; officers see none.
    own = await world.call("GET", f"/api/v1/supervision?{period}", "legal")
    assert [a["agency"] for a in own["agencies"]] == ["A1"]
    await world.call("GET", "/api/v1/supervision?agency=A2", "legal", status=403)
    await world.call("GET", "/api/v1/supervision", "officer", status=403)
    one = await world.call("GET", "/api/v1/supervision?agency=A2", "supervisor")
    assert [a["agency"] for a in one["agencies"]] == ["A2"]
    await world.call("GET", "/api/v1/supervision?format=xml", "supervisor", status=400)
