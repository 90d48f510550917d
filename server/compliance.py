"""The compliance engine: evaluates a rule pack (data) against the facts of one case.

Pure functions over frozen facts, no database: server/cases.py gathers the facts, this module
says what the regulation finds missing. Each check kind below is a small predicate the packs
parametrise (config/rules/lishui.toml lists them); a pack adds rules without code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.rulepack import STAGES, Pack, Requirement, Rule


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


# -- selectors ---------------------------------------------------------------------------------
def _accepts(expected: Any, actual: Any) -> bool:
    return actual in expected if isinstance(expected, list) else actual == expected


def case_matches(when: Mapping[str, Any], case: CaseFacts) -> bool:
    """True when every key of a rule's `when` accepts the case."""
    return all(_accepts(v, getattr(case, k)) for k, v in when.items())


def record_matches(match: Mapping[str, Any], rec: RecordFact, pack: Pack) -> bool:
    """True when every key of a rule's `match` accepts the record."""
    for key, expected in match.items():
        if key == "party_rights":
            doc = pack.doc_types.get(rec.doc_type)
            actual: Any = bool(doc and doc.party_rights)
        else:
            actual = getattr(rec, key)
        if not _accepts(expected, actual):
            return False
    return True


def _ref_record(rec: RecordFact) -> dict[str, Any]:
    return {
        "id": rec.id,
        "kind": "record",
        "doc_type": rec.doc_type,
        "stage": rec.stage,
        "at": rec.at,
    }


def _ref_approval(a: ApprovalFact) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": "approval",
        "approval_kind": a.kind,
        "stage": a.stage,
        "at": a.approved_at,
    }


def _ref_complaint(c: ComplaintFact) -> dict[str, Any]:
    return {"id": c.id, "kind": "complaint", "stage": "initiation", "at": c.received_at}


def _finding(rule: Rule, refs: list[dict[str, Any]], **detail: Any) -> dict[str, Any]:
    return {
        "rule": rule.id,
        "article": rule.article,
        "severity": rule.severity,
        "message": rule.message_zh,
        "message_en": rule.message_en,
        "records": refs,
        "detail": detail,
        "pack": rule.pack,
    }


def _filled(rec: RecordFact, name: str) -> bool:
    value = getattr(rec, name) if name in RecordFact.__dataclass_fields__ else rec.fields.get(name)
    if isinstance(value, str):
        return bool(value.strip())
    return value not in (None, [], {})


# -- the checks --------------------------------------------------------------------------------
Ctx = tuple[Pack, CaseFacts, datetime, bool]


def approved(case: CaseFacts) -> list[ApprovalFact]:
    """Only approvals the approver approved count, at the server's time of that approval
    (a pending, reviewed or rejected request is no approval yet)."""
    return [a for a in case.approvals if a.status == "approved" and a.approved_at is not None]


