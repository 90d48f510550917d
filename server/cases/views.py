"""The JSON shapes of a case and its records, approvals, complaints, links and linked items."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.catalogue.models import (
    Agency,
    Case,
    CaseApproval,
    CaseComplaint,
    CaseLink,
    CaseRecord,
    EvidenceItem,
    User,
)
from server.isotime import iso
from transcode.renditions import HLS_PLAYLIST, TRICKPLAY_VTT
from transcode.renditions import links as rendition_links


def agency_code(s: Session, agency_id: int) -> str:
    a = s.get(Agency, agency_id)
    return a.code if a else ""


def case_json(s: Session, c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "title": c.title,
        "agency_id": c.agency_id,
        "agency": agency_code(s, c.agency_id),
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
        "waiting_for": waiting_for(a),
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


def duration_of(item: EvidenceItem) -> float | None:
    return item.duration_s  # a typed column since migration 0202 (was media_info.probe)


def item_summary(item: EvidenceItem, link: CaseLink, rendition_names: set[str]) -> dict[str, Any]:
    base = f"/api/v1/evidence/{item.id}"
    links = {"self": base, "original": f"{base}/original"}
    links.update(rendition_links(base, rendition_names & {TRICKPLAY_VTT, HLS_PLAYLIST}))
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
        "duration_s": duration_of(item),
        "original_filename": item.original_filename,
        "officer_id": item.officer_id,
        "device_id": item.device_id,
        "sha256": item.sha256,
        "thumbnails": links.get("thumbnails"),
        "links": links,
    }


APPROVAL_ORDER = ("handler", "reviewer", "approver")

OPEN_APPROVAL = ("pending", "reviewed")


def waiting_for(a: CaseApproval) -> dict[str, Any] | None:
    """Whose decision the request waits for: the handler (when someone else asked in their
    name), then the reviewer, then the approver; None once approved or rejected."""
    if a.status not in OPEN_APPROVAL:
        return None
    done = {d.get("role") for d in a.decisions or () if d.get("decision") in ("approve", "request")}
    for role in APPROVAL_ORDER:
        if role not in done:
            return {"role": role, "user_id": getattr(a, f"{role}_id")}
    return None


def person_json(s: Session, user_id: int | None) -> dict[str, Any] | None:
    u = s.get(User, user_id) if user_id is not None else None
    if u is None:
        return None
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name or u.username,
        "role": u.role,
    }


def people_json(s: Session, a: dict[str, Any]) -> dict[str, Any]:
    return {role: person_json(s, a.get(f"{role}_id")) for role in APPROVAL_ORDER}
