"""Cases (案件) and their five stages: opening, editing, complaints and moving forward (archiving
is refused while records are missing). Every write is ledgered in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.canonical import canonical_hash
from integrity.ledger import CASE_CHANGE, COMPLAINT
from server.access import CROSS_AGENCY, WRITE_CASES, Principal, require
from server.cases import compliance
from server.cases.facts import case_facts
from server.cases.inputs import field_choice, field_flag, field_list, field_text, field_time
from server.cases.lookups import ensure_writable, get_case, officer_entry, pack_for
from server.cases.views import case_json, complaint_json
from server.catalogue.models import (
    CASE_STAGES,
    ENFORCEMENT_TYPES,
    PROCEDURES,
    Agency,
    Case,
    CaseComplaint,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.errors import BadRequest, Conflict, Forbidden
from server.isotime import iso
from server.settings import Settings

COMPLAINT_DECISIONS = ("pending", "investigate", "declined")


class ArchivingRefused(Conflict):
    """Archiving was asked for while records are missing; carries the list."""

    code = "archiving_refused"

    def __init__(self, missing: list[dict[str, Any]]):
        super().__init__(
            f"the case cannot be archived: {len(missing)} required record(s) or "
            "finding(s) outstanding"
        )
        self.missing = missing


def create_case(
    s: Session, who: Principal, data: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Open a case in the caller's agency (cross-agency roles name the agency)."""
    require(who, WRITE_CASES)
    code = data.get("agency")
    if who.role in CROSS_AGENCY:
        if not isinstance(code, str) or not code:
            raise BadRequest(
                "field 'agency' (agency code) is required for this role", code="bad_field"
            )
        agency = s.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            raise BadRequest(f"no agency {code!r}", code="bad_agency", params={"field": "agency"})
    else:
        agency = s.get(Agency, who.agency_id) if who.agency_id is not None else None
        if agency is None:
            raise Forbidden("the caller belongs to no agency")
        if code not in (None, "", agency.code):
            raise Forbidden(f"role {who.role!r} may not open cases in agency {code!r}")
    require(who, WRITE_CASES, agency.id)
    number = field_text(data, "number", 100, required=True)
    if s.scalar(select(Case).where(Case.agency_id == agency.id, Case.number == number)) is not None:
        raise Conflict(
            f"case number {number!r} already exists in agency {agency.code}",
            code="duplicate_number",
        )
    parties = _parties(data)
    officers = [
        officer_entry(s, agency.id, o, with_shown=False) for o in field_list(data, "officers")
    ]
    opened_at = field_time(data, "opened_at") or utcnow()
    if opened_at > utcnow() + timedelta(minutes=5):
        raise BadRequest("field 'opened_at' is in the future", code="bad_time")
    procedure = field_choice(data, "procedure", PROCEDURES, required=True)
    disputed = field_flag(data, "disputed")
    case = Case(
        agency_id=agency.id,
        number=number,
        title=field_text(data, "title", 500, required=True),
        enforcement_type=field_choice(data, "enforcement_type", ENFORCEMENT_TYPES, required=True),
        procedure=procedure,
        parties=parties,
        officers=officers,
        emergency_start=field_flag(data, "emergency_start"),
        major=field_flag(data, "major"),
        disputed=disputed,
        description=field_text(data, "description", 5000),
        opened_at=opened_at,
        stage="initiation",
        status="open",
        stage_history=[{"stage": "initiation", "at": iso(opened_at), "by": who.user_id}],
        created_by=who.user_id,
        created_at=utcnow(),
    )
    s.add(case)
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=CASE_CHANGE,
        subject=f"case:{case.id}",
        details={
            "event": "opened",
            "number": number,
            "agency": agency.code,
            "enforcement_type": case.enforcement_type,
            "procedure": procedure,
            "emergency_start": case.emergency_start,
            "major": case.major,
            "disputed": disputed,
            "opened_at": iso(opened_at),
            "officers": [o["officer_id"] or o["certificate_no"] for o in officers],
        },
    )
    return case_json(s, case)


def _parties(data: dict[str, Any]) -> list[dict[str, Any]]:
    parties = []
    for p in field_list(data, "parties"):
        if isinstance(p, str) and p.strip():
            parties.append({"name": p.strip()[:200]})
        elif isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip():
            parties.append(
                {k: str(v)[:300] for k, v in p.items() if isinstance(k, str) and len(k) <= 40}
            )
        else:
            raise BadRequest("each party is a name or an object with a name", code="bad_field")
    return parties


