"""Catalogue level, on SQLite and PostgreSQL: the migration matches the models; case numbers
are unique per agency; the compliance facts read the same from both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.access import Principal
from server.catalogue.models import Agency, Case
from server.errors import BadRequest, Conflict

TABLES = (
    "cases",
    "case_records",
    "case_links",
    "case_approvals",
    "case_complaints",
    "legal_holds",
    "disposal_requests",
)


def test_migration_matches_models(db) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from server.catalogue.models import Base

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in TABLES)]
    assert mine == [], mine


def test_case_numbers_unique_per_agency(db) -> None:  # type: ignore[no-untyped-def]
    from server.people.accounts import add_agency

    def setup(s):  # type: ignore[no-untyped-def]
        a, b = add_agency(s, "A1", "a"), add_agency(s, "A2", "b")
        s.add(
            Case(
                agency_id=a.id,
                number="N",
                title="t",
                enforcement_type="penalty",
                procedure="general",
            )
        )
        s.add(
            Case(
                agency_id=b.id,
                number="N",
                title="t",
                enforcement_type="penalty",
                procedure="general",
            )
        )

    db.call(setup)
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: s.add(
                Case(
                    agency_id=s.scalar(select(Agency).where(Agency.code == "A1")).id,
                    number="N",
                    title="t",
                    enforcement_type="penalty",
                    procedure="general",
                )
            )
        )


def test_domain_round_trip_and_findings(db) -> None:  # type: ignore[no-untyped-def]
    from server.cases import approvals, commands, facts
    from server.catalogue.models import LedgerRow
    from server.people.accounts import add_agency, add_user

    settings = db.settings

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "a")
        u = [
            add_user(s, n, "correct horse battery", r, "A1")
            for n, r in (("o", "officer"), ("r", "reviewer"), ("l", "legal"))
        ]
        return [x.id for x in u]

    uids = db.call(setup)
    who = Principal(uids[0], "o", "officer", db.call(lambda s: s.scalar(select(Agency)).id))
    # opened ten minutes before it was entered (within the tolerance, so the Art. 8 clock trusts
    # opened_at); the case is then moved 30 hours into the past, as if entered then
    t0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    c = db.call(
        commands.create_case,
        who,
        {
            "number": "丽-1",
            "title": "检查",
            "enforcement_type": "inspection",
            "procedure": "general",
            "emergency_start": True,
            "opened_at": t0.isoformat(),
        },
        settings,
    )
    back = timedelta(hours=30)

    def entered_30h_ago(s):  # type: ignore[no-untyped-def]
        case = s.get(Case, c["id"])
        case.opened_at, case.created_at = case.opened_at - back, case.created_at - back

    db.call(entered_30h_ago)
    t0 -= back
    form = {
        "kind": "initiation",
        "reviewer_id": uids[1],
        "approver_id": uids[2],
        "reason": "r",
        "party": "p",
        "handler_opinion": "h",
        "unit_opinion": "u",
        "legal_basis": "l",
    }
    # A back-dated approval is refused: the approval time is the server's.
    with pytest.raises(BadRequest):
        db.call(
            approvals.add_approval, c["id"], who, {**form, "approved_at": t0.isoformat()}, settings
        )
    req = db.call(approvals.add_approval, c["id"], who, form, settings)
    assert req["handler_id"] == uids[0] and req["status"] == "pending"
    rep = db.call(facts.compliance_report, "丽-1", who, settings)
    assert [f["rule"] for f in rep["findings"]] == ["art8-emergency-approval-24h"]
    assert rep["findings"][0]["code"] == "approval_missing"  # a request is no approval
    r = Principal(uids[1], "r", "reviewer", who.agency_id)
    lg = Principal(uids[2], "l", "legal", who.agency_id)
    with pytest.raises(Conflict):  # the approver waits for the reviewer
        db.call(approvals.decide_approval, req["id"], lg, {"decision": "approve"})
    db.call(approvals.decide_approval, req["id"], r, {"decision": "approve", "opinion": "同意"})
    before = datetime.now(UTC)
    done = db.call(approvals.decide_approval, req["id"], lg, {"decision": "approve"})
    assert done["status"] == "approved" and done["fields"]["unit_opinion"] == "u"
    rep = db.call(facts.compliance_report, "丽-1", who, settings)
    assert [f["rule"] for f in rep["findings"]] == ["art8-emergency-approval-24h"]
    assert rep["findings"][0]["code"] == "approval_late"
    late = rep["findings"][0]["detail"]["approved_at"]
    assert before <= late <= datetime.now(UTC)  # server time, 30 hours after the start
    actions = db.call(
        lambda s: [r.action for r in s.scalars(select(LedgerRow).order_by(LedgerRow.seq))]
    )
    assert actions == ["case_change", "approval", "approval", "approval"]


def test_search_by_party_and_officer_and_pending_approvals(db) -> None:  # type: ignore[no-untyped-def]
    """Parties and officers are JSON: the search finds them on SQLite and PostgreSQL alike, and
    pending=me lists what waits for each named person in turn."""
    from server.cases import approvals, commands, queries
    from server.people.accounts import add_agency, add_user

    settings = db.settings

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "a")
        return [
            add_user(s, n, "correct horse battery", r, "A1").id
            for n, r in (("o", "officer"), ("r", "reviewer"), ("l", "legal"))
        ]

    uids = db.call(setup)
    agency = db.call(lambda s: s.scalar(select(Agency)).id)
    o, r, lg = (
        Principal(u, n, role, agency)
        for u, n, role in zip(uids, "orl", ("officer", "reviewer", "legal"), strict=True)
    )
    db.call(
        commands.create_case,
        o,
        {
            "number": "S-1",
            "title": "检查",
            "enforcement_type": "inspection",
            "procedure": "general",
            "parties": ["丽水某超市有限公司", {"name": "吴某", "role": "店长"}],
            "officers": [{"name": "王明", "certificate_no": "33110001"}],
        },
        settings,
    )
    db.call(
        commands.create_case,
        o,
        {"number": "S-2", "title": "其他", "enforcement_type": "penalty", "procedure": "simple"},
        settings,
    )

    def numbers(q: str) -> list[str]:
        return [c["number"] for c in db.call(queries.list_cases, o, q=q)["items"]]

    assert numbers("某超市") == ["S-1"]
    assert numbers("吴某") == ["S-1"]
    assert numbers("王明") == ["S-1"]
    assert numbers("33110001") == ["S-1"]
    assert numbers("其他") == ["S-2"]
    assert numbers("不存在") == []
    req = db.call(
        approvals.add_approval,
        "S-1",
        o,
        {"kind": "initiation", "reviewer_id": uids[1], "approver_id": uids[2]},
        settings,
    )

    def pending(who):
        return [a["id"] for a in db.call(approvals.list_approvals, who, pending="me")["items"]]

    assert (pending(o), pending(r), pending(lg)) == ([], [req["id"]], [])
    db.call(approvals.decide_approval, req["id"], r, {"decision": "approve"})
    assert (pending(r), pending(lg)) == ([], [req["id"]])
    done = db.call(approvals.decide_approval, req["id"], lg, {"decision": "approve"})
    assert done["status"] == "approved" and pending(lg) == []
