"""The compliance engine: evaluates a rule pack (data) against the facts of one case.

Pure functions over frozen facts, no database: server/cases/facts.py gathers the facts, this
module says what the regulation finds missing. Each check kind is a small predicate the packs
parametrise (config/rules/lishui.toml lists them); a pack adds rules without code. The facts are
in compliance_facts.py, what the checks read of them in compliance_reading.py, the checks in
compliance_checks.py and av_coverage.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from server.cases import finding_texts
from server.cases.av_coverage import case_av, record_av_coverage, record_av_span
from server.cases.compliance_checks import (
    approval_deadline,
    approval_fields,
    approval_separation,
    case_clock,
    complaint_notified,
    execution_prerequisites,
    record_fields,
    record_needs_record,
    record_officers,
    record_present,
    rectification_check,
)
from server.cases.compliance_facts import CaseFacts, Ctx
from server.cases.compliance_reading import case_matches, finding, missing_records, stages_left
from server.cases.rulepack import Pack, Rule


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


def _required_records(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, archiving = ctx
    for m in missing_records(pack, case, stages_left(case, archiving or case.stage == "archiving")):
        f = finding(
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
    "approval_deadline": approval_deadline,
    "approval_fields": approval_fields,
    "approval_separation": approval_separation,
    "case_clock": case_clock,
    "complaint_notified": complaint_notified,
    "execution_prerequisites": execution_prerequisites,
    "record_av_coverage": record_av_coverage,
    "record_av_span": record_av_span,
    "record_fields": record_fields,
    "record_needs_record": record_needs_record,
    "record_officers": record_officers,
    "record_present": record_present,
    "rectification_check": rectification_check,
    "case_av": case_av,
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
