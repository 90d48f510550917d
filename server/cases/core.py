"""Cases (案件): the five stages, typed text records, evidence links, approvals, complaints,
auto-link proposals and the archiving check. Every write is ledgered in its own transaction."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.orm import Session

from integrity.canonical import canonical_hash
from integrity.ledger import APPROVAL, CASE_CHANGE, COMPLAINT, LINK, RECORD, UNLINK
from server.access import (
    CROSS_AGENCY,
    LEGAL_REVIEW,
    READ_CASES,
    WRITE_CASES,
    Principal,
    Sealed,
    require,
    require_seen,
    sees,
    sees_all,
)
from server.cases import compliance
from server.cases.rulepack import Pack, rulebook
from server.catalogue.models import (
    CASE_STAGES,
    ENFORCEMENT_TYPES,
    PROCEDURES,
    SIGNATURE_STATUSES,
    Agency,
    Case,
    CaseApproval,
    CaseComplaint,
    CaseLink,
    CaseRecord,
    EvidenceItem,
    Officer,
    Rendition,
    User,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.custody.retention import apply_class
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.isotime import iso
from server.people import registry
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)

PAGE_MAX = 200
COMPLAINT_DECISIONS = ("pending", "investigate", "declined")
APPROVAL_FIELDS = (
    "reason",
    "party",
    "handler_opinion",
    "unit_opinion",
    "legal_basis",
    "legal_review_opinion",
)
MAX_FIELDS_JSON = 20_000
DECIDING_ROLES = ("officer", "reviewer", "legal", "admin")  # who may be named in an approval
MAX_LIST = 50


class ArchivingRefused(Conflict):
    """Archiving was asked for while records are missing; carries the list."""

    code = "archiving_refused"

    def __init__(self, missing: list[dict[str, Any]]):
        super().__init__(
            f"the case cannot be archived: {len(missing)} required record(s) or "
            "finding(s) outstanding"
        )
        self.missing = missing


# -- input helpers -----------------------------------------------------------------------------
def _text(
    data: dict[str, Any], key: str, max_len: int = 500, *, required: bool = False, default: str = ""
) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be a string", code="bad_field")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"field {key!r} is required", code="bad_field")
    if len(value) > max_len:
        raise BadRequest(f"field {key!r} is longer than {max_len} characters", code="bad_field")
    return value


def _flag(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"field {key!r} must be true or false", code="bad_field")
    return value


def _choice(
    data: dict[str, Any],
    key: str,
    allowed: Any,
    *,
    default: str | None = None,
    required: bool = False,
) -> str | None:
    value = data.get(key, default)
    if value is None:
        if required:
            raise BadRequest(f"field {key!r} is required", code="bad_field")
        return None
    if value not in allowed:
        raise BadRequest(
            f"field {key!r} must be one of {', '.join(sorted(allowed))}, not {value!r}",
            code="bad_field",
        )
    return str(value)


def parse_time(value: Any, key: str) -> datetime:
    """An RFC 3339 time with an offset (a time without a zone is refused, not guessed)."""
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be an RFC 3339 time", code="bad_time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"field {key!r} is not an RFC 3339 time: {value!r}", code="bad_time"
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f"field {key!r} needs a UTC offset (e.g. Z or +08:00)", code="bad_time")
    from datetime import UTC

    return moment.astimezone(UTC)


def _opt_time(data: dict[str, Any], key: str) -> datetime | None:
    return None if data.get(key) in (None, "") else parse_time(data[key], key)


def _json_fields(data: dict[str, Any], key: str = "fields") -> dict[str, Any]:
    value = data.get(key, {}) or {}
    if not isinstance(value, dict):
        raise BadRequest(f"field {key!r} must be an object", code="bad_field")
    for k, v in value.items():
        if not isinstance(k, str) or len(k) > 60:
            raise BadRequest(
                f"field {key!r}: keys must be strings of at most 60 characters", code="bad_field"
            )
        if not isinstance(v, (str, int, float, bool, list)) and v is not None:
            raise BadRequest(
                f"field {key}.{k} must be a string, number, boolean or list", code="bad_field"
            )
    if len(json.dumps(value, ensure_ascii=False)) > MAX_FIELDS_JSON:
        raise BadRequest(
            f"field {key!r} is larger than {MAX_FIELDS_JSON} characters", code="too_large"
        )
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, []) or []
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise BadRequest(
            f"field {key!r} must be a list of at most {MAX_LIST} entries", code="bad_field"
        )
    return value


def pack_for(s: Session, settings: Settings, agency_id: int | None) -> Pack:
    """The rule pack a case of this agency is checked against (Art. 25)."""
    agency = s.get(Agency, agency_id) if agency_id is not None else None
    return rulebook(settings.rules_dir, settings.rule_pack).for_agency(
        agency.code if agency else None
    )


# -- officers ----------------------------------------------------------------------------------
def resolve_officer(s: Session, agency_id: int, ref: Any) -> Officer | None:
    """An officer of the agency by id, code (camera naming id) or certificate number."""
    if isinstance(ref, bool) or ref is None or ref == "":
        return None
    q = select(Officer).where(Officer.agency_id == agency_id)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = s.scalar(q.where(Officer.id == int(ref)))
        if found is not None:
            return found
    if isinstance(ref, str):
        return s.scalar(q.where(or_(Officer.code == ref, Officer.certificate_no == ref)))
    return None


def _officer_entry(s: Session, agency_id: int, raw: Any, *, with_shown: bool) -> dict[str, Any]:
    """{officer_id, code, name, certificate_no[, shown]} from an id, code, certificate number or
    an object naming one (an officer unknown to the catalogue may be given by name + number)."""
    body = raw if isinstance(raw, dict) else {"officer": raw}
    ref = body.get("officer", body.get("officer_id", body.get("id", body.get("code"))))
    officer = resolve_officer(s, agency_id, ref)
    if officer is None and ref not in (None, ""):
        officer = resolve_officer(s, agency_id, body.get("certificate_no"))
        if officer is None and not (body.get("name") and body.get("certificate_no")):
            raise BadRequest(f"no officer {ref!r} in this agency", code="bad_officer")
    entry: dict[str, Any] = {
        "officer_id": officer.id if officer else None,
        "code": officer.code if officer else None,
        "name": officer.name if officer else _text(body, "name", 200, required=True),
        "certificate_no": (
            officer.certificate_no
            if officer and officer.certificate_no
            else _text(body, "certificate_no", 100)
        ),
    }
    if with_shown:
        entry["shown"] = _flag(body, "shown", False)
    return entry


# -- lookups -----------------------------------------------------------------------------------
def get_case(s: Session, ref: str, who: Principal, action: str = READ_CASES) -> Case:
    """A case by id or by case number; 404 when absent or another agency's (the same answer),
    403 when the caller's role may not."""
    if not isinstance(ref, str) or not ref or len(ref) > 100:
        raise NotFound(f"no case {ref!r}")
    case = s.get(Case, ref)
    if case is None:
        # By number: only among the agencies the caller sees (numbers are unique per agency).
        numbered = list(s.scalars(select(Case).where(Case.number == ref)))
        found = [c for c in numbered if sees(who, c.agency_id)]
        if numbered and not found:
            raise Sealed(f"no case {ref!r}")  # the same answer as an absent one, ledgered
        if len(found) > 1:
            mine = [c for c in found if c.agency_id == who.agency_id]
            if len(mine) == 1:
                found = mine
            else:
                raise Conflict(
                    f"case number {ref!r} is used by several agencies; use the case id",
                    code="ambiguous_case",
                )
        case = found[0] if found else None
    if case is None:
        raise NotFound(f"no case {ref!r}")
    require_seen(who, action, case.agency_id, f"case {ref!r}")
    return case