EDITABLE = ("parties", "officers", "title", "description", "disputed", "major")


def update_case(s: Session, ref: str, who: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Edit an open case's parties, officers, title, description and flags; ledgered with the
    values before and after."""
    case = get_case(s, ref, who, WRITE_CASES)
    ensure_writable(case)
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise BadRequest(
            f"field {unknown[0]!r} cannot be edited (editable: {', '.join(EDITABLE)})",
            code="bad_field",
        )
    changes: dict[str, Any] = {}
    if "parties" in data:
        changes["parties"] = _parties(data)
    if "officers" in data:
        changes["officers"] = [
            officer_entry(s, case.agency_id, o, with_shown=False)
            for o in field_list(data, "officers")
        ]
    if "title" in data:
        changes["title"] = field_text(data, "title", 500, required=True)
    if "description" in data:
        changes["description"] = field_text(data, "description", 5000)
    for flag in ("disputed", "major"):
        if flag in data:
            changes[flag] = field_flag(data, flag)
    changes = {k: v for k, v in changes.items() if getattr(case, k) != v}
    if not changes:
        return case_json(s, case)
    before = {k: getattr(case, k) for k in changes}
    for k, v in changes.items():
        setattr(case, k, v)
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=CASE_CHANGE,
        subject=f"case:{case.id}",
        details={"event": "edited", "number": case.number, "before": before, "after": changes},
    )
    return case_json(s, case)


def add_ledgered(
    s: Session,
    who: Principal,
    action: str,
    case: Case,
    row: Any,
    to_json: Callable[[Any], dict[str, Any]],
    details: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Insert a case's record, approval or complaint and ledger it in the same transaction, with
    the case number and the SHA-256 of exactly what the API answers (details may use the new id)."""
    s.add(row)
    s.flush()
    body = to_json(row)
    append(
        s,
        actor=actor_of(who),
        action=action,
        subject=f"case:{case.id}",
        details={**details(), "number": case.number, "sha256": canonical_hash(body)},
    )
    return body


def add_complaint(s: Session, ref: str, who: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """A complaint or report (Art. 9) and the decision on it."""
    case = get_case(s, ref, who, WRITE_CASES)
    ensure_writable(case)
    complainant = field_text(data, "complainant", 200)
    c = CaseComplaint(
        case_id=case.id,
        received_at=field_time(data, "received_at") or utcnow(),
        channel=field_text(data, "channel", 40),
        complainant=complainant,
        named=field_flag(data, "named", bool(complainant)),
        contact=field_text(data, "contact", 200),
        content=field_text(data, "content", 10000),
        decision=field_choice(data, "decision", COMPLAINT_DECISIONS, default="pending")
        or "pending",
        decision_reason=field_text(data, "decision_reason", 5000),
        created_by=who.user_id,
        created_at=utcnow(),
    )
    return add_ledgered(
        s,
        who,
        COMPLAINT,
        case,
        c,
        complaint_json,
        lambda: {"complaint": c.id, "named": c.named, "decision": c.decision},
    )


def move_stage(
    s: Session, ref: str, who: Principal, data: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Move the case forward; archiving is refused while required records are missing."""
    case = get_case(s, ref, who, WRITE_CASES)
    target = field_choice(data, "stage", CASE_STAGES, required=True)
    assert target is not None
    now_i, to_i = CASE_STAGES.index(case.stage), CASE_STAGES.index(target)
    if to_i == now_i:
        return case_json(s, case)
    ensure_writable(case)
    if to_i < now_i:
        raise Conflict(f"a case moves forward only; it is at {case.stage}", code="stage_backwards")
    if target == "archiving":
        blockers = compliance.archiving_blockers(
            pack_for(s, settings, case.agency_id), case_facts(s, case), utcnow()
        )
        if blockers:
            raise ArchivingRefused(blockers)
    now = utcnow()
    old = case.stage
    case.stage = target
    case.stage_history = [*case.stage_history, {"stage": target, "at": iso(now), "by": who.user_id}]
    if target == "archiving":
        case.status, case.archived_at = "archived", now
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=CASE_CHANGE,
        subject=f"case:{case.id}",
        details={
            "event": "archived" if target == "archiving" else "stage",
            "number": case.number,
            "from": old,
            "to": target,
        },
    )
    return case_json(s, case)
