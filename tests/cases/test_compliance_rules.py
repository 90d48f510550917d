"""Every rule of the shipped pack, each with a compliant and a non-compliant case (engine level)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.cases.compliance import archiving_blockers, evaluate
from server.cases.compliance_facts import (
    ApprovalFact,
    CaseFacts,
    ComplaintFact,
    ItemFact,
    RecordFact,
)
from server.cases.rulebook import load_rulebook

PACK = load_rulebook("", "lishui").base
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
OFFICERS = (
    {"officer_id": 1, "name": "王明", "certificate_no": "33110001", "shown": True},
    {"officer_id": 2, "name": "李华", "certificate_no": "33110002", "shown": True},
)
INITIATION = ApprovalFact(
    id="ap-init",
    kind="initiation",
    stage="initiation",
    approved_at=T0 + timedelta(hours=2),
    handler_id=10,
    reviewer_id=11,
    approver_id=12,
    fields={
        "reason": "群众举报",
        "party": "某超市",
        "handler_opinion": "建议立案",
        "unit_opinion": "同意",
        "legal_basis": "《产品质量法》第十五条",
    },
)


def rec(id: str, doc_type: str, minutes: float = 60, **kw: Any) -> RecordFact:
    stage = PACK.doc_types[doc_type].stage
    assert stage is not None
    kw.setdefault(
        "signature_status", "signed" if PACK.doc_types[doc_type].party_rights else "not_applicable"
    )
    return RecordFact(
        id=id, stage=stage, doc_type=doc_type, at=T0 + timedelta(minutes=minutes), **kw
    )


def base_case(**kw: Any) -> CaseFacts:
    """A compliant general-procedure inspection case in the investigation stage."""
    fields: dict[str, Any] = dict(
        id="c1",
        enforcement_type="inspection",
        procedure="general",
        stage="investigation",
        opened_at=T0,
        approvals=(INITIATION,),
        records=(rec("r1", "onsite_inspection_transcript", officers=OFFICERS),),
    )
    fields.update(kw)
    return CaseFacts(**fields)


def video(id: str, minutes: float, seconds: float = 120, kind: str = "video") -> ItemFact:
    return ItemFact(
        id=id,
        kind=kind,
        stage="investigation",
        recorded_at=T0 + timedelta(minutes=minutes),
        duration_s=seconds,
    )


def rule_findings(case: CaseFacts, rule: str) -> list[dict[str, Any]]:
    return [f for f in evaluate(PACK, case, NOW) if f["rule"] == rule]


# (rule id, compliant case, non-compliant case)
CASES: list[tuple[str, CaseFacts, CaseFacts]] = [
    (
        "art8-emergency-approval-24h",
        base_case(
            emergency_start=True,
            approvals=(replace(INITIATION, approved_at=T0 + timedelta(hours=23)),),
        ),
        base_case(
            emergency_start=True,
            approvals=(replace(INITIATION, approved_at=T0 + timedelta(hours=25)),),
        ),
    ),
    (
        "art8-initiation-approval-content",
        base_case(),
        base_case(approvals=(replace(INITIATION, fields={"reason": "举报"}),)),
    ),
    (
        "art8-major-legal-opinion",
        base_case(
            major=True,
            approvals=(
                replace(INITIATION, fields={**INITIATION.fields, "legal_review_opinion": "合法"}),
            ),
        ),
        base_case(major=True),
    ),
    (
        "art9-declined-complaint-notice",
        base_case(
            complaints=(ComplaintFact(id="cp1", received_at=T0, named=True, decision="declined"),),
            records=(
                rec("r0", "complaint_notice", 10, fields={"complaint_id": "cp1"}),
                rec("r1", "onsite_inspection_transcript", officers=OFFICERS),
            ),
        ),
        base_case(
            complaints=(ComplaintFact(id="cp1", received_at=T0, named=True, decision="declined"),)
        ),
    ),
    (
        "art10-officers-on-record",
        base_case(),
        base_case(
            records=(
                rec(
                    "r1",
                    "onsite_inspection_transcript",
                    officers=(OFFICERS[0], {**OFFICERS[1], "shown": False}),
                ),
            )
        ),
    ),
    (
        "art13-refusal-to-sign-av",
        base_case(
            records=(
                rec(
                    "r1",
                    "onsite_inspection_transcript",
                    60,
                    officers=OFFICERS,
                    signature_status="refused",
                ),
            ),
            items=(video("v1", 55, 600),),
        ),
        base_case(
            records=(
                rec(
                    "r1",
                    "onsite_inspection_transcript",
                    60,
                    officers=OFFICERS,
                    signature_status="refused",
                ),
            ),
            items=(video("v1", 300, 600),),
        ),
    ),
    (
        "art13-party-document-signature",
        base_case(),
        base_case(
            records=(
                rec(
                    "r1",
                    "onsite_inspection_transcript",
                    officers=OFFICERS,
                    signature_status="not_applicable",
                ),
            )
        ),
    ),
    (
        "art14-preservation-content",
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r2",
                    "evidence_preservation",
                    90,
                    fields={
                        "reason": "证据可能灭失",
                        "object": "涉案商品30箱",
                        "form": "先行登记保存",
                    },
                ),
            )
        ),
        base_case(
            records=(
                *base_case().records,
                rec("r2", "evidence_preservation", 90, fields={"reason": "证据可能灭失"}),
            )
        ),
    ),
    (
        "art15-decision-draft-content",
        base_case(
            stage="decision",
            records=(
                *base_case().records,
                rec(
                    "r3",
                    "decision_draft",
                    2000,
                    fields={
                        "drafter": "王明",
                        "draft_reviewer": "张科长",
                        "legal_basis": "第十五条",
                        "evidence": "笔录",
                    },
                ),
            ),
        ),
        base_case(
            stage="decision",
            records=(
                *base_case().records,
                rec("r3", "decision_draft", 2000, fields={"drafter": "王明"}),
            ),
        ),
    ),
    (
        "art17-disputed-simple-av",
        base_case(procedure="simple", disputed=True, items=(video("v1", 10),)),
        base_case(procedure="simple", disputed=True),
    ),
    (
        "art18-service-method",
        base_case(
            records=(
                *base_case().records,
                rec("r4", "service_receipt", 5000, service_method="direct"),
            )
        ),
        base_case(records=(*base_case().records, rec("r4", "service_receipt", 5000))),
    ),
    (
        "art18-left-at-residence-witness",
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r4",
                    "service_receipt",
                    5000,
                    service_method="left_at_residence",
                    witness="社区主任 陈某",
                    signature_status="refused",
                    fields={"refusal_reason": "当事人拒收"},
                ),
            ),
            items=(video("v1", 4999),),
        ),
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r4",
                    "service_receipt",
                    5000,
                    service_method="left_at_residence",
                    signature_status="refused",
                ),
            ),
            items=(video("v1", 4999),),
        ),
    ),
    (
        "art18-left-at-residence-av",
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r4",
                    "service_receipt",
                    5000,
                    service_method="left_at_residence",
                    witness="陈某",
                    signature_status="refused",
                    fields={"refusal_reason": "拒收"},
                ),
            ),
            items=(video("p1", 5001, 0, kind="photo"),),
        ),
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r4",
                    "service_receipt",
                    5000,
                    service_method="left_at_residence",
                    witness="陈某",
                    signature_status="refused",
                    fields={"refusal_reason": "拒收"},
                ),
            ),
            items=(video("a1", 5001, 60, kind="other"),),
        ),
    ),
    (
        "art21-execution-av",
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r5",
                    "enforcement_record",
                    9000,
                    execution_type="remove_obstruction",
                    end_at=T0 + timedelta(minutes=9019),
                ),
            ),
            items=(video("v1", 8990, 1800),),
        ),
        base_case(
            records=(
                *base_case().records,
                rec(
                    "r5",
                    "enforcement_record",
                    9000,
                    execution_type="restore_original",
                    end_at=T0 + timedelta(minutes=9019),
                ),
            ),
            items=(video("a1", 9000, 40, kind="audio"),),
        ),
    ),
    (
        "art24-separation-of-duties",
        base_case(),
        base_case(approvals=(replace(INITIATION, approver_id=INITIATION.handler_id),)),
    ),
    (
        "art3-required-records",
        base_case(stage="decision"),
        base_case(stage="decision", approvals=()),
    ),
]


def test_every_rule_of_the_pack_has_a_case() -> None:
    from cases.test_compliance_articles import ARTICLE_RULES

    assert sorted([*(r for r, _, _ in CASES), *ARTICLE_RULES]) == sorted(r.id for r in PACK.rules)


@pytest.mark.parametrize(("rule", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_rule_compliant_and_not(rule: str, good: CaseFacts, bad: CaseFacts) -> None:
    assert rule_findings(good, rule) == [], f"{rule} fired on the compliant case"
    found = rule_findings(bad, rule)
    assert found, f"{rule} did not fire on the non-compliant case"
    f = found[0]
    spec = next(r for r in PACK.rules if r.id == rule)
    # a missing required record is counted under the article of the requirement (Art. 8 …)
    assert f["article"] == spec.article or spec.check == "required_records"
    assert f["severity"] == spec.severity
    assert f["rule_message_zh"] == spec.message_zh and f["rule_message_en"] == spec.message_en
    assert f["code"] and f["message"] == f["message_zh"] and f["message_en"]
    assert isinstance(f["records"], list)


def test_compliant_base_case_has_no_findings() -> None:
    assert evaluate(PACK, base_case(), NOW) == []


def test_emergency_start_without_approval_is_late_only_after_24h() -> None:
    case = base_case(emergency_start=True, approvals=())
    early = [
        f
        for f in evaluate(PACK, case, T0 + timedelta(hours=3))
        if f["rule"] == "art8-emergency-approval-24h"
    ]
    late = [
        f
        for f in evaluate(PACK, case, T0 + timedelta(hours=25))
        if f["rule"] == "art8-emergency-approval-24h"
    ]
    assert early == [] and len(late) == 1


def test_refusal_record_names_the_record_concerned() -> None:
    bad = CASES[[c[0] for c in CASES].index("art13-refusal-to-sign-av")][2]
    f = rule_findings(bad, "art13-refusal-to-sign-av")[0]
    assert (
        f["records"][0]["id"] == "r1"
        and f["records"][0]["doc_type"] == "onsite_inspection_transcript"
    )


def test_archiving_blockers_list_missing_records() -> None:
    case = base_case(
        stage="service_execution",
        records=(
            rec("r1", "onsite_inspection_transcript", officers=OFFICERS),
            rec("r2", "decision", 3000),
        ),
    )
    missing = archiving_blockers(PACK, case, NOW)
    ids = {m.get("requirement") for m in missing if m["kind"] == "record"}
    assert ids == {
        "rights-notice",
        "statement-or-waiver",
        "decision-approval",
        "service-record",
        "performance-record",
        "case-closure",
        "file-catalogue",
    }
    assert all(m["label_zh"] for m in missing)