def _writable(case: Case) -> None:
    if case.status == "archived":
        raise Conflict(f"case {case.number} is archived; its file is closed", code="archived")


def _agency_code(s: Session, agency_id: int) -> str:
    a = s.get(Agency, agency_id)
    return a.code if a else ""


# -- JSON --------------------------------------------------------------------------------------
def case_json(s: Session, c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "title": c.title,
        "agency_id": c.agency_id,
        "agency": _agency_code(s, c.agency_id),
        "enforcement_type": c.enforcement_type,
        "procedure": c.procedure,
        "status": c.status,
        "stage": c.stage,
        "current_stage": c.stage,
        "parties": c.parties,
        "officers": c.officers,
        "emergency_start": c.emergency_start,
        "major": c.major,
        "disputed": c.disputed,
        "description": c.description,
        "opened_at": iso(c.opened_at),
        "archived_at": iso(c.archived_at),
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
        "stage_history": c.stage_history,
    }


def record_json(r: CaseRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "case_id": r.case_id,
        "stage": r.stage,
        "doc_type": r.doc_type,
        "title": r.title,
        "time": iso(r.at),
        "time_source": "claimed",  # the writer's time; created_at is the server's
        "end_time": iso(r.end_at),
        "officers": r.officers,
        "signature_status": r.signature_status,
        "service_method": r.service_method,
        "execution_type": r.execution_type,
        "witness": r.witness,
        "evidence_ids": r.evidence_ids,
        "fields": r.fields,
        "supersedes": r.supersedes,
        "created_by": r.created_by,
        "created_at": iso(r.created_at),
    }


