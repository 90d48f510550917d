"""Internal approvals (Art. 24): a request naming handler, reviewer and approver, and each named
person's decision in turn, at server time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrity.canonical import canonical_hash
from integrity.ledger import APPROVAL
from server.cases.commands import add_ledgered
from server.cases.inputs import PAGE_MAX, field_choice, field_json, field_text
from server.cases.lookups import ensure_writable, get_case, pack_for
from server.cases.views import (
    APPROVAL_ORDER,
    OPEN_APPROVAL,
    approval_json,
    people_json,
    person_json,
    waiting_for,
)
from server.catalogue.models import Case, CaseApproval, User, utcnow
from server.custody.ledger import actor_of, append
from server.http.access import (
    CROSS_AGENCY,
    LEGAL_REVIEW,
    READ_CASES,
    WRITE_CASES,
    Principal,
    require,
)
from server.http.errors import BadRequest, Conflict, Forbidden, NotFound
from server.isotime import iso
from server.settings import Settings

APPROVAL_FIELDS = (
    "reason",
    "party",
    "handler_opinion",
    "unit_opinion",
    "legal_basis",
    "legal_review_opinion",
)


DECIDING_ROLES = ("officer", "reviewer", "legal", "admin")  # who may be named in an approval


def _user_id(s: Session, data: dict[str, Any], key: str, case: Case) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"field {key!r} must be a user id", code="bad_field")
    user = s.get(User, value)
    # Another agency's account answers like a missing one: agencies are sealed from each other.
    if (
        user is None
        or not user.active
        or (user.agency_id is not None and user.agency_id != case.agency_id)
    ):
        raise BadRequest(f"field {key!r}: no active user {value} in this agency", code="bad_field")
    if user.role not in DECIDING_ROLES:
        raise BadRequest(
            f"field {key!r}: a {user.role} account cannot take part in an approval",
            code="bad_field",
        )
    return value


CLIENT_TIME_KEYS = frozenset(
    {"approved_at", "reviewed_at", "decided_at", "handled_at", "created_at", "time", "at"}
)

DECISIONS = ("approve", "reject")


def _refuse_client_time(data: dict[str, Any]) -> None:
    """An approval's times are the server's: a client-supplied time is refused, never used."""
    sent = sorted(k for k in data if k in CLIENT_TIME_KEYS)
    if sent:
        raise BadRequest(
            f"field {sent[0]!r} is refused: approval times are set by the server when each "
            "named person decides (a paper approval made offline is recorded as a scanned "
            "document record, whose time is the writer's claim)",
            code="client_time_refused",
        )


def add_approval(
    s: Session, ref: str, who: Principal, data: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Request an internal approval naming handler (the caller unless named), reviewer and
    approver: three different people (Art. 24). Nobody's decision is recorded here except the
    caller's own request as handler; each named person decides in their own session."""
    case = get_case(s, ref, who, WRITE_CASES)
    ensure_writable(case)
    _refuse_client_time(data)
    pack = pack_for(s, settings, case.agency_id)
    kind = field_choice(data, "kind", pack.approval_kinds, required=True)
    assert kind is not None
    spec = pack.approval_kinds[kind]
    if spec.legal_only:
        require(who, LEGAL_REVIEW, case.agency_id)
    if data.get("handler_id") in (None, ""):
        data = {**data, "handler_id": who.user_id}
    people = {k: _user_id(s, data, k, case) for k in ("handler_id", "reviewer_id", "approver_id")}
    if len(set(people.values())) != 3:
        raise Conflict(
            "handler, reviewer and approver must be three different people (Art. 24)",
            code="separation_of_duties",
        )
    fields = field_json(data)
    for key in APPROVAL_FIELDS:  # the Art. 8 form's fields may also come at the top level
        if key in data:
            fields[key] = field_text(data, key, 5000)
    now = utcnow()
    decisions: list[dict[str, Any]] = []
    if people["handler_id"] == who.user_id:  # the handler's own act: asking
        decisions.append(
            {
                "role": "handler",
                "user_id": who.user_id,
                "username": who.username,
                "decision": "request",
                "opinion": str(fields.get("handler_opinion") or ""),
                "at": iso(now),
            }
        )
    a = CaseApproval(
        case_id=case.id,
        kind=kind,
        stage=spec.stage or case.stage,
        handler_id=people["handler_id"],
        reviewer_id=people["reviewer_id"],
        approver_id=people["approver_id"],
        fields=fields,
        status="pending",
        decisions=decisions,
        approved_at=None,
        created_by=who.user_id,
        created_at=now,
    )
    return add_ledgered(
        s,
        who,
        APPROVAL,
        case,
        a,
        approval_json,
        lambda: {"event": "requested", "approval": a.id, "kind": kind, **people},
    )


