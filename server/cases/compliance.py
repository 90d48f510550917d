"""The compliance engine: evaluates a rule pack (data) against the facts of one case.

Pure functions over frozen facts, no database: server/cases.py gathers the facts, this module
says what the regulation finds missing. Each check kind below is a small predicate the packs
parametrise (config/rules/lishui.toml lists them); a pack adds rules without code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from integrity.timefmt import parse_rfc3339
from server.cases import finding_texts
from server.cases.rulepack import STAGES, Pack, Requirement, Rule


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


# -- selectors ---------------------------------------------------------------------------------
def _accepts(expected: Any, actual: Any) -> bool:
    return actual in expected if isinstance(expected, list) else actual == expected


def case_matches(when: Mapping[str, Any], case: CaseFacts) -> bool:
    """True when every key of a rule's `when` accepts the case."""
    return all(_accepts(v, getattr(case, k)) for k, v in when.items())


def _value(rec: RecordFact, name: str) -> Any:
    if name in RecordFact.__dataclass_fields__:
        return getattr(rec, name)
    return rec.fields.get(name)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value not in (None, False, [], {}, 0)


def record_matches(match: Mapping[str, Any], rec: RecordFact, pack: Pack) -> bool:
    """True when every key of a rule's `match` accepts the record."""
    for key, expected in match.items():
        if key == "has_field":  # every named field is filled in (e.g. a 责令改正 deadline)
            names = expected if isinstance(expected, list) else [expected]
            if not all(_truthy(_value(rec, str(n))) for n in names):
                return False
            continue
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


Ctx = tuple[Pack, CaseFacts, datetime, bool]


def _finding(
    rule: Rule, ctx: Ctx, code: str, refs: list[dict[str, Any]], **params: Any
) -> dict[str, Any]:
    """A finding: the rule and article, a stable code with its parameters, the stage and record
    it is about, and its text in both languages (`message` is Chinese until localised)."""
    pack, case, _, _ = ctx
    first = refs[0] if refs else {}
    params = {k: v for k, v in params.items() if v is not None}
    zh = finding_texts.render(code, params, "zh-CN", pack, rule)
    en = finding_texts.render(code, params, "en", pack, rule)
    return {
        "rule": rule.id,
        "code": code,
        "params": params,
        "article": rule.article,
        "stage": rule.stage or first.get("stage") or case.stage,
        "record_id": first.get("id") if first.get("kind") == "record" else None,
        "severity": rule.severity,
        "message": zh,
        "message_zh": zh,
        "message_en": en,
        "rule_message_zh": rule.message_zh,
        "rule_message_en": rule.message_en,
        "records": refs,
        "detail": params,
        "pack": rule.pack,
    }