def approval_json(a: CaseApproval) -> dict[str, Any]:
    return {
        "id": a.id,
        "case_id": a.case_id,
        "kind": a.kind,
        "stage": a.stage,
        "handler_id": a.handler_id,
        "reviewer_id": a.reviewer_id,
        "approver_id": a.approver_id,
        "fields": a.fields,
        "status": a.status,
        "decisions": a.decisions or [],
        "waiting_for": _waiting_for(a),
        "reviewed_at": iso(a.reviewed_at),
        "decided_at": iso(a.decided_at),
        "approved_at": iso(a.approved_at),
        "created_by": a.created_by,
        "created_at": iso(a.created_at),
    }


def complaint_json(c: CaseComplaint) -> dict[str, Any]:
    return {
        "id": c.id,
        "case_id": c.case_id,
        "received_at": iso(c.received_at),
        "channel": c.channel,
        "complainant": c.complainant,
        "named": c.named,
        "contact": c.contact,
        "content": c.content,
        "decision": c.decision,
        "decision_reason": c.decision_reason,
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
    }


def link_json(link: CaseLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "case_id": link.case_id,
        "evidence_id": link.item_id,
        "stage": link.stage,
        "record_id": link.record_id,
        "source": link.source,
        "linked_by": link.linked_by,
        "linked_at": iso(link.linked_at),
        "unlinked_by": link.unlinked_by,
        "unlinked_at": iso(link.unlinked_at),
        "unlink_reason": link.unlink_reason,
        "active": link.unlinked_at is None,
    }