def decide_approval(
    s: Session, approval_id: str, who: Principal, data: dict[str, Any]
) -> dict[str, Any]:
    """One named person's decision on an approval request, in order (handler when asked in
    their name, reviewer, approver), at server time; ledgered in the same transaction."""
    _refuse_client_time(data)
    unknown = sorted(set(data) - {"decision", "opinion"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}", code="bad_field")
    a = s.get(CaseApproval, approval_id) if len(approval_id) <= 64 else None
    if a is None:
        raise NotFound(f"no approval {approval_id}")
    case = get_case(s, a.case_id, who, WRITE_CASES)
    decision = field_choice(data, "decision", DECISIONS, required=True)
    opinion = field_text(data, "opinion", 5000)
    if a.status not in OPEN_APPROVAL:
        raise Conflict(f"the approval is already {a.status}", code="approval_closed")
    ensure_writable(case)
    turn = waiting_for(a)
    assert turn is not None
    named = {role: getattr(a, f"{role}_id") for role in APPROVAL_ORDER}
    if who.user_id not in named.values():
        raise Forbidden("only the people the approval names may decide on it", code="not_named")
    if turn["user_id"] != who.user_id:
        mine = next(r for r, uid in named.items() if uid == who.user_id)
        done = {d.get("role") for d in a.decisions or ()}
        state = "already decided" if mine in done else f"waits for the {turn['role']} first"
        raise Conflict(f"you are the {mine} of this approval; it {state}", code="not_your_turn")
    role = turn["role"]
    now = utcnow()
    a.decisions = [
        *(a.decisions or []),
        {
            "role": role,
            "user_id": who.user_id,
            "username": who.username,
            "decision": decision,
            "opinion": opinion,
            "at": iso(now),
        },
    ]
    fields = dict(a.fields or {})
    if decision == "reject":
        a.status, a.decided_at = "rejected", now
    elif role == "reviewer":
        a.status, a.reviewed_at = "reviewed", now
        key = "legal_review_opinion" if a.kind == "legal_review" else "unit_opinion"
        if opinion and not str(fields.get(key) or "").strip():
            fields[key] = opinion  # the reviewing unit's opinion is the reviewer's own act
    elif role == "approver":
        a.status, a.decided_at, a.approved_at = "approved", now, now
        if opinion:
            fields["approver_opinion"] = opinion
    a.fields = fields
    s.flush()
    body = approval_json(a)
    append(
        s,
        actor=actor_of(who),
        action=APPROVAL,
        subject=f"case:{case.id}",
        details={
            "event": "decision",
            "approval": a.id,
            "kind": a.kind,
            "role": role,
            "decision": decision,
            "opinion": opinion,
            "status": a.status,
            "number": case.number,
            "sha256": canonical_hash(body),
        },
    )
    return {**body, "people": people_json(s, body)}


def case_people(s: Session, ref: str, who: Principal) -> dict[str, Any]:
    """The active people of the case's agency who can be named in its approvals."""
    case = get_case(s, ref, who)
    users = s.scalars(
        select(User)
        .where(User.agency_id == case.agency_id, User.active.is_(True))
        .where(User.role.in_(DECIDING_ROLES))
        .order_by(User.id)
    )
    return {"items": [person_json(s, u.id) for u in users], "next": None}


def list_approvals(
    s: Session, who: Principal, *, pending: str | None = None, case: str | None = None
) -> dict[str, Any]:
    """Approvals that name the caller (pending=me: those waiting for the caller's decision),
    or those of one case; newest first."""
    require(who, READ_CASES)
    query = select(CaseApproval, Case).join(Case, Case.id == CaseApproval.case_id)
    if who.role not in CROSS_AGENCY:
        query = query.where(Case.agency_id == who.agency_id)
    if case:
        query = query.where(CaseApproval.case_id == get_case(s, case, who).id)
    if pending not in (None, "", "me"):
        raise BadRequest("pending must be 'me'", code="bad_field")
    if pending == "me" or not case:
        query = query.where(
            or_(
                CaseApproval.handler_id == who.user_id,
                CaseApproval.reviewer_id == who.user_id,
                CaseApproval.approver_id == who.user_id,
            )
        )
    if pending == "me":
        query = query.where(CaseApproval.status.in_(OPEN_APPROVAL))
    rows = s.execute(query.order_by(CaseApproval.created_at.desc()).limit(PAGE_MAX))
    items = []
    for a, c in rows:
        body = approval_json(a)
        if pending == "me" and (body["waiting_for"] or {}).get("user_id") != who.user_id:
            continue
        items.append(
            {
                **body,
                "people": people_json(s, body),
                "case_number": c.number,
                "case_title": c.title,
                "case_stage": c.stage,
            }
        )
    return {"items": items, "next": None}
