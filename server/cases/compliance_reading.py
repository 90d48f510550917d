"""What the compliance checks read of a case's facts: which cases and records a rule selects,
which approvals count, where the Art. 8 clock starts, which required records are missing, and
the shape of a finding."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from integrity.timefmt import parse_rfc3339
from server.cases import finding_texts
from server.cases.compliance_facts import ApprovalFact, CaseFacts, ComplaintFact, Ctx, RecordFact
from server.cases.rulepack import STAGES, Pack, Requirement, Rule


def _accepts(expected: Any, actual: Any) -> bool:
    return actual in expected if isinstance(expected, list) else actual == expected


def case_matches(when: Mapping[str, Any], case: CaseFacts) -> bool:
    """True when every key of a rule's `when` accepts the case."""
    return all(_accepts(v, getattr(case, k)) for k, v in when.items())


def field_value(rec: RecordFact, name: str) -> Any:
    if name in RecordFact.__dataclass_fields__:
        return getattr(rec, name)
    return rec.fields.get(name)


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value not in (None, False, [], {}, 0)


def record_matches(match: Mapping[str, Any], rec: RecordFact, pack: Pack) -> bool:
    """True when every key of a rule's `match` accepts the record."""
    for key, expected in match.items():
        if key == "has_field":  # every named field is filled in (e.g. a 责令改正 deadline)
            names = expected if isinstance(expected, list) else [expected]
            if not all(truthy(field_value(rec, str(n))) for n in names):
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


def ref_record(rec: RecordFact) -> dict[str, Any]:
    return {
        "id": rec.id,
        "kind": "record",
        "doc_type": rec.doc_type,
        "stage": rec.stage,
        "at": rec.at,
    }


def ref_approval(a: ApprovalFact) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": "approval",
        "approval_kind": a.kind,
        "stage": a.stage,
        "at": a.approved_at,
    }


def ref_complaint(c: ComplaintFact) -> dict[str, Any]:
    return {"id": c.id, "kind": "complaint", "stage": "initiation", "at": c.received_at}


def finding(
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


def alternatives(name: str) -> list[str]:
    """A field requirement "a|b" is met by any of the names."""
    return [n for n in name.split("|") if n]


def filled(rec: RecordFact, name: str) -> bool:
    return any(truthy(field_value(rec, n)) for n in alternatives(name))


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


def approved_of(case: CaseFacts, kind: str | None = None) -> list[ApprovalFact]:
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


def requirement_applies(req: Requirement, case: CaseFacts) -> bool:
    if not case_matches(req.when, case):
        return False
    return not req.if_present or any(present_in(ref, case) for ref in req.if_present)


def present_in(ref: str, case: CaseFacts) -> bool:
    if ref.startswith("approval:"):
        return bool(approved_of(case, ref.removeprefix("approval:")))
    return any(r.doc_type == ref for r in case.records)


def missing_records(pack: Pack, case: CaseFacts, stages: Iterable[str]) -> list[dict[str, Any]]:
    """Requirements of these stages that apply to the case and have no record."""
    wanted = set(stages)
    out = []
    for req in pack.requirements:
        if (
            req.stage in wanted
            and requirement_applies(req, case)
            and not any(present_in(ref, case) for ref in req.any_of)
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
