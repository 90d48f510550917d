"""Cases with their records, links, approvals and complaints; exports; spot checks (Art. 22-23)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.catalogue.models.base import Base, UTCDateTime, new_id, utcnow

# -- cases, stages, records, approvals, complaints, retention (issue 6) -------------------
CASE_STAGES = ("initiation", "investigation", "decision", "service_execution", "archiving")


ENFORCEMENT_TYPES = ("penalty", "coercion", "levy", "inspection", "licensing", "charging", "other")


PROCEDURES = ("general", "simple")


SIGNATURE_STATUSES = ("signed", "refused", "not_applicable")


class Case(Base):
    """An enforcement case (案件); its number is unique within its agency."""

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    number: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    enforcement_type: Mapped[str] = mapped_column(String(20))
    procedure: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, archived
    stage: Mapped[str] = mapped_column(String(30), default="initiation")
    parties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    officers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    emergency_start: Mapped[bool] = mapped_column(Boolean, default=False)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    stage_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ux_case_agency_number", "agency_id", "number", unique=True),
        Index("ix_case_opened", "opened_at"),
        Index("ix_case_number", "number"),
    )


class CaseRecord(Base):
    """A typed text record (文字记录) of a case stage; never edited (a correction supersedes)."""

    __tablename__ = "case_records"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    doc_type: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    officers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    signature_status: Mapped[str] = mapped_column(String(20), default="not_applicable")
    service_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    execution_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    witness: Mapped[str] = mapped_column(String(200), default="")
    evidence_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    supersedes: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseLink(Base):
    """An evidence item linked to a case stage; an unlink keeps the row with unlinked_at."""

    __tablename__ = "case_links"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, auto, record
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unlinked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlink_reason: Mapped[str] = mapped_column(Text, default="")


class CaseApproval(Base):
    """An internal approval (Art. 8, 15, 24): handler, reviewer and approver, three people."""

    __tablename__ = "case_approvals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(30))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A request until each named person decided in their own session (issue 12, point 3):
    # pending -> reviewed -> approved, or rejected; the times are the server's.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseComplaint(Base):
    """A complaint or report (投诉举报, Art. 9) and what was decided about it."""

    __tablename__ = "case_complaints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(40), default="")
    complainant: Mapped[str] = mapped_column(String(200), default="")
    named: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20), default="pending")  # investigate, declined
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- sealed court exports (issue 8) ---------------------------------------------------------
EXPORT_STATES = ("queued", "running", "done", "failed")


class Export(Base):
    """A sealed court package of a case: who asked, for whom and why, and what was sealed."""

    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    recipient: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(1000))
    item_ids: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # None: all linked
    clips: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # None: the basket
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    requested_by_name: Mapped[str] = mapped_column(String(200), default="")
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    package_path: Mapped[str] = mapped_column(Text, default="")
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    package_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    verifier_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# -- 抽查 / 案卷评查 and 责令限期整改 (issue 15; Art. 22-23) ----------------------------------------
class SpotCheck(Base):
    """A supervisor's reproducible random sample of an agency's archived cases (seed kept)."""

    __tablename__ = "spot_checks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seed: Mapped[str] = mapped_column(String(64))
    sample_size: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    population_sha256: Mapped[str] = mapped_column(String(64))
    pack: Mapped[str] = mapped_column(String(200), default="")
    checklist: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheckCase(Base):
    """One sampled case and how it scored against the checklist."""

    __tablename__ = "spot_check_cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spot_check_id: Mapped[str] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    position: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # percent
    scored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RectificationOrder(Base):
    """A 责令限期整改 issued after a spot check, and the agency's answer (Art. 23)."""

    __tablename__ = "rectification_orders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    spot_check_id: Mapped[str] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requirement: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, answered
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response: Mapped[str] = mapped_column(Text, default="")
    response_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