def localize(findings: Iterable[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Set each finding's `message` (and a blocker's `label`) to the request's language."""
    en = finding_texts.lang_of(lang) == "en"
    out = []
    for f in findings:
        if "message_zh" in f:
            f["message"] = f["message_en"] if en else f["message_zh"]
        if "label_zh" in f:
            f["label"] = f["label_en"] if en else f["label_zh"]
        out.append(f)
    return out


def _alts(name: str) -> list[str]:
    """A field requirement "a|b" is met by any of the names."""
    return [n for n in name.split("|") if n]


def _filled(rec: RecordFact, name: str) -> bool:
    return any(_truthy(_value(rec, n)) for n in _alts(name))


def parse_moment(value: Any) -> datetime | None:
    """An RFC 3339 time from a record's fields (None when absent or unreadable)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_rfc3339(value.strip(), naive_zone=UTC)
    except ValueError:
        return None


def approved(case: CaseFacts) -> list[ApprovalFact]:
    """Only approvals the approver approved count, at the server's time of that approval
    (a pending, reviewed or rejected request is no approval yet)."""
    return [a for a in case.approvals if a.status == "approved" and a.approved_at is not None]


def _approved(case: CaseFacts, kind: str | None = None) -> list[ApprovalFact]:
    """The approvals that count (of one kind), earliest first."""
    return sorted(
        (a for a in approved(case) if kind is None or a.kind == kind),
        key=lambda a: a.approved_at,  # type: ignore[arg-type,return-value]
    )


def clock_start(case: CaseFacts, tolerance_minutes: float) -> datetime:
    """Where the Art. 8 clock starts: opened_at, unless it is earlier than the server time the
    case was entered by more than the tolerance; then the server time (opened_at is not
    trusted, and the case_clock rule flags it for review)."""
    if case.created_at is not None and case.opened_at < case.created_at - timedelta(
        minutes=tolerance_minutes
    ):
        return case.created_at
    return case.opened_at


# -- the checks --------------------------------------------------------------------------------
def _approval_deadline(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, now, _ = ctx
    kind = rule.params["kind"]
    hours = float(rule.params["hours"])
    start = clock_start(case, float(rule.params.get("opened_tolerance_minutes", 60)))
    deadline = start + timedelta(hours=hours)
    found = _approved(case, kind)
    if not found:
        if now > deadline:  # still inside the window: not late yet
            yield _finding(
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
        yield _finding(
            rule,
            ctx,
            "approval_late",
            [_ref_approval(found[0])],
            approval_kind=kind,
            hours=hours,
            clock_start=start,
            deadline=deadline,
            approved_at=found[0].approved_at,
            late_hours=round(late, 1),
            approval_id=found[0].id,
        )


def _case_clock(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    tol = float(rule.params["tolerance_minutes"])
    if clock_start(case, tol) != case.opened_at and case.created_at is not None:
        earlier = (case.created_at - case.opened_at).total_seconds() / 3600
        yield _finding(
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


def _approval_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    for a in _approved(case, rule.params["kind"]):
        missing = [
            f for f in rule.params["fields"] if not any(_approval_value(a, n) for n in _alts(f))
        ]
        if missing:
            yield _finding(
                rule,
                ctx,
                "approval_fields_missing",
                [_ref_approval(a)],
                approval_kind=a.kind,
                fields=[_alts(f)[0] for f in missing],
                missing_fields=missing,
                approval_id=a.id,
            )


def _approval_separation(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    kinds = rule.params.get("kinds")
    for a in _approved(case):
        if kinds and a.kind not in kinds:
            continue
        people = [a.handler_id, a.reviewer_id, a.approver_id]
        if None in people or len(set(people)) != 3:
            yield _finding(
                rule,
                ctx,
                "approval_roles_not_separate",
                [_ref_approval(a)],
                approval_kind=a.kind,
                handler_id=a.handler_id,
                reviewer_id=a.reviewer_id,
                approver_id=a.approver_id,
                approval_id=a.id,
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
            yield _finding(
                rule,
                ctx,
                "complaint_not_notified",
                [_ref_complaint(c)],
                received_at=c.received_at,
                complaint_id=c.id,
            )


def _interval(item: ItemFact, photo_seconds: float) -> tuple[datetime, datetime] | None:
    """The span an item records; a photo stands for photo_seconds around its moment."""
    if item.recorded_at is None:
        return None
    if item.kind == "photo":
        half = timedelta(seconds=photo_seconds / 2)
        return item.recorded_at - half, item.recorded_at + half
    return item.recorded_at, item.recorded_at + timedelta(seconds=item.duration_s or 0.0)


def covers(item: ItemFact, rec: RecordFact, margin_s: float) -> bool:
    """True when the item's recording overlaps the record's time (± margin); used to propose
    links, not to judge coverage."""
    if item.recorded_at is None:
        return False
    start = item.recorded_at - timedelta(seconds=margin_s)
    end = item.recorded_at + timedelta(seconds=(item.duration_s or 0.0) + margin_s)
    return start <= (rec.end_at or rec.at) and end >= rec.at


def covers_moment(item: ItemFact, moment: datetime, margin_s: float) -> bool:
    """True when the item's recording (± margin) contains the moment."""
    span = _interval(item, 0.0)
    if span is None:
        return False
    margin = timedelta(seconds=margin_s)
    return span[0] - margin <= moment <= span[1] + margin


def _record_av_coverage(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    kinds = set(rule.params["kinds"])
    margin = float(rule.params.get("margin_seconds", 0))
    time_field = rule.params.get("time_field")
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        if time_field:  # e.g. the moment of the refusal; else the end of the transcript
            moment = parse_moment(rec.fields.get(time_field)) or rec.end_at or rec.at
        else:
            moment = rec.at
        if not any(i.kind in kinds and covers_moment(i, moment, margin) for i in case.items):
            yield _finding(
                rule,
                ctx,
                "av_not_covering",
                [_ref_record(rec)],
                doc_type=rec.doc_type,
                moment=moment,
                kinds=sorted(kinds),
                margin_seconds=margin,
            )


def coverage(
    items: Iterable[ItemFact],
    kinds: set[str],
    start: datetime,
    end: datetime,
    photo_seconds: float,
) -> float:
    """Seconds of [start, end] covered by the union of the items' recordings."""
    raw = [_interval(i, photo_seconds) for i in items if i.kind in kinds]
    spans = sorted(
        (max(a, start), min(b, end)) for a, b in (sp for sp in raw if sp) if b > start and a < end
    )
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in spans:
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return total


def _record_av_span(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    kinds = set(rule.params["kinds"])
    need = float(rule.params["min_share"])
    photo_s = float(rule.params.get("photo_seconds", 30))
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        if rec.end_at is None or rec.end_at <= rec.at:
            # the execution's span is unknown: a point in time cannot show how much was filmed
            yield _finding(
                rule,
                ctx,
                "av_span_no_end",
                [_ref_record(rec)],
                doc_type=rec.doc_type,
                start=rec.at,
            )
            continue
        span = (rec.end_at - rec.at).total_seconds()
        covered = coverage(case.items, kinds, rec.at, rec.end_at, photo_s)
        share = covered / span
        if share + 1e-9 < need:
            yield _finding(
                rule,
                ctx,
                "av_span_uncovered",
                [_ref_record(rec)],
                doc_type=rec.doc_type,
                start=rec.at,
                end=rec.end_at,
                span_seconds=round(span),
                covered_seconds=round(covered),
                uncovered_seconds=round(span - covered),
                share_pct=round(share * 100, 1),
                min_share_pct=round(need * 100, 1),
                kinds=sorted(kinds),
            )


def av_share(case: CaseFacts, rec: RecordFact, kinds: set[str], photo_s: float) -> float | None:
    """Share of a record's span covered by the case's recordings (None without a span)."""
    if rec.end_at is None or rec.end_at <= rec.at:
        return None
    return (
        coverage(case.items, kinds, rec.at, rec.end_at, photo_s)
        / (rec.end_at - rec.at).total_seconds()
    )


def _record_fields(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            missing = [f for f in rule.params["fields"] if not _filled(rec, f)]
            if missing:
                yield _finding(
                    rule,
                    ctx,
                    "record_fields_missing",
                    [_ref_record(rec)],
                    doc_type=rec.doc_type,
                    at=rec.at,
                    fields=[_alts(f)[0] for f in missing],
                    missing_fields=missing,
                )


def _record_officers(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    need = int(rule.params["min_officers"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [_ref_record(rec)]
        if len(rec.officers) < need:
            yield _finding(
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
                yield _finding(
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
                yield _finding(
                    rule,
                    ctx,
                    "officer_certificate_not_shown",
                    ref,
                    doc_type=rec.doc_type,
                    at=rec.at,
                    officers=bad,
                )


def _record_present(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            yield _finding(
                rule, ctx, "record_flagged", [_ref_record(rec)], doc_type=rec.doc_type, at=rec.at
            )


def _record_needs_record(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    wanted = set(rule.params["doc_types"])
    have = any(r.doc_type in wanted for r in case.records)
    if have:
        return
    for rec in case.records:
        if record_matches(rule.match, rec, pack):
            yield _finding(
                rule,
                ctx,
                "related_record_missing",
                [_ref_record(rec)],
                doc_type=rec.doc_type,
                at=rec.at,
                needed=list(rule.params["doc_types"]),
            )


def _rectification_check(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, now, archiving = ctx
    grace = timedelta(days=float(rule.params.get("grace_days", 0)))
    kinds = set(rule.params["check_doc_types"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [_ref_record(rec)]
        raw = rec.fields.get(rule.params["deadline_field"])
        deadline = parse_moment(raw)
        if deadline is None:
            yield _finding(
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
            yield _finding(
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
            yield _finding(
                rule,
                ctx,
                "rectification_check_missing",
                ref,
                doc_type=rec.doc_type,
                deadline=deadline,
                grace_days=grace.days,
            )


def _execution_prerequisites(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    """Art. 20-21: execution only after a 催告书 served on the party and its period elapsed,
    and with an approved execution approval."""
    pack, case, _, _ = ctx
    demand_types = set(rule.params["demand_doc_types"])
    default_days = float(rule.params.get("period_days", 10))
    approvals = _approved(case, rule.params["approval_kind"])
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        ref = [_ref_record(rec)]
        demands = sorted(
            (r for r in case.records if r.doc_type in demand_types and r.at <= rec.at),
            key=lambda r: r.at,
        )
        if not demands:
            yield _finding(
                rule, ctx, "execution_no_demand", ref, doc_type=rec.doc_type, executed_at=rec.at
            )
        else:
            d = demands[-1]
            served = parse_moment(d.fields.get("served_at")) or (
                d.at if d.signature_status in ("signed", "refused") else None
            )
            if served is None:
                yield _finding(
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
                    yield _finding(
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
            yield _finding(
                rule,
                ctx,
                "execution_no_approval",
                ref,
                doc_type=rec.doc_type,
                approval_kind=rule.params["approval_kind"],
            )


def _case_av(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    if not any(i.kind in rule.params["kinds"] for i in case.items):
        yield _finding(rule, ctx, "case_av_missing", [], kinds=list(rule.params["kinds"]))


def requirement_applies(req: Requirement, case: CaseFacts) -> bool:
    if not case_matches(req.when, case):
        return False
    return not req.if_present or any(_present(ref, case) for ref in req.if_present)


def _present(ref: str, case: CaseFacts) -> bool:
    if ref.startswith("approval:"):
        return bool(_approved(case, ref.removeprefix("approval:")))
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
    """Stages whose records are due: those before the current one, or every stage (archiving
    included: 结案报告, 卷宗目录) when archiving is asked for or done."""
    if archiving:
        return list(STAGES)
    return list(STAGES[: STAGES.index(case.stage)])


def _required_records(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, archiving = ctx
    for m in missing_records(pack, case, stages_left(case, archiving or case.stage == "archiving")):
        f = _finding(
            rule,
            ctx,
            "required_record_missing",
            [
                {
                    "id": m["requirement"],
                    "kind": "requirement",
                    "stage": m["stage"],
                    "any_of": m["any_of"],
                }
            ],
            requirement=m["requirement"],
            any_of=m["any_of"],
            stage_of=m["stage"],
        )
        f["article"] = m["article"]  # the article of the requirement, not of the umbrella rule
        f["stage"] = m["stage"]
        f["detail"] = {**f["detail"], **m}
        yield f


CHECK_FUNCS: dict[str, Callable[[Rule, Ctx], Iterable[dict[str, Any]]]] = {
    "approval_deadline": _approval_deadline,
    "approval_fields": _approval_fields,
    "approval_separation": _approval_separation,
    "case_clock": _case_clock,
    "complaint_notified": _complaint_notified,
    "execution_prerequisites": _execution_prerequisites,
    "record_av_coverage": _record_av_coverage,
    "record_av_span": _record_av_span,
    "record_fields": _record_fields,
    "record_needs_record": _record_needs_record,
    "record_officers": _record_officers,
    "record_present": _record_present,
    "rectification_check": _rectification_check,
    "case_av": _case_av,
    "required_records": _required_records,
}


def evaluate(
    pack: Pack,
    case: CaseFacts,
    now: datetime,
    *,
    archiving: bool = False,
    lang: str = "zh-CN",
) -> list[dict[str, Any]]:
    """Every finding of every rule of the pack for this case, in pack order."""
    ctx: Ctx = (pack, case, now, archiving)
    findings: list[dict[str, Any]] = []
    for rule in pack.rules:
        if case_matches(rule.when, case):
            findings.extend(CHECK_FUNCS[rule.check](rule, ctx))
    return localize(findings, lang)


def archiving_blockers(pack: Pack, case: CaseFacts, now: datetime) -> list[dict[str, Any]]:
    """What stops a case from being archived: missing required records, then every other
    error-level finding (a refusal to sign without video is a missing record too)."""
    missing = missing_records(pack, case, stages_left(case, archiving=True))
    out: list[dict[str, Any]] = [{"kind": "record", **m} for m in missing]
    for f in evaluate(pack, case, now, archiving=True):
        if f["severity"] != "error" or f["code"] == "required_record_missing":
            continue
        out.append(
            {
                "kind": "finding",
                "rule": f["rule"],
                "code": f["code"],
                "params": f["params"],
                "article": f["article"],
                "stage": f["stage"],
                "record_id": f["record_id"],
                "label_zh": f["message_zh"],
                "label_en": f["message_en"],
                "records": f["records"],
            }
        )
    return out
