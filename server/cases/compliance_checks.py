"""The check kinds of the compliance engine about approvals, the case clock, complaints, record
fields and officers, records that need other records, rectification and execution
prerequisites (the audio-visual checks are in av_coverage.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from server.cases.compliance_facts import ApprovalFact, Ctx
from server.cases.compliance_reading import (
    alternatives,
    approved_of,
    clock_start,
    filled,
    finding,
    parse_moment,
    record_matches,
    ref_approval,
    ref_complaint,
    ref_record,
)
from server.cases.rulepack import Rule


def approval_deadline(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, now, _ = ctx
    kind = rule.params["kind"]
    hours = float(rule.params["hours"])
    start = clock_start(case, float(rule.params.get("opened_tolerance_minutes", 60)))
    deadline = start + timedelta(hours=hours)
    found = approved_of(case, kind)
    if not found:
        if now > deadline:  # still inside the window: not late yet
            yield finding(
                rule,
                ctx,
                "approval_missing",
                [],
                approval_kind=kind,
                hours=hours,
                clock_start=start,
                deadline=deadline,
            )
    elif found[0].approved_at > deadline:
        late = (found[0].approved_at - deadline).total_seconds() / 3600
        yield finding(
            rule,
            ctx,
            "approval_late",
            [ref_approval(found[0])],
            approval_kind=kind,
            hours=hours,
            clock_start=start,
            deadline=deadline,
            approved_at=found[0].approved_at,
            late_hours=round(late, 1),
            approval_id=found[0].id,
        )


def case_clock(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    tol = float(rule.params["tolerance_minutes"])
    if clock_start(case, tol) != case.opened_at and case.created_at is not None:
        earlier = (case.created_at - case.opened_at).total_seconds() / 3600
        yield finding(
            rule,
            ctx,
            "case_opened_before_entry",
            [],
            opened_at=case.opened_at,
            created_at=case.created_at,
            earlier_hours=round(earlier, 1),
            tolerance_minutes=tol,
        )


def _approval_value(a: ApprovalFact, name: str) -> bool:
    """A field of the approval form, or one of its people (e.g. reviewer_id: the legal
    office's reviewer who decided in their own session)."""
    if name in ("handler_id", "reviewer_id", "approver_id"):
        return getattr(a, name) is not None
    return bool(str(a.fields.get(name) or "").strip())


def approval_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    for a in approved_of(case, rule.params["kind"]):
        missing = [
            f
            for f in rule.params["fields"]
            if not any(_approval_value(a, n) for n in alternatives(f))
        ]
        if missing:
            yield finding(
                rule,
                ctx,
                "approval_fields_missing",
                [ref_approval(a)],
                approval_kind=a.kind,
                fields=[alternatives(f)[0] for f in missing],
                missing_fields=missing,
                approval_id=a.id,
            )


def approval_separation(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    kinds = rule.params.get("kinds")
    for a in approved_of(case):
        if kinds and a.kind not in kinds:
            continue
        people = [a.handler_id, a.reviewer_id, a.approver_id]
        if None in people or len(set(people)) != 3:
            yield finding(
                rule,
                ctx,
                "approval_roles_not_separate",
                [ref_approval(a)],
                approval_kind=a.kind,
                handler_id=a.handler_id,
                reviewer_id=a.reviewer_id,
                approver_id=a.approver_id,
                approval_id=a.id,
            )


def complaint_notified(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    notices = {
        str(r.fields.get("complaint_id"))
        for r in case.records
        if r.doc_type in rule.params["notice_doc_types"]
    }
    for c in case.complaints:
        if c.named and c.decision == "declined" and c.id not in notices:
            yield finding(
                rule,
                ctx,
                "complaint_not_notified",
                [ref_complaint(c)],
                received_at=c.received_at,
                complaint_id=c.id,
            )


def record_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            missing = [f for f in rule.params["fields"] if not filled(rec, f)]
            if missing:
                yield finding(
                    rule,
                    ctx,
                    "record_fields_missing",
                    [ref_record(rec)],
                    doc_type=rec.doc_type,
                    at=rec.at,
                    fields=[alternatives(f)[0] for f in missing],
                    missing_fields=missing,
                )


def record_officers(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    need = int(rule.params["min_officers"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [ref_record(rec)]
        if len(rec.officers) < need:
            yield finding(
                rule,
                ctx,
                "officers_too_few",
                ref,
                doc_type=rec.doc_type,
                at=rec.at,
                named=len(rec.officers),
                needed=need,
            )
        names = [str(o.get("name") or o.get("officer_id") or "?") for o in rec.officers]
        if rule.params.get("require_certificate", True):
            bad = [
                n for n, o in zip(names, rec.officers, strict=True) if not o.get("certificate_no")
            ]
            if bad:
                yield finding(
                    rule,
                    ctx,
                    "officer_no_certificate",
                    ref,
                    doc_type=rec.doc_type,
                    at=rec.at,
                    officers=bad,
                )
        if rule.params.get("require_shown", False):
            bad = [n for n, o in zip(names, rec.officers, strict=True) if not o.get("shown")]
            if bad:
                yield finding(
                    rule,
                    ctx,
                    "officer_certificate_not_shown",
                    ref,
                    doc_type=rec.doc_type,
                    at=rec.at,
                    officers=bad,
                )


def record_present(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            yield finding(
                rule, ctx, "record_flagged", [ref_record(rec)], doc_type=rec.doc_type, at=rec.at
            )


def record_needs_record(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    wanted = set(rule.params["doc_types"])
    have = any(r.doc_type in wanted for r in case.records)
    if have:
        return
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            yield finding(
                rule,
                ctx,
                "related_record_missing",
                [ref_record(rec)],
                doc_type=rec.doc_type,
                at=rec.at,
                needed=list(rule.params["doc_types"]),
            )


def rectification_check(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, now, archiving = ctx
    grace = timedelta(days=float(rule.params.get("grace_days", 0)))
    kinds = set(rule.params["check_doc_types"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [ref_record(rec)]
        raw = rec.fields.get(rule.params["deadline_field"])
        deadline = parse_moment(raw)
        if deadline is None:
            yield finding(
                rule,
                ctx,
                "rectification_deadline_unreadable",
                ref,
                doc_type=rec.doc_type,
                value=str(raw),
            )
            continue
        checks = sorted(r.at for r in case.records if r.doc_type in kinds and r.at >= rec.at)
        if any(t <= deadline + grace for t in checks):
            continue
        if checks:
            yield finding(
                rule,
                ctx,
                "rectification_check_late",
                ref,
                doc_type=rec.doc_type,
                deadline=deadline,
                checked_at=checks[0],
                grace_days=grace.days,
            )
        elif archiving or now > deadline + grace:
            yield finding(
                rule,
                ctx,
                "rectification_check_missing",
                ref,
                doc_type=rec.doc_type,
                deadline=deadline,
                grace_days=grace.days,
            )


def execution_prerequisites(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    """Art. 20-21: execution only after a 催告书 served on the party and its period elapsed,
    and with an approved execution approval."""
    pack, case, _, _ = ctx
    demand_types = set(rule.params["demand_doc_types"])
    default_days = float(rule.params.get("period_days", 10))
    approvals = approved_of(case, rule.params["approval_kind"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [ref_record(rec)]
        demands = sorted(
            (r for r in case.records if r.doc_type in demand_types and r.at <= rec.at),
            key=lambda r: r.at,
        )
        if not demands:
            yield finding(
                rule, ctx, "execution_no_demand", ref, doc_type=rec.doc_type, executed_at=rec.at
            )
        else:
            d = demands[-1]
            served = parse_moment(d.fields.get("served_at")) or (
                d.at if d.signature_status in ("signed", "refused") else None
            )
            if served is None:
                yield finding(
                    rule,
                    ctx,
                    "execution_demand_not_served",
                    ref,
                    doc_type=rec.doc_type,
                    demand_at=d.at,
                )
            else:
                try:
                    days = float(d.fields.get("period_days", default_days))
                except (TypeError, ValueError):
                    days = default_days
                due = served + timedelta(days=days)
                if rec.at < due:
                    yield finding(
                        rule,
                        ctx,
                        "execution_demand_period_running",
                        ref,
                        doc_type=rec.doc_type,
                        served_at=served,
                        period_days=days,
                        due=due,
                        executed_at=rec.at,
                    )
        if not approvals:
            yield finding(
                rule,
                ctx,
                "execution_no_approval",
                ref,
                doc_type=rec.doc_type,
                approval_kind=rule.params["approval_kind"],
            )