def _approval_deadline(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, now, _ = ctx
    deadline = case.opened_at + timedelta(hours=float(rule.params["hours"]))
    found = sorted(
        (a for a in approved(case) if a.kind == rule.params["kind"]),
        key=lambda a: a.approved_at or now,
    )
    if not found:
        if now > deadline:  # still inside the window: not late yet
            yield _finding(rule, [], deadline=deadline, approval=None)
    elif (found[0].approved_at or now) > deadline:
        yield _finding(
            rule, [_ref_approval(found[0])], deadline=deadline, approved_at=found[0].approved_at
        )


def _approval_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    for a in approved(case):
        if a.kind != rule.params["kind"]:
            continue
        missing = [f for f in rule.params["fields"] if not str(a.fields.get(f) or "").strip()]
        if missing:
            yield _finding(rule, [_ref_approval(a)], missing_fields=missing)


def _approval_separation(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    kinds = rule.params.get("kinds")
    for a in case.approvals:
        if kinds and a.kind not in kinds:
            continue
        people = [a.handler_id, a.reviewer_id, a.approver_id]
        if None in people or len(set(people)) != 3:
            yield _finding(
                rule,
                [_ref_approval(a)],
                handler_id=a.handler_id,
                reviewer_id=a.reviewer_id,
                approver_id=a.approver_id,
            )


def _complaint_notified(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    notices = {
        str(r.fields.get("complaint_id"))
        for r in case.records
        if r.doc_type in rule.params["notice_doc_types"]
    }
    for c in case.complaints:
        if c.named and c.decision == "declined" and c.id not in notices:
            yield _finding(rule, [_ref_complaint(c)])


def covers(item: ItemFact, rec: RecordFact, margin_s: float) -> bool:
    """True when the item's recording overlaps the record's time (± margin)."""
    if item.recorded_at is None:
        return False
    start = item.recorded_at - timedelta(seconds=margin_s)
    end = item.recorded_at + timedelta(seconds=(item.duration_s or 0.0) + margin_s)
    return start <= (rec.end_at or rec.at) and end >= rec.at


def _record_av_coverage(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    kinds = set(rule.params["kinds"])
    margin = float(rule.params.get("margin_seconds", 0))
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        if not any(i.kind in kinds and covers(i, rec, margin) for i in case.items):
            yield _finding(rule, [_ref_record(rec)], kinds=sorted(kinds), margin_seconds=margin)


def _record_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            missing = [f for f in rule.params["fields"] if not _filled(rec, f)]
            if missing:
                yield _finding(rule, [_ref_record(rec)], missing_fields=missing)


def _record_officers(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    need = int(rule.params["min_officers"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        problems = []
        if len(rec.officers) < need:
            problems.append(f"{len(rec.officers)} officer(s) named, {need} needed")
        for o in rec.officers:
            who = o.get("name") or o.get("officer_id") or "?"
            if rule.params.get("require_certificate", True) and not o.get("certificate_no"):
                problems.append(f"{who}: no certificate number")
            if rule.params.get("require_shown", False) and not o.get("shown"):
                problems.append(f"{who}: certificate not recorded as shown")
        if problems:
            yield _finding(rule, [_ref_record(rec)], problems=problems)


def _record_present(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            yield _finding(rule, [_ref_record(rec)])


def _case_av(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    if not any(i.kind in rule.params["kinds"] for i in case.items):
        yield _finding(rule, [], kinds=list(rule.params["kinds"]))


def requirement_applies(req: Requirement, case: CaseFacts) -> bool:
    if not case_matches(req.when, case):
        return False
    return not req.if_present or any(_present(ref, case) for ref in req.if_present)


def _present(ref: str, case: CaseFacts) -> bool:
    if ref.startswith("approval:"):
        return any(a.kind == ref.removeprefix("approval:") for a in approved(case))
    return any(r.doc_type == ref for r in case.records)


def missing_records(pack: Pack, case: CaseFacts, stages: Iterable[str]) -> list[dict[str, Any]]:
    """Requirements of these stages that apply to the case and have no record."""
    wanted = set(stages)
    out = []
    for req in pack.requirements:
        if (
            req.stage in wanted
            and requirement_applies(req, case)
            and not any(_present(ref, case) for ref in req.any_of)
        ):
            out.append(
                {
                    "requirement": req.id,
                    "stage": req.stage,
                    "article": req.article,
                    "any_of": list(req.any_of),
                    "label_zh": req.label_zh,
                    "label_en": req.label_en,
                }
            )
    return out


def stages_left(case: CaseFacts, archiving: bool) -> list[str]:
    """Stages whose records are due: those before the current one (all but archiving when
    archiving is asked for or done)."""
    until = STAGES.index("archiving") if archiving else STAGES.index(case.stage)
    return list(STAGES[:until])


def _required_records(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, archiving = ctx
    for m in missing_records(pack, case, stages_left(case, archiving or case.stage == "archiving")):
        yield _finding(
            rule,
            [
                {
                    "id": m["requirement"],
                    "kind": "requirement",
                    "stage": m["stage"],
                    "any_of": m["any_of"],
                }
            ],
            **m,
        )


CHECK_FUNCS: dict[str, Callable[[Rule, Ctx], Iterable[dict[str, Any]]]] = {
    "approval_deadline": _approval_deadline,
    "approval_fields": _approval_fields,
    "approval_separation": _approval_separation,
    "complaint_notified": _complaint_notified,
    "record_av_coverage": _record_av_coverage,
    "record_fields": _record_fields,
    "record_officers": _record_officers,
    "record_present": _record_present,
    "case_av": _case_av,
    "required_records": _required_records,
}


def evaluate(
    pack: Pack, case: CaseFacts, now: datetime, *, archiving: bool = False
) -> list[dict[str, Any]]:
    """Every finding of every rule of the pack for this case, in pack order."""
    ctx: Ctx = (pack, case, now, archiving)
    findings: list[dict[str, Any]] = []
    for rule in pack.rules:
        if case_matches(rule.when, case):
            findings.extend(CHECK_FUNCS[rule.check](rule, ctx))
    return findings


def archiving_blockers(pack: Pack, case: CaseFacts, now: datetime) -> list[dict[str, Any]]:
    """What stops a case from being archived: missing required records, then every other
    error-level finding (a refusal to sign without video is a missing record too)."""
    missing = missing_records(pack, case, stages_left(case, archiving=True))
    out: list[dict[str, Any]] = [{"kind": "record", **m} for m in missing]
    for f in evaluate(pack, case, now, archiving=True):
        if (
            f["severity"] == "error"
            and f["records"]
            and f["records"][0].get("kind") != "requirement"
        ):
            out.append(
                {
                    "kind": "finding",
                    "rule": f["rule"],
                    "article": f["article"],
                    "label_zh": f["message"],
                    "label_en": f["message_en"],
                    "records": f["records"],
                }
            )
        elif f["severity"] == "error" and not f["records"]:
            out.append(
                {
                    "kind": "finding",
                    "rule": f["rule"],
                    "article": f["article"],
                    "label_zh": f["message"],
                    "label_en": f["message_en"],
                    "records": [],
                }
            )
    return out
