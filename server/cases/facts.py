"""What the compliance engine reads about a case (live records, approvals, complaints, active
links) and the findings it gives."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cases import compliance
from server.cases.compliance_facts import (
    ApprovalFact,
    CaseFacts,
    ComplaintFact,
    ItemFact,
    RecordFact,
)
from server.cases.lookups import get_case, pack_for
from server.cases.views import duration_of
from server.catalogue.models import (
    Case,
    CaseApproval,
    CaseComplaint,
    CaseLink,
    CaseRecord,
    EvidenceItem,
    utcnow,
)
from server.http.access import Principal
from server.settings import Settings


def live_records(s: Session, case_id: str) -> list[CaseRecord]:
    records = list(
        s.scalars(
            select(CaseRecord)
            .where(CaseRecord.case_id == case_id)
            .order_by(CaseRecord.at, CaseRecord.created_at)
        )
    )
    superseded = {r.supersedes for r in records if r.supersedes}
    return [r for r in records if r.id not in superseded]


def active_links(s: Session, case_id: str) -> list[tuple[CaseLink, EvidenceItem]]:
    rows = s.execute(
        select(CaseLink, EvidenceItem)
        .join(EvidenceItem, EvidenceItem.id == CaseLink.item_id)
        .where(CaseLink.case_id == case_id, CaseLink.unlinked_at.is_(None))
        .order_by(EvidenceItem.recorded_at, CaseLink.linked_at)
    )
    return [(link, item) for link, item in rows]


def case_facts(s: Session, case: Case) -> CaseFacts:
    """What the compliance engine needs to know about one case."""
    return facts_from_rows(
        case,
        live_records(s, case.id),
        s.scalars(select(CaseApproval).where(CaseApproval.case_id == case.id)),
        s.scalars(select(CaseComplaint).where(CaseComplaint.case_id == case.id)),
        active_links(s, case.id),
    )


def facts_from_rows(
    case: Case,
    records: Iterable[CaseRecord],
    approvals: Iterable[CaseApproval],
    complaints: Iterable[CaseComplaint],
    linked: Iterable[tuple[CaseLink, EvidenceItem]],
) -> CaseFacts:
    """The facts of one case from its rows (live records only, active links only): one shape
    for the case page and for the supervision view, which loads many cases at once."""
    return CaseFacts(
        id=case.id,
        enforcement_type=case.enforcement_type,
        procedure=case.procedure,
        stage=case.stage,
        opened_at=case.opened_at,
        emergency_start=case.emergency_start,
        major=case.major,
        disputed=case.disputed,
        records=tuple(
            RecordFact(
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
            ApprovalFact(
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
            ComplaintFact(id=c.id, received_at=c.received_at, named=c.named, decision=c.decision)
            for c in complaints
        ),
        items=tuple(
            ItemFact(
                id=i.id,
                kind=i.kind,
                stage=link.stage,
                recorded_at=i.recorded_at,
                duration_s=duration_of(i),
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
