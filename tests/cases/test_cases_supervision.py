"""Supervision (Art. 5, 22, 25): per agency, unit and period, JSON, CSV and XLSX; per-article
non-compliance with the case numbers behind every number; overdue approvals, missing AV,
execution coverage, officers, trend, packs not filed; who may see what."""

from __future__ import annotations

import csv
import io

from cases.conftest import at
from sqlalchemy import select

from helpers import app_db, bearer


async def _initiation(world, cid: str) -> None:  # type: ignore[no-untyped-def]
    """The initiation approval, requested and decided by each named person (at server time)."""
    await world.approve(
        cid, reason="r", party="p", handler_opinion="h", unit_opinion="u", legal_basis="l"
    )


async def test_supervision_report_json_csv_and_xlsx(world) -> None:  # type: ignore[no-untyped-def]
    complete = await world.case(number="SV-1", opened_at=at(0))
    await _initiation(world, complete["id"])
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
    # every number has its case list: the drill-down of the supervision view
    assert [c["number"] for c in a1["case_list"]["complete"]] == ["SV-1"]
    assert [c["number"] for c in a1["case_list"]["noncompliant"]] == ["SV-2"]
    arts = {x["article"]: x for x in a1["by_article"]}
    assert set(arts) == {8, 11}  # the initiation approval (Art. 8) and a transcript (Art. 11)
    assert [c["number"] for c in arts[8]["case_list"]] == ["SV-2"]
    assert arts[8]["case_list"][0]["id"] == incomplete["id"] and arts[8]["error_cases"] == 1
    assert [t["month"] for t in a1["trend"]] == ["2026-03"] and a1["trend"][0]["cases"] == 2
    names = {o["name"]: o for o in a1["officers"]}
    assert names["王明"]["cases"] == 2 and names["王明"]["complete"] == 1
    assert [u["unit"] for u in a1["units"]] == [""] and a1["units"][0]["cases"] == 2
    # no agency has filed its own recording rules (Art. 25): all are listed as not filed
    assert {p["agency"] for p in rep["packs_not_filed"]} == {"A1", "A2"}

    r = await world.client.get(
        f"/api/v1/supervision?{period}&format=csv", headers=bearer(world.tokens["supervisor"])
    )
    assert r.status == 200 and r.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    row = next(x for x in rows if x["机关代码"] == "A1" and not x["执法单位"])
    assert row["案件数"] == "2" and row["完整率"] == "0.5" and row["已归档"] == "0"
    assert row["第8条不符合"] == "1" and row["行政处罚"] == "1" and row["记录制度备案"] == "未备案"
    assert not any(k.startswith("rule:") for k in row)
    unit_row = next(x for x in rows if x["机关代码"] == "A1" and x["执法单位"])
    assert unit_row["执法单位"] == "未指定单位" and unit_row["案件数"] == "2"
    en = await world.client.get(
        f"/api/v1/supervision?{period}&format=csv",
        headers={**bearer(world.tokens["supervisor"]), "Accept-Language": "en"},
    )
    assert "Agency code" in (await en.text()).splitlines()[0]
    r = await world.client.get(
        f"/api/v1/supervision?{period}&format=csv&table=articles",
        headers=bearer(world.tokens["supervisor"]),
    )
    arts_csv = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    art8_row = next(x for x in arts_csv if x["机关代码"] == "A1" and x["条款"] == "8")
    assert art8_row["案号"] == "SV-2" and art8_row["案件数"] == "1"
    await world.call("GET", "/api/v1/supervision?format=csv&table=nope", "supervisor", status=400)

    from server.cases.spreadsheet import read_xlsx

    r = await world.client.get(
        f"/api/v1/supervision?{period}&format=xlsx", headers=bearer(world.tokens["supervisor"])
    )
    assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
    data = await r.read()
    book = read_xlsx(data)
    assert list(book) == ["汇总", "按条款", "逾期审批", "执法人员", "月度趋势"]
    import openpyxl  # an independent reader opens the workbook the same way

    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == list(book)
    summary = [[c.value for c in row] for row in wb["汇总"].iter_rows()]
    assert (
        summary[0][:3] == ["机关代码", "机关名称", "执法单位"]
        and summary[0][0] == book["汇总"][0][0]
    )
    a1_row = next(r for r in summary[1:] if r[0] == "A1" and not r[2])
    assert a1_row[5] == 2 and a1_row[8] == 0.5  # numbers stay numbers
    assert wb["汇总"]["A1"].font.b
    assert book["汇总"][0][:3] == ["机关代码", "机关名称", "执法单位"]
    art8 = next(x for x in book["按条款"][1:] if x[0] == "A1" and x[1] == "8")
    assert art8[-1] == "SV-2"

    # An agency's legal office sees its own agency only; officers see none.
    own = await world.call("GET", f"/api/v1/supervision?{period}", "legal")
    assert [a["agency"] for a in own["agencies"]] == ["A1"]
    await world.call("GET", "/api/v1/supervision?agency=A2", "legal", status=403)
    await world.call("GET", "/api/v1/supervision", "officer", status=403)
    one = await world.call("GET", "/api/v1/supervision?agency=A2", "supervisor")
    assert [a["agency"] for a in one["agencies"]] == ["A2"]
    await world.call("GET", "/api/v1/supervision?format=xml", "supervisor", status=400)
    await world.call("GET", "/api/v1/supervision?pending_days=x", "supervisor", status=400)
    await world.call(
        "GET", f"/api/v1/supervision?from={at(10)}&to={at(0)}", "supervisor", status=400
    )


