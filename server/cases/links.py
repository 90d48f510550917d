"""Evidence links: an item linked to (or unlinked from) a case stage or a record, by hand, by
its station at intake, or by a record; ledgered, and the item's retention follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrity.ledger import LINK, UNLINK
from server.cases.inputs import field_choice, field_text
from server.cases.lookups import ensure_writable, get_case
from server.cases.views import link_json
from server.catalogue.models import CASE_STAGES, Case, CaseLink, CaseRecord, EvidenceItem, utcnow
from server.custody.ledger import actor_of, append
from server.custody.retention import apply_class
from server.http.access import WRITE_CASES, Principal, Sealed, sees
from server.http.errors import BadRequest, Conflict, NotFound
from server.settings import Settings
from server.store.base import ObjectStore


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
    ensure_writable(case)
    rec = s.get(CaseRecord, record_id) if len(record_id) <= 64 else None
    if rec is None or rec.case_id != case.id:
        raise NotFound(f"no record {record_id} in case {case.number}")
    item = case_item(s, case, data.get("evidence_id"), who)
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


def case_item(s: Session, case: Case, item_id: Any, who: Principal) -> EvidenceItem:
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
    ensure_writable(case)
    item = case_item(s, case, data.get("evidence_id"), who)
    stage = field_choice(data, "stage", CASE_STAGES, default=case.stage)
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
        record_id=field_text(data, "record_id", 32) or None,
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
    ensure_writable(case)
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
            ensure_writable(case)
            link_item(s, case, item, stage, who, settings, store, source="upload")
    except (BadRequest, Conflict) as exc:
        return exc.message
    return None
