"""Auto-link proposals (Art. 6): footage from the record officers' cameras overlapping a
record's time, not yet linked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.cases.av_coverage import covers
from server.cases.compliance_facts import ItemFact, RecordFact
from server.cases.facts import live_records
from server.cases.lookups import get_case
from server.cases.views import agency_code, duration_of
from server.catalogue.models import Case, CaseLink, CaseRecord, EvidenceItem, Officer
from server.http.access import Principal
from server.isotime import iso
from server.people import registry_attribution
from server.settings import Settings


def auto_link_enabled(s: Session, settings: Settings, agency_id: int) -> bool:
    codes = {c.strip() for c in settings.auto_link_agencies.split(",") if c.strip()}
    return "*" in codes or agency_code(s, agency_id) in codes


def proposals_for(
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
        cond = [
            EvidenceItem.officer_id.in_(names),
            registry_attribution.officer_item_clause([o.id for o in officers]),
        ]
        candidates = s.scalars(
            select(EvidenceItem).where(
                EvidenceItem.agency_id == case.agency_id,
                or_(*cond),
                EvidenceItem.recorded_at.is_not(None),
                EvidenceItem.recorded_at <= end,
                EvidenceItem.recorded_at >= start - longest,
            )
        )
        fact = RecordFact(
            id=rec.id, stage=rec.stage, doc_type=rec.doc_type, at=rec.at, end_at=rec.end_at
        )
        for item in candidates:
            if item.id in linked or item.retention_class == "disposed":
                continue
            ifact = ItemFact(
                id=item.id,
                kind=item.kind,
                stage=rec.stage,
                recorded_at=item.recorded_at,
                duration_s=duration_of(item),
            )
            if covers(ifact, fact, margin):
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
                        "duration_s": duration_of(item),
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
        "items": proposals_for(s, case, live_records(s, case.id), settings),
        "next": None,
        "auto_link": auto_link_enabled(s, settings, case.agency_id),
    }