async def test_supervision_overdue_approvals_missing_av_and_execution_coverage(world) -> None:  # type: ignore[no-untyped-def]
    """Art. 8 (补办 past 24 h), Art. 17 (disputed simple procedure without AV) and Art. 21 (the
    coverage of a 排除妨碍) on the supervision view, each with its case."""
    from datetime import UTC, datetime, timedelta

    # opened and entered 30 h ago (so the clock trusts opened_at), approved now: 6 h late.
    # Approval times are the server's, so the case's own times are moved back instead.
    from server.catalogue.models import Case

    opened = datetime.now(UTC) - timedelta(hours=30)
    emergency = await world.case(number="EM-1", opened_at=at(0, opened), emergency_start=True)

    def entered_30h_ago(s):  # type: ignore[no-untyped-def]
        s.get(Case, emergency["id"]).created_at = opened

    app_db(world.client).call(entered_30h_ago)
    await world.approve(emergency["id"])
    disputed = await world.case(
        number="DS-1",
        opened_at=at(5),
        procedure="simple",
        disputed=True,
        enforcement_type="penalty",
    )
    coercion = await world.case(number="EX-1", opened_at=at(6), enforcement_type="coercion")
    await world.call(
        "POST",
        f"/api/v1/cases/{coercion['id']}/records",
        body={
            "doc_type": "enforcement_record",
            "time": at(600),
            "end_time": at(620),
            "execution_type": "remove_obstruction",
            "signature_status": "signed",
        },
    )
    rep = await world.call("GET", f"/api/v1/supervision?agency=A1&from={at(-1)}", "supervisor")
    a1 = rep["agencies"][0]
    late = [o for o in a1["overdue_approvals"] if o["reason"] == "late_24h"]
    assert [o["number"] for o in late] == ["EM-1"] and late[0]["id"] == emergency["id"]
    assert "小时" in late[0]["message"]  # the finding's text, in Chinese by default
    assert {c["number"] for c in a1["lacking_av"]} >= {"DS-1", "EX-1"}
    ex = a1["executions"]
    assert ex["count"] == 1 and ex["meeting"] == 0 and ex["coverage_share"] == 0
    assert ex["items"][0]["number"] == "EX-1" and ex["items"][0]["span_seconds"] == 1200
    assert disputed["id"] in {c["id"] for c in a1["lacking_av"]}
    en = await world.client.get(
        f"/api/v1/supervision?agency=A1&from={at(-1)}&lang=en",
        headers=bearer(world.tokens["supervisor"]),
    )
    late_en = [o for o in (await en.json())["agencies"][0]["overdue_approvals"]]
    assert "approved at" in late_en[0]["message"]