def _duration(item: EvidenceItem) -> float | None:
    probe = (item.media_info or {}).get("probe") or {}
    value = probe.get("duration_s") if isinstance(probe, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _item_summary(item: EvidenceItem, link: CaseLink, rendition_names: set[str]) -> dict[str, Any]:
    base = f"/api/v1/evidence/{item.id}"
    links = {"self": base, "original": f"{base}/original"}
    if "trickplay/thumbnails.vtt" in rendition_names:
        links["thumbnails"] = f"{base}/thumbnails.vtt"
    if "hls/index.m3u8" in rendition_names:
        links["hls"] = f"{base}/hls/index.m3u8"
    return {
        "id": item.id,
        "evidence_id": item.id,
        "link_id": link.id,
        "stage": link.stage,
        "source": link.source,
        "record_id": link.record_id,
        "linked_at": iso(link.linked_at),
        "kind": item.kind,
        "status": item.status,
        "recorded_at": iso(item.recorded_at),
        "duration_s": _duration(item),
        "original_filename": item.original_filename,
        "officer_id": item.officer_id,
        "device_id": item.device_id,
        "sha256": item.sha256,
        "thumbnails": links.get("thumbnails"),
        "links": links,
    }


# -- facts and findings ------------------------------------------------------------------------
def _live_records(s: Session, case_id: str) -> list[CaseRecord]:
    records = list(
        s.scalars(
            select(CaseRecord)
            .where(CaseRecord.case_id == case_id)
            .order_by(CaseRecord.at, CaseRecord.created_at)
        )
    )
    superseded = {r.supersedes for r in records if r.supersedes}
    return [r for r in records if r.id not in superseded]


def _active_linked(s: Session, case_id: str) -> list[tuple[CaseLink, EvidenceItem]]:
    rows = s.execute(
        select(CaseLink, EvidenceItem)
        .join(EvidenceItem, EvidenceItem.id == CaseLink.item_id)
        .where(CaseLink.case_id == case_id, CaseLink.unlinked_at.is_(None))
        .order_by(EvidenceItem.recorded_at, CaseLink.linked_at)
    )
    return [(link, item) for link, item in rows]


def case_facts(s: Session, case: Case) -> compliance.CaseFacts:
    """What the compliance engine needs to know about one case."""
    return facts_from_rows(
        case,
        _live_records(s, case.id),
        s.scalars(select(CaseApproval).where(CaseApproval.case_id == case.id)),
        s.scalars(select(CaseComplaint).where(CaseComplaint.case_id == case.id)),
        _active_linked(s, case.id),
    )


def facts_from_rows(
    case: Case,
    records: Iterable[CaseRecord],
    approvals: Iterable[CaseApproval],
    complaints: Iterable[CaseComplaint],
    linked: Iterable[tuple[CaseLink, EvidenceItem]],
) -> compliance.CaseFacts:
    """The facts of one case from its rows (live records only, active links only): one shape
    for the case page and for the supervision view, which loads many cases at once."""
    return compliance.CaseFacts(
        id=case.id,
        enforcement_type=case.enforcement_type,
        procedure=case.procedure,
        stage=case.stage,
        opened_at=case.opened_at,
        emergency_start=case.emergency_start,
        major=case.major,
        disputed=case.disputed,
        records=tuple(
            compliance.RecordFact(
                id=r.id,
                stage=r.stage,
                doc_type=r.doc_type,
                at=r.at,
                end_at=r.end_at,
                officers=tuple(r.officers or ()),
                signature_status=r.signature_status,
                service_method=r.service_method,
                execution_type=r.execution_type,
                witness=r.witness,
                title=r.title,
                evidence_ids=tuple(r.evidence_ids or ()),
                fields=r.fields or {},
            )
            for r in records
        ),
        approvals=tuple(
            compliance.ApprovalFact(
                id=a.id,
                kind=a.kind,
                stage=a.stage,
                approved_at=a.approved_at,
                status=a.status,
                handler_id=a.handler_id,
                reviewer_id=a.reviewer_id,
                approver_id=a.approver_id,
                fields=a.fields or {},
            )
            for a in approvals
        ),
        created_at=case.created_at,
        complaints=tuple(
            compliance.ComplaintFact(
                id=c.id, received_at=c.received_at, named=c.named, decision=c.decision
            )
            for c in complaints
        ),
        items=tuple(
            compliance.ItemFact(
                id=i.id,
                kind=i.kind,
                stage=link.stage,
                recorded_at=i.recorded_at,
                duration_s=_duration(i),
            )
            for link, i in linked
        ),
    )


def findings(s: Session, case: Case, settings: Settings) -> list[dict[str, Any]]:
    """The case's compliance findings under its agency's rule pack."""
    return compliance.evaluate(pack_for(s, settings, case.agency_id), case_facts(s, case), utcnow())


def compliance_report(s: Session, ref: str, who: Principal, settings: Settings) -> dict[str, Any]:
    case = get_case(s, ref, who)
    pack = pack_for(s, settings, case.agency_id)
    found = compliance.evaluate(pack, case_facts(s, case), utcnow())
    return {
        "case_id": case.id,
        "number": case.number,
        "pack": pack.id,
        "findings": found,
        "counts": {
            sev: sum(1 for f in found if f["severity"] == sev)
            for sev in ("error", "warning", "info")
        },
    }


def case_detail(s: Session, ref: str, who: Principal, settings: Settings) -> dict[str, Any]:
    """One case with its stages (records and items per stage), approvals, complaints, findings."""
    case = get_case(s, ref, who)
    pack = pack_for(s, settings, case.agency_id)
    records = [record_json(r) for r in _live_records(s, case.id)]
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
    linked = _active_linked(s, case.id)
    names: dict[str, set[str]] = {}
    if linked:
        for item_id, name in s.execute(
            select(Rendition.item_id, Rendition.name).where(
                Rendition.item_id.in_([i.id for _, i in linked]),
                Rendition.name.in_(["trickplay/thumbnails.vtt", "hls/index.m3u8"]),
            )
        ):
            names.setdefault(item_id, set()).add(name)
    items = [_item_summary(i, link, names.get(i.id, set())) for link, i in linked]
    approvals = [
        approval_json(a)
        for a in s.scalars(
            select(CaseApproval)
            .where(CaseApproval.case_id == case.id)
            .order_by(CaseApproval.created_at)
        )
    ]
    approvals = [{**a, "people": _people(s, a)} for a in approvals]
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


# -- listing -----------------------------------------------------------------------------------
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


# -- writes ------------------------------------------------------------------------------------
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
            raise BadRequest(f"no agency {code!r}", code="bad_field")
    else:
        agency = s.get(Agency, who.agency_id) if who.agency_id is not None else None
        if agency is None:
            raise Forbidden("the caller belongs to no agency")
        if code not in (None, "", agency.code):
            raise Forbidden(f"role {who.role!r} may not open cases in agency {code!r}")
    require(who, WRITE_CASES, agency.id)
    number = _text(data, "number", 100, required=True)
    if s.scalar(select(Case).where(Case.agency_id == agency.id, Case.number == number)) is not None:
        raise Conflict(
            f"case number {number!r} already exists in agency {agency.code}",
            code="duplicate_number",
        )
    parties = _parties(data)
    officers = [_officer_entry(s, agency.id, o, with_shown=False) for o in _list(data, "officers")]
    opened_at = _opt_time(data, "opened_at") or utcnow()
    if opened_at > utcnow() + timedelta(minutes=5):
        raise BadRequest("field 'opened_at' is in the future", code="bad_time")
    procedure = _choice(data, "procedure", PROCEDURES, required=True)
    disputed = _flag(data, "disputed")
    case = Case(
        agency_id=agency.id,
        number=number,
        title=_text(data, "title", 500, required=True),
        enforcement_type=_choice(data, "enforcement_type", ENFORCEMENT_TYPES, required=True),
        procedure=procedure,
        parties=parties,
        officers=officers,
        emergency_start=_flag(data, "emergency_start"),
        major=_flag(data, "major"),
        disputed=disputed,
        description=_text(data, "description", 5000),
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
    for p in _list(data, "parties"):
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
    _writable(case)
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
            _officer_entry(s, case.agency_id, o, with_shown=False) for o in _list(data, "officers")
        ]
    if "title" in data:
        changes["title"] = _text(data, "title", 500, required=True)
    if "description" in data:
        changes["description"] = _text(data, "description", 5000)
    for flag in ("disputed", "major"):
        if flag in data:
            changes[flag] = _flag(data, flag)
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


def attach_to_record(
    s: Session,
    ref: str,
    record_id: str,
    who: Principal,
    data: dict[str, Any],
    settings: Settings,
    store: ObjectStore | None,
) -> tuple[dict[str, Any], bool]:
    """Attach an item (a scan of the paper record, or its recording) to a record: a link to
    the record's stage that names the record; ledgered as a link."""
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    rec = s.get(CaseRecord, record_id) if len(record_id) <= 64 else None
    if rec is None or rec.case_id != case.id:
        raise NotFound(f"no record {record_id} in case {case.number}")
    item = _case_item(s, case, data.get("evidence_id"), who)
    existing = s.scalar(
        select(CaseLink).where(
            CaseLink.case_id == case.id,
            CaseLink.item_id == item.id,
            CaseLink.stage == rec.stage,
            CaseLink.unlinked_at.is_(None),
        )
    )
    if existing is not None and existing.record_id not in (None, rec.id):
        raise Conflict(
            "the item is already attached to another record of this stage", code="attached"
        )
    if existing is not None and existing.record_id is None:
        existing.record_id = rec.id  # a plain stage link gains the record it belongs to
        s.flush()
        append(
            s,
            actor=actor_of(who),
            action=LINK,
            subject=f"evidence:{item.id}",
            details={
                "link": existing.id,
                "case": case.id,
                "number": case.number,
                "stage": rec.stage,
                "source": existing.source,
                "record": rec.id,
                "sha256": item.sha256,
            },
        )
        return link_json(existing), False
    return link_item(
        s, case, item, rec.stage, who, settings, store, source="record", record_id=rec.id
    )


def _case_item(s: Session, case: Case, item_id: Any, who: Principal) -> EvidenceItem:
    """An item that may be linked to this case: it exists and belongs to the case's agency."""
    item = s.get(EvidenceItem, item_id) if isinstance(item_id, str) and len(item_id) <= 64 else None
    if item is None or not sees(who, item.agency_id):
        raise (NotFound if item is None else Sealed)(f"no evidence item {item_id!r}")
    if item.agency_id != case.agency_id:
        raise BadRequest("the item belongs to another agency than the case", code="other_agency")
    if item.retention_class == "disposed":
        raise Conflict("the item was disposed of after its retention", code="disposed")
    return item


def link_item(
    s: Session,
    case: Case,
    item: EvidenceItem,
    stage: str,
    who: Principal | None,
    settings: Settings,
    store: ObjectStore | None,
    *,
    source: str = "manual",
    record_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Link an item to a case stage (idempotent); ledgered; the item's retention follows."""
    if stage not in CASE_STAGES:
        raise BadRequest(
            f"unknown stage {stage!r}; one of {', '.join(CASE_STAGES)}", code="bad_stage"
        )
    existing = s.scalar(
        select(CaseLink).where(
            CaseLink.case_id == case.id,
            CaseLink.item_id == item.id,
            CaseLink.stage == stage,
            CaseLink.unlinked_at.is_(None),
        )
    )
    if existing is not None:
        return link_json(existing), False
    link = CaseLink(
        case_id=case.id,
        item_id=item.id,
        stage=stage,
        record_id=record_id,
        source=source,
        linked_by=who.user_id if who else None,
        linked_at=utcnow(),
    )
    s.add(link)
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=LINK,
        subject=f"evidence:{item.id}",
        details={
            "link": link.id,
            "case": case.id,
            "number": case.number,
            "stage": stage,
            "source": source,
            "record": record_id,
            "sha256": item.sha256,
        },
    )
    apply_class(s, item, settings, store, who=who, reason=f"linked to case {case.number}")
    return link_json(link), True


def add_link(
    s: Session,
    ref: str,
    who: Principal,
    data: dict[str, Any],
    settings: Settings,
    store: ObjectStore | None,
) -> tuple[dict[str, Any], bool]:
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    item = _case_item(s, case, data.get("evidence_id"), who)
    stage = _choice(data, "stage", CASE_STAGES, default=case.stage)
    assert stage is not None
    return link_item(
        s,
        case,
        item,
        stage,
        who,
        settings,
        store,
        source="manual",
        record_id=_text(data, "record_id", 32) or None,
    )


def remove_link(
    s: Session,
    ref: str,
    link_id: str,
    who: Principal,
    reason: str,
    settings: Settings,
    store: ObjectStore | None,
) -> dict[str, Any]:
    """Unlink: the link row stays as history with unlinked_at; ledgered; retention follows."""
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    link = s.get(CaseLink, link_id) if len(link_id) <= 64 else None
    if link is None or link.case_id != case.id:
        raise NotFound(f"no link {link_id} in case {case.number}")
    if link.unlinked_at is not None:
        raise Conflict("the link was already removed", code="already_unlinked")
    link.unlinked_at, link.unlinked_by, link.unlink_reason = utcnow(), who.user_id, reason
    s.flush()
    item = s.get(EvidenceItem, link.item_id)
    assert item is not None
    append(
        s,
        actor=actor_of(who),
        action=UNLINK,
        subject=f"evidence:{item.id}",
        details={
            "link": link.id,
            "case": case.id,
            "number": case.number,
            "stage": link.stage,
            "reason": reason,
        },
    )
    apply_class(s, item, settings, store, who=who, reason=f"unlinked from case {case.number}")
    return link_json(link)


def add_record(
    s: Session,
    ref: str,
    who: Principal,
    data: dict[str, Any],
    settings: Settings,
    store: ObjectStore | None,
) -> dict[str, Any]:
    """A typed text record of a stage (its type from the rule pack); ledgered with its hash."""
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    pack = pack_for(s, settings, case.agency_id)
    doc_type = _choice(data, "doc_type", pack.doc_types, required=True)
    assert doc_type is not None
    doc = pack.doc_types[doc_type]
    stage = _choice(data, "stage", CASE_STAGES, default=doc.stage)
    if stage != doc.stage:
        raise BadRequest(
            f"a {doc_type} ({doc.label_zh}) belongs to stage {doc.stage}, not {stage}",
            code="bad_stage",
        )
    at = parse_time(data.get("time", data.get("at")), "time")
    end_at = _opt_time(data, "end_time")
    if end_at is not None and end_at < at:
        raise BadRequest("end_time is before time", code="bad_time")
    supersedes = _text(data, "supersedes", 32) or None
    if (
        supersedes
        and s.scalar(
            select(CaseRecord.id).where(CaseRecord.id == supersedes, CaseRecord.case_id == case.id)
        )
        is None
    ):
        raise BadRequest(f"no record {supersedes} in this case to supersede", code="bad_field")
    items = [_case_item(s, case, i, who) for i in _list(data, "evidence_ids")]
    rec = CaseRecord(
        case_id=case.id,
        stage=stage,
        doc_type=doc_type,
        title=_text(data, "title", 500),
        at=at,
        end_at=end_at,
        officers=[
            _officer_entry(s, case.agency_id, o, with_shown=True) for o in _list(data, "officers")
        ],
        signature_status=_choice(
            data, "signature_status", SIGNATURE_STATUSES, default="not_applicable"
        ),
        service_method=_choice(data, "service_method", pack.service_methods),
        execution_type=_choice(data, "execution_type", pack.execution_types),
        witness=_text(data, "witness", 200),
        evidence_ids=[i.id for i in items],
        fields=_json_fields(data),
        supersedes=supersedes,
        created_by=who.user_id,
        created_at=utcnow(),
    )
    body = _add_ledgered(
        s,
        who,
        RECORD,
        case,
        rec,
        record_json,
        lambda: {
            "record": rec.id,
            "doc_type": doc_type,
            "stage": stage,
            "time": iso(at),
            "signature_status": rec.signature_status,
            "service_method": rec.service_method,
            "execution_type": rec.execution_type,
            "evidence_ids": rec.evidence_ids,
            "supersedes": supersedes,
        },
    )
    for item in items:  # attached scans and recordings become evidence of this stage
        link_item(s, case, item, stage, who, settings, store, source="record", record_id=rec.id)
    if _auto_link_enabled(s, settings, case.agency_id):
        for p in _proposals_for(s, case, [rec], settings):
            item = s.get(EvidenceItem, p["evidence_id"])
            if item is not None:
                link_item(
                    s, case, item, p["stage"], who, settings, store, source="auto", record_id=rec.id
                )
    return body


def _add_ledgered(
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


def _user_id(s: Session, data: dict[str, Any], key: str, case: Case) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"field {key!r} must be a user id", code="bad_field")
    user = s.get(User, value)
    # Another agency's account answers like a missing one: agencies are sealed from each other.
    if (user is None or not user.active
            or (user.agency_id is not None and user.agency_id != case.agency_id)):
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
APPROVAL_ORDER = ("handler", "reviewer", "approver")
DECISIONS = ("approve", "reject")
OPEN_APPROVAL = ("pending", "reviewed")


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


def _waiting_for(a: CaseApproval) -> dict[str, Any] | None:
    """Whose decision the request waits for: the handler (when someone else asked in their
    name), then the reviewer, then the approver; None once approved or rejected."""
    if a.status not in OPEN_APPROVAL:
        return None
    done = {d.get("role") for d in a.decisions or () if d.get("decision") in ("approve", "request")}
    for role in APPROVAL_ORDER:
        if role not in done:
            return {"role": role, "user_id": getattr(a, f"{role}_id")}
    return None


def _person(s: Session, user_id: int | None) -> dict[str, Any] | None:
    u = s.get(User, user_id) if user_id is not None else None
    if u is None:
        return None
    return {"id": u.id, "username": u.username, "display_name": u.display_name or u.username,
            "role": u.role}


def _people(s: Session, a: dict[str, Any]) -> dict[str, Any]:
    return {role: _person(s, a.get(f"{role}_id")) for role in APPROVAL_ORDER}


def add_approval(
    s: Session, ref: str, who: Principal, data: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Request an internal approval naming handler (the caller unless named), reviewer and
    approver: three different people (Art. 24). Nobody's decision is recorded here except the
    caller's own request as handler; each named person decides in their own session."""
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    _refuse_client_time(data)
    pack = pack_for(s, settings, case.agency_id)
    kind = _choice(data, "kind", pack.approval_kinds, required=True)
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
    fields = _json_fields(data)
    for key in APPROVAL_FIELDS:  # the Art. 8 form's fields may also come at the top level
        if key in data:
            fields[key] = _text(data, key, 5000)
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
    return _add_ledgered(
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
    decision = _choice(data, "decision", DECISIONS, required=True)
    opinion = _text(data, "opinion", 5000)
    if a.status not in OPEN_APPROVAL:
        raise Conflict(f"the approval is already {a.status}", code="approval_closed")
    _writable(case)
    turn = _waiting_for(a)
    assert turn is not None
    named = {role: getattr(a, f"{role}_id") for role in APPROVAL_ORDER}
    if who.user_id not in named.values():
        raise Forbidden("only the people the approval names may decide on it", code="not_named")
    if turn["user_id"] != who.user_id:
        mine = next(r for r, uid in named.items() if uid == who.user_id)
        done = {d.get("role") for d in a.decisions or ()}
        state = "already decided" if mine in done else f"waits for the {turn['role']} first"
        raise Conflict(
            f"you are the {mine} of this approval; it {state}", code="not_your_turn"
        )
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
    return {**body, "people": _people(s, body)}


def case_people(s: Session, ref: str, who: Principal) -> dict[str, Any]:
    """The active people of the case's agency who can be named in its approvals."""
    case = get_case(s, ref, who)
    users = s.scalars(
        select(User)
        .where(User.agency_id == case.agency_id, User.active.is_(True))
        .where(User.role.in_(DECIDING_ROLES))
        .order_by(User.id)
    )
    return {"items": [_person(s, u.id) for u in users], "next": None}


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
                "people": _people(s, body),
                "case_number": c.number,
                "case_title": c.title,
                "case_stage": c.stage,
            }
        )
    return {"items": items, "next": None}


def add_complaint(s: Session, ref: str, who: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """A complaint or report (Art. 9) and the decision on it."""
    case = get_case(s, ref, who, WRITE_CASES)
    _writable(case)
    complainant = _text(data, "complainant", 200)
    c = CaseComplaint(
        case_id=case.id,
        received_at=_opt_time(data, "received_at") or utcnow(),
        channel=_text(data, "channel", 40),
        complainant=complainant,
        named=_flag(data, "named", bool(complainant)),
        contact=_text(data, "contact", 200),
        content=_text(data, "content", 10000),
        decision=_choice(data, "decision", COMPLAINT_DECISIONS, default="pending") or "pending",
        decision_reason=_text(data, "decision_reason", 5000),
        created_by=who.user_id,
        created_at=utcnow(),
    )
    return _add_ledgered(
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
    target = _choice(data, "stage", CASE_STAGES, required=True)
    assert target is not None
    now_i, to_i = CASE_STAGES.index(case.stage), CASE_STAGES.index(target)
    if to_i == now_i:
        return case_json(s, case)
    _writable(case)
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


# -- auto-link proposals (Art. 6) --------------------------------------------------------------
def _auto_link_enabled(s: Session, settings: Settings, agency_id: int) -> bool:
    codes = {c.strip() for c in settings.auto_link_agencies.split(",") if c.strip()}
    return "*" in codes or _agency_code(s, agency_id) in codes


def _proposals_for(
    s: Session, case: Case, records: list[CaseRecord], settings: Settings
) -> list[dict[str, Any]]:
    linked = {
        i
        for (i,) in s.execute(
            select(CaseLink.item_id).where(
                CaseLink.case_id == case.id, CaseLink.unlinked_at.is_(None)
            )
        )
    }
    margin = float(settings.auto_link_margin_seconds)
    longest = timedelta(seconds=settings.media_max_duration_seconds)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        officer_ids = [o.get("officer_id") for o in rec.officers or () if o.get("officer_id")]
        if not officer_ids:
            continue
        officers = list(s.scalars(select(Officer).where(Officer.id.in_(officer_ids))))
        names = {o.code for o in officers} | {str(o.id) for o in officers}
        start = rec.at - timedelta(seconds=margin)
        end = (rec.end_at or rec.at) + timedelta(seconds=margin)
        # The registry says whose camera it was at recorded_at (device assignments, issue 16).
        cond = [EvidenceItem.officer_id.in_(names),
                registry.officer_item_clause([o.id for o in officers])]
        candidates = s.scalars(
            select(EvidenceItem).where(
                EvidenceItem.agency_id == case.agency_id,
                or_(*cond),
                EvidenceItem.recorded_at.is_not(None),
                EvidenceItem.recorded_at <= end,
                EvidenceItem.recorded_at >= start - longest,
            )
        )
        fact = compliance.RecordFact(
            id=rec.id, stage=rec.stage, doc_type=rec.doc_type, at=rec.at, end_at=rec.end_at
        )
        for item in candidates:
            if item.id in linked or item.retention_class == "disposed":
                continue
            ifact = compliance.ItemFact(
                id=item.id,
                kind=item.kind,
                stage=rec.stage,
                recorded_at=item.recorded_at,
                duration_s=_duration(item),
            )
            if compliance.covers(ifact, fact, margin):
                out.setdefault(
                    (item.id, rec.stage),
                    {
                        "evidence_id": item.id,
                        "stage": rec.stage,
                        "record_id": rec.id,
                        "doc_type": rec.doc_type,
                        "record_time": iso(rec.at),
                        "kind": item.kind,
                        "recorded_at": iso(item.recorded_at),
                        "duration_s": _duration(item),
                        "officer_id": item.officer_id,
                        "device_id": item.device_id,
                        "original_filename": item.original_filename,
                    },
                )
    return list(out.values())


def proposals(s: Session, ref: str, who: Principal, settings: Settings) -> dict[str, Any]:
    """Footage from the record officers' cameras overlapping a record's time, not yet linked."""
    case = get_case(s, ref, who)
    return {
        "items": _proposals_for(s, case, _live_records(s, case.id), settings),
        "next": None,
        "auto_link": _auto_link_enabled(s, settings, case.agency_id),
    }


# -- evidence side -----------------------------------------------------------------------------
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


def link_from_intake(
    s: Session,
    item: EvidenceItem,
    case_ref: str,
    stage: str,
    who: Principal | None,
    settings: Settings,
    store: ObjectStore | None,
) -> str | None:
    """Link a freshly delivered item to the case and stage its station named (upload metadata
    `case`, `stage`). The delivery itself never fails on this: an unknown case, a bad stage or
    an archived case is returned as a reason, kept on the item for a person to resolve."""
    if item.agency_id is None:
        return "the uploader belongs to no agency"
    case = s.scalar(
        select(Case).where(
            Case.agency_id == item.agency_id, or_(Case.number == case_ref, Case.id == case_ref)
        )
    )
    if case is None:
        return f"no case {case_ref!r} in the uploader's agency"
    try:
        with s.begin_nested():  # a refusal rolls back the link only, never the delivery
            _writable(case)
            link_item(s, case, item, stage, who, settings, store, source="upload")
    except (BadRequest, Conflict) as exc:
        return exc.message
    return None
