"""The frozen facts of one case the compliance engine reads (records, approvals, complaints,
linked items), gathered by server/cases/facts.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.cases.rulepack import Pack


@dataclass(frozen=True)
class RecordFact:
    id: str
    stage: str
    doc_type: str
    at: datetime
    end_at: datetime | None = None
    officers: tuple[Mapping[str, Any], ...] = ()
    signature_status: str = "not_applicable"
    service_method: str | None = None
    execution_type: str | None = None
    witness: str = ""
    title: str = ""
    evidence_ids: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalFact:
    """An approval that counts: approved, at the server time of the approver's decision."""

    id: str
    kind: str
    stage: str
    approved_at: datetime | None  # the server's time of the approver's approval
    status: str = "approved"  # pending, reviewed, approved, rejected
    handler_id: int | None = None
    reviewer_id: int | None = None
    approver_id: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ComplaintFact:
    id: str
    received_at: datetime
    named: bool = False
    decision: str = "pending"


@dataclass(frozen=True)
class ItemFact:
    """An evidence item linked (and not unlinked) to the case."""

    id: str
    kind: str
    stage: str
    recorded_at: datetime | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class CaseFacts:
    id: str
    enforcement_type: str
    procedure: str
    stage: str
    opened_at: datetime
    emergency_start: bool = False
    major: bool = False
    disputed: bool = False
    records: tuple[RecordFact, ...] = ()
    approvals: tuple[ApprovalFact, ...] = ()
    complaints: tuple[ComplaintFact, ...] = ()
    items: tuple[ItemFact, ...] = ()
    created_at: datetime | None = None  # server time the case was entered (Art. 8 clock)


Ctx = tuple[Pack, CaseFacts, datetime, bool]