async def test_supervision_per_unit_from_the_registry(world) -> None:  # type: ignore[no-untyped-def]
    """A case counts for the unit (科室/中队) of its first officer in the registry."""
    from server.catalogue.models import Officer

    def units(s):  # type: ignore[no-untyped-def]
        for o in s.scalars(select(Officer)):
            o.unit = {"JZ001": "执法一中队", "JZ002": "执法二中队"}.get(o.code, "")

    await app_db(world.client).run(units)
    one = await world.case(number="U-1", officers=["JZ001"])
    await _initiation(world, one["id"])
    await world.case(number="U-2", officers=["JZ002"])
    three = await world.case(number="U-3", officers=["JZ002", "JZ001"])
    await world.call("POST", f"/api/v1/cases/{three['id']}/stage", body={"stage": "decision"})
    rep = await world.call("GET", "/api/v1/supervision?agency=A1", "supervisor")
    by = {u["unit"]: u for u in rep["agencies"][0]["units"]}
    assert set(by) == {"执法一中队", "执法二中队"}
    assert [c["number"] for c in by["执法一中队"]["case_list"]["cases"]] == ["U-1"]
    assert [c["number"] for c in by["执法二中队"]["case_list"]["cases"]] == ["U-2", "U-3"]
    assert by["执法一中队"]["complete_share"] == 1 and by["执法二中队"]["complete"] == 1
    assert [c["number"] for c in by["执法二中队"]["case_list"]["noncompliant"]] == ["U-3"]
    r = await world.client.get(
        "/api/v1/supervision?agency=A1&format=csv", headers=bearer(world.tokens["supervisor"])
    )
    rows = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    assert {x["执法单位"]: x["案件数"] for x in rows if x["执法单位"]} == {
        "执法一中队": "1",
        "执法二中队": "2",
    }


async def test_supervision_csv_cells_cannot_run_as_formulas(world) -> None:  # type: ignore[no-untyped-def]
    from server.cases.spreadsheet import safe_cell
    from server.catalogue.models import Agency

    def rename(s):  # type: ignore[no-untyped-def]
        s.scalar(select(Agency).where(Agency.code == "A1")).name = '=HYPERLINK("http://x")'

    await app_db(world.client).run(rename)
    await world.case(number="CSV-1", opened_at=at(0))
    r = await world.client.get(
        "/api/v1/supervision?agency=A1&format=csv", headers=bearer(world.tokens["supervisor"])
    )
    rows = list(csv.reader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    for bad in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("丽-1") == "丽-1" and safe_cell(-1) == -1


async def test_batch_facts_equal_case_facts(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The supervision report reads the facts of many cases in a few queries; they are the same
    facts the case page is judged on (records with a superseded one, approvals, complaints,
    linked and unlinked items)."""
    from datetime import UTC, datetime, timedelta

    from helpers import add_evidence, app_store
    from server.cases.facts import case_facts
    from server.cases.supervision import facts_of
    from server.catalogue.models import Case, EvidenceItem

    a = await world.case(number="F-1", emergency_start=True)
    b = await world.case(number="F-2", procedure="simple", disputed=True)
    await _initiation(world, a["id"])
    await world.call(
        "POST",
        f"/api/v1/cases/{a['id']}/complaints",
        body={"complainant": "周某", "decision": "declined", "received_at": at(-5)},
    )
    first = await world.call(
        "POST",
        f"/api/v1/cases/{a['id']}/records",
        body={
            "doc_type": "onsite_inspection_transcript",
            "time": at(5),
            "signature_status": "refused",
        },
    )
    await world.call(
        "POST",
        f"/api/v1/cases/{a['id']}/records",
        body={
            "doc_type": "onsite_inspection_transcript",
            "time": at(6),
            "supersedes": first["id"],
            "officers": [world.officer("JZ001")],
        },
    )
    db = app_db(world.client)
    items = []
    for i in range(2):
        clip = tmp_path / f"{i}.bin"
        clip.write_bytes(f"not really video {i}".encode())
        items.append(add_evidence(db, app_store(world.client), clip, filename=f"{i}.mp4"))

    def stamp(s):  # type: ignore[no-untyped-def]
        for n, i in enumerate(items):
            s.get(EvidenceItem, i).recorded_at = datetime(2026, 3, 2, 1, tzinfo=UTC) + timedelta(
                minutes=n
            )

    await db.run(stamp)
    for i in items:
        await world.call(
            "POST", f"/api/v1/cases/{b['id']}/links", body={"evidence_id": i, "stage": "decision"}
        )
    links = await world.call("GET", f"/api/v1/cases/{b['id']}")
    await world.call(
        "DELETE",
        f"/api/v1/cases/{b['id']}/links/{links['items'][0]['link_id']}",
        body={"reason": "wrong case"},
    )

    def compare(s):  # type: ignore[no-untyped-def]
        cases = list(s.scalars(select(Case).order_by(Case.number)))
        batch = facts_of(s, cases)
        return [(batch[c.id], case_facts(s, c)) for c in cases]

    pairs = await db.run(compare)
    assert len(pairs) == 2
    for got, want in pairs:
        assert got == want
    assert len(pairs[0][1].records) == 1 and len(pairs[1][1].items) == 1
