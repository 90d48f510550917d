"""Reading cases: one case in detail, the keyset-paginated list, and the evidence side (the
cases an item is linked to, the items linked to a case)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.orm import Session

from server.cases import compliance
from server.cases.facts import active_links, case_facts, live_records
from server.cases.inputs import PAGE_MAX, parse_time
from server.cases.lookups import get_case, pack_for
from server.cases.views import (
    approval_json,
    case_json,
    complaint_json,
    item_summary,
    link_json,
    people_json,
    record_json,
)
from server.catalogue.models import (
    CASE_STAGES,
    Agency,
    Case,
    CaseApproval,
    CaseComplaint,
    CaseLink,
    CaseRecord,
    EvidenceItem,
    Rendition,
    utcnow,
)
from server.http.access import READ_CASES, Principal, require, sees, sees_all
from server.http.errors import BadRequest
from server.isotime import iso
from server.settings import Settings
from transcode.renditions import HLS_PLAYLIST, TRICKPLAY_VTT


def case_detail(s: Session, ref: str, who: Principal, settings: Settings) -> dict[str, Any]:
    """One case with its stages (records and items per stage), approvals, complaints, findings."""
    case = get_case(s, ref, who)
    pack = pack_for(s, settings, case.agency_id)
    records = [record_json(r) for r in live_records(s, case.id)]
    live_ids = {r["id"] for r in records}
    every = s.scalars(
        select(CaseRecord).where(CaseRecord.case_id == case.id).order_by(CaseRecord.created_at)
    )
    by_old = {r.supersedes: r.id for r in every if r.supersedes}
    superseded = [
        {**record_json(r), "superseded_by": by_old[r.id]}
        for r in s.scalars(
            select(CaseRecord).where(CaseRecord.case_id == case.id, CaseRecord.id.in_(by_old))
        )
        if r.id not in live_ids
    ]
    linked = active_links(s, case.id)
    names: dict[str, set[str]] = {}
    if linked:
        for item_id, name in s.execute(
            select(Rendition.item_id, Rendition.name).where(
                Rendition.item_id.in_([i.id for _, i in linked]),
                Rendition.name.in_([TRICKPLAY_VTT, HLS_PLAYLIST]),
            )
        ):
            names.setdefault(item_id, set()).add(name)
    items = [item_summary(i, link, names.get(i.id, set())) for link, i in linked]
    approvals = [
        approval_json(a)
        for a in s.scalars(
            select(CaseApproval)
            .where(CaseApproval.case_id == case.id)
            .order_by(CaseApproval.created_at)
        )
    ]
    approvals = [{**a, "people": people_json(s, a)} for a in approvals]
    complaints = [
        complaint_json(c)
        for c in s.scalars(
            select(CaseComplaint)
            .where(CaseComplaint.case_id == case.id)
            .order_by(CaseComplaint.received_at)
        )
    ]
    stages = []
    for stage in CASE_STAGES:
        label = pack.stages[stage]
        stages.append(
            {
                "stage": stage,
                "label_zh": label.label_zh,
                "label_en": label.label_en,
                "current": stage == case.stage,
                "reached": CASE_STAGES.index(stage) <= CASE_STAGES.index(case.stage),
                "records": [r for r in records if r["stage"] == stage],
                "superseded": [r for r in superseded if r["stage"] == stage],
                "approvals": [a for a in approvals if a["stage"] == stage],
                "items": [i for i in items if i["stage"] == stage],
            }
        )
    history = [
        link_json(link)
        for link in s.scalars(
            select(CaseLink)
            .where(CaseLink.case_id == case.id, CaseLink.unlinked_at.is_not(None))
            .order_by(CaseLink.unlinked_at)
        )
    ]
    return {
        **case_json(s, case),
        "pack": pack.id,
        "stages": stages,
        "records": records,
        "items": items,
        "approvals": approvals,
        "complaints": complaints,
        "unlinked": history,
        "findings": compliance.evaluate(pack, case_facts(s, case), utcnow()),
    }


def _cursor(c: Case) -> str:
    return base64.urlsafe_b64encode(f"{iso(c.opened_at)}|{c.id}".encode()).decode()


def _uncursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, cid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return parse_time(at, "cursor"), cid
    except (ValueError, UnicodeDecodeError, BadRequest):
        raise BadRequest("bad cursor", code="bad_cursor") from None


def list_cases(
    s: Session,
    who: Principal,
    *,
    q: str | None = None,
    enforcement_type: str | None = None,
    status: str | None = None,
    stage: str | None = None,
    agency: str | None = None,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Cases visible to the caller, newest opened first, keyset-paginated."""
    require(who, READ_CASES)
    limit = max(1, min(limit, PAGE_MAX))
    query = select(Case)
    if not sees_all(who):
        query = query.where(Case.agency_id == who.agency_id)
    if agency:
        a = s.scalar(select(Agency).where(Agency.code == agency))
        query = query.where(Case.agency_id == (a.id if a else -1))
    if q:
        text = q.replace("%", "").replace("_", "").replace("!", "")[:100]
        like = f"%{text}%"
        # parties and officers are JSON (stored with \\u escapes): match the escaped form too
        escaped = f"%{json.dumps(text)[1:-1]}%"
        people = [
            cast(col, Text).ilike(pattern, escape="!")
            for col in (Case.parties, Case.officers)
            for pattern in {like, escaped}
        ]
        query = query.where(or_(Case.number.ilike(like), Case.title.ilike(like), *people))
    if enforcement_type:
        query = query.where(Case.enforcement_type == enforcement_type)
    if status:
        query = query.where(Case.status == status)
    if stage:
        query = query.where(Case.stage == stage)
    if start:
        query = query.where(Case.opened_at >= parse_time(start, "from"))
    if end:
        query = query.where(Case.opened_at < parse_time(end, "to"))
    if cursor:
        at, cid = _uncursor(cursor)
        query = query.where(or_(Case.opened_at < at, and_(Case.opened_at == at, Case.id < cid)))
    rows = list(s.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [case_json(s, c) for c in rows], "next": _cursor(rows[-1]) if more else None}


def item_links(s: Session, item_id: str, who: Principal | None = None) -> list[dict[str, Any]]:
    """The cases and stages an item is linked to (for the evidence detail): only the cases of
    agencies the caller sees (every case for the system, who=None)."""
    rows = s.execute(
        select(CaseLink, Case)
        .join(Case, Case.id == CaseLink.case_id)
        .where(CaseLink.item_id == item_id)
        .order_by(CaseLink.linked_at)
    )
    return [
        {**link_json(link), "case_number": case.number, "case_title": case.title}
        for link, case in rows
        if who is None or sees(who, case.agency_id)
    ]


def case_item_filter(s: Session, ref: str, who: Principal) -> Any:
    """A where-clause for evidence linked (now) to the case with this id or number."""
    case = get_case(s, ref, who)
    return EvidenceItem.id.in_(
        select(CaseLink.item_id).where(CaseLink.case_id == case.id, CaseLink.unlinked_at.is_(None))
    )
