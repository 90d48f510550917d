"""Typed text records (文书) of a case stage, their types from the rule pack; ledgered with the
hash of what the API answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import RECORD
from server.access import WRITE_CASES, Principal
from server.cases.commands import add_ledgered
from server.cases.inputs import (
    field_choice,
    field_json,
    field_list,
    field_text,
    field_time,
    parse_time,
)
from server.cases.links import case_item, link_item
from server.cases.lookups import ensure_writable, get_case, officer_entry, pack_for
from server.cases.proposals import auto_link_enabled, proposals_for
from server.cases.views import record_json
from server.catalogue.models import (
    CASE_STAGES,
    SIGNATURE_STATUSES,
    CaseRecord,
    EvidenceItem,
    utcnow,
)
from server.errors import BadRequest
from server.isotime import iso
from server.settings import Settings
from server.store.base import ObjectStore


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
    ensure_writable(case)
    pack = pack_for(s, settings, case.agency_id)
    doc_type = field_choice(data, "doc_type", pack.doc_types, required=True)
    assert doc_type is not None
    doc = pack.doc_types[doc_type]
    stage = field_choice(data, "stage", CASE_STAGES, default=doc.stage) or doc.stage
    if stage != doc.stage:
        raise BadRequest(
            f"a {doc_type} ({doc.label_zh}) belongs to stage {doc.stage}, not {stage}",
            code="bad_stage",
        )
    at = parse_time(data.get("time", data.get("at")), "time")
    end_at = field_time(data, "end_time")
    if end_at is not None and end_at < at:
        raise BadRequest("end_time is before time", code="bad_time")
    supersedes = field_text(data, "supersedes", 32) or None
    if (
        supersedes
        and s.scalar(
            select(CaseRecord.id).where(CaseRecord.id == supersedes, CaseRecord.case_id == case.id)
        )
        is None
    ):
        raise BadRequest(f"no record {supersedes} in this case to supersede", code="bad_field")
    items = [case_item(s, case, i, who) for i in field_list(data, "evidence_ids")]
    rec = CaseRecord(
        case_id=case.id,
        stage=stage,
        doc_type=doc_type,
        title=field_text(data, "title", 500),
        at=at,
        end_at=end_at,
        officers=[
            officer_entry(s, case.agency_id, o, with_shown=True)
            for o in field_list(data, "officers")
        ],
        signature_status=field_choice(
            data, "signature_status", SIGNATURE_STATUSES, default="not_applicable"
        ),
        service_method=field_choice(data, "service_method", pack.service_methods),
        execution_type=field_choice(data, "execution_type", pack.execution_types),
        witness=field_text(data, "witness", 200),
        evidence_ids=[i.id for i in items],
        fields=field_json(data),
        supersedes=supersedes,
        created_by=who.user_id,
        created_at=utcnow(),
    )
    body = add_ledgered(
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
        link_item(
            s,
            case,
            item,
            stage or case.stage,
            who,
            settings,
            store,
            source="record",
            record_id=rec.id,
        )
    if auto_link_enabled(s, settings, case.agency_id):
        for p in proposals_for(s, case, [rec], settings):
            proposed = s.get(EvidenceItem, p["evidence_id"])
            if proposed is not None:
                link_item(
                    s,
                    case,
                    proposed,
                    p["stage"],
                    who,
                    settings,
                    store,
                    source="auto",
                    record_id=rec.id,
                )
    return body
