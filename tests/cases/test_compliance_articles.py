"""Issue 15, points 1-12: each article the rule pack now checks, with a compliant and a
non-compliant case (engine level, the shipped pack). Each test's docstring quotes the article."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cases.test_compliance_rules import (
    INITIATION,
    NOW,
    OFFICERS,
    PACK,
    T0,
    base_case,
    rec,
    video,
)

from server.cases.compliance import archiving_blockers, evaluate, localize
from server.cases.compliance_facts import ApprovalFact, CaseFacts
from server.cases.finding_texts import TEXTS, lang_of, render
from server.cases.rulebook import load_rulebook

# rules whose compliant and non-compliant cases live in this file
ARTICLE_RULES = frozenset(
    {
        "art8-opened-at-untrusted",
        "art13-refusal-circumstances",
        "art13-property-list-items",
        "art15-legal-review-content",
        "art15-head-approval-opinion",
        "art17-simple-record-content",
        "art17-statement-review",
        "art17-filing",
        "art17-on-the-spot-collection",
        "art18-entrusted-reason",
        "art18-postal-proof",
        "art18-postal-returned",
        "art18-public-notice",
        "art18-public-notice-record",
        "art19-rectification-check",
        "art20-demand-statement-review",
        "art21-execution-after-demand",
        "art21-seizure-onsite-content",
    }
)
COVERED: set[str] = set()


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def found(case: CaseFacts, rule: str, *, archiving: bool = False, now=NOW) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    COVERED.add(rule)
    return [f for f in evaluate(PACK, case, now, archiving=archiving) if f["rule"] == rule]


def codes(case: CaseFacts, rule: str, **kw: Any) -> list[str]:
    return [f["code"] for f in found(case, rule, **kw)]


def approval(kind: str, minutes: float = 120, **fields: Any) -> ApprovalFact:
    return ApprovalFact(
        id=f"ap-{kind}",
        kind=kind,
        stage=PACK.approval_kinds[kind].stage or "decision",
        approved_at=T0 + timedelta(minutes=minutes),
        handler_id=10,
        reviewer_id=11,
        approver_id=12,
        fields=fields,
    )


DECISION = rec("d1", "decision", 3000, fields={"decision": "责令改正"})


# -- 1. Art. 19 -------------------------------------------------------------------------------
def test_art19_rectification_checked_by_the_deadline() -> None:
    """Art. 19: "行政执法机关作出行政执法决定后，应对当事人履行行政决定的情况进行文字记录。依法应责令
    改正的，应按期对改正情况进行核查并进行文字记录" — a decision with a 责令改正 deadline needs a
    rectification check by the deadline, and a decision needs a performance record."""
    deadline = iso(3000 + 60 * 24 * 10)
    order = replace(DECISION, fields={"decision": "责令改正", "rectification_deadline": deadline})
    on_time = base_case(
        stage="service_execution",
        records=(order, rec("k1", "rectification_check", 3000 + 60 * 24 * 10 + 60)),
    )
    assert codes(on_time, "art19-rectification-check", archiving=True) == []
    never = base_case(stage="service_execution", records=(order,))
    assert codes(never, "art19-rectification-check", archiving=True) == [
        "rectification_check_missing"
    ]
    late = base_case(
        stage="service_execution",
        records=(order, rec("k1", "rectification_check", 3000 + 60 * 24 * 30)),
    )
    f = found(late, "art19-rectification-check")[0]
    assert f["code"] == "rectification_check_late" and f["record_id"] == "d1"
    assert f["stage"] == "decision" and f["article"] == 19
    # still inside the period: nothing due yet
    assert codes(never, "art19-rectification-check", now=T0 + timedelta(days=3)) == []
    # a decision needs its performance record (Art. 19 paragraph 1)
    need = {m["requirement"] for m in archiving_blockers(PACK, never, NOW) if m["kind"] == "record"}
    assert "performance-record" in need
    done = base_case(
        stage="service_execution", records=(order, rec("p1", "performance_record", 9000))
    )
    need = {m["requirement"] for m in archiving_blockers(PACK, done, NOW) if m["kind"] == "record"}
    assert "performance-record" not in need


# -- 2. Art. 20/21 ---------------------------------------------------------------------------
def _execution_case(*records: Any, approvals: tuple[ApprovalFact, ...] = ()) -> CaseFacts:
    return base_case(
        enforcement_type="coercion",
        stage="service_execution",
        records=(*base_case().records, DECISION, *records),
        approvals=(INITIATION, *approvals),
    )


EXEC = rec(
    "x1",
    "enforcement_record",
    3000 + 60 * 24 * 20,
    execution_type="surcharge",
    end_at=T0 + timedelta(minutes=3000 + 60 * 24 * 20 + 30),
)


def test_art20_21_execution_needs_a_served_demand_elapsed_and_an_approval() -> None:
    """Art. 20: "当事人逾期不履行行政执法决定，行政执法机关依法予以催告的，应制作催告书。"
    Art. 21: "经催告，当事人无正当理由逾期仍不履行行政执法决定，具有强制执行权的行政执法机关依法采取
    以下强制执行方式的，应制作相应文书进行文字记录" — an enforcement_record needs a prior demand
    notice served on the party, its period elapsed, and an approved execution approval."""
    demand = rec(
        "n1",
        "demand_notice",
        3000 + 60 * 24 * 5,
        signature_status="signed",
        fields={"period_days": 10},
    )
    good = _execution_case(demand, EXEC, approvals=(approval("execution", 3000 + 60 * 24 * 19),))
    assert codes(good, "art21-execution-after-demand") == []
    bare = _execution_case(EXEC)
    assert codes(bare, "art21-execution-after-demand") == [
        "execution_no_demand",
        "execution_no_approval",
    ]
    unserved = _execution_case(
        replace(demand, signature_status="not_applicable"),
        EXEC,
        approvals=(approval("execution"),),
    )
    assert codes(unserved, "art21-execution-after-demand") == ["execution_demand_not_served"]
    early = _execution_case(
        replace(demand, fields={"period_days": 30}), EXEC, approvals=(approval("execution"),)
    )
    f = found(early, "art21-execution-after-demand")[0]
    assert f["code"] == "execution_demand_period_running" and f["params"]["period_days"] == 30
    assert "履行期限30日" in f["message_zh"]
    # a statement against the demand needs its review (Art. 20 paragraph 2)
    said = _execution_case(replace(demand, fields={"period_days": 10, "statement": "无力缴纳"}))
    assert codes(said, "art20-demand-statement-review") == ["related_record_missing"]
    reviewed = _execution_case(
        replace(demand, fields={"period_days": 10, "statement": "无力缴纳"}),
        rec("sr", "statement_review", 3000 + 60 * 24 * 6),
    )
    assert codes(reviewed, "art20-demand-statement-review") == []


# -- 3. Art. 15(1), (2), (5) -------------------------------------------------------------------
def test_art15_legal_review_and_head_approval_content() -> None:
    """Art. 15: "（二）应进行法制审核的，法制机构审查文字记录应载明法制机构审查人员、审查意见和建议；
    （五）负责人审批记录包括负责人签署意见、负责人签名等" and "（一）草拟行政执法决定的文字记录应载明
    起草人、起草机构审查人、法律依据、证据材料等" (now an error, not a warning)."""
    nobody = replace(approval("legal_review"), reviewer_id=None)
    empty = base_case(stage="decision", major=True, approvals=(INITIATION, nobody))
    f = found(empty, "art15-legal-review-content")[0]
    assert f["params"]["fields"] == ["reviewer", "opinion", "suggestion"]
    # the reviewer who decided in their own session names the legal office's reviewer
    named = base_case(
        stage="decision", major=True, approvals=(INITIATION, approval("legal_review"))
    )
    assert found(named, "art15-legal-review-content")[0]["params"]["fields"] == [
        "opinion",
        "suggestion",
    ]
    assert "法制机构审查人员" in f["message_zh"] and "legal office reviewer" in f["message_en"]
    full = base_case(
        stage="decision",
        major=True,
        approvals=(
            INITIATION,
            approval("legal_review", opinion="合法", suggestion="无"),
        ),
    )
    assert found(full, "art15-legal-review-content") == []
    unsigned = base_case(stage="decision", approvals=(INITIATION, approval("decision")))
    assert codes(unsigned, "art15-head-approval-opinion") == ["approval_fields_missing"]
    signed = base_case(
        stage="decision", approvals=(INITIATION, approval("decision", approver_opinion="同意"))
    )
    assert found(signed, "art15-head-approval-opinion") == []
    spec = next(r for r in PACK.rules if r.id == "art15-decision-draft-content")
    assert spec.severity == "error"
    # a pending (unapproved) approval does not count as an approval
    pending = base_case(
        stage="decision", approvals=(INITIATION, replace(approval("decision"), approved_at=None))
    )
    assert found(pending, "art15-head-approval-opinion") == []
    rejected = base_case(
        stage="decision", approvals=(INITIATION, replace(approval("decision"), status="rejected"))
    )
    assert found(rejected, "art15-head-approval-opinion") == []
    need = {
        m["requirement"]
        for m in archiving_blockers(
            PACK, replace(rejected, records=(*rejected.records, DECISION)), NOW
        )
        if m["kind"] == "record"
    }
    assert "decision-approval" in need


# -- 4. Art. 17 ------------------------------------------------------------------------------
SIMPLE = rec(
    "s1",
    "simple_procedure_record",
    30,
    fields={
        "fact_basis": "当场发现占道经营",
        "legal_basis": "《条例》第十条",
        "statement_waived": True,
    },
)


def test_art17_disputed_simple_procedure_needs_av_and_blocks_archiving() -> None:
    """Art. 17: "对容易引起行政争议的简易程序执法行为，行政执法机关应采用适当方式进行音像记录"
    (Art. 3: 音像记录 = 拍照、录音、录像) — an error that blocks archiving; a photo is enough."""
    bare = base_case(
        procedure="simple",
        disputed=True,
        stage="service_execution",
        records=(SIMPLE,),
        approvals=(),
    )
    assert codes(bare, "art17-disputed-simple-av") == ["case_av_missing"]
    assert any(
        b.get("rule") == "art17-disputed-simple-av" for b in archiving_blockers(PACK, bare, NOW)
    )
    photo = replace(bare, items=(video("p1", 31, 0, kind="photo"),))
    assert found(photo, "art17-disputed-simple-av") == []


def test_art17_simple_procedure_contents() -> None:
    """Art. 17: "（一）适用简易程序的事实依据、法律依据的具体条件 … （三）当事人陈述、申辩的记录；
    （四）对当事人陈述、申辩内容的复核及处理，是否采纳的理由；（五）依法应向所属行政机关备案的内容；
    （六）对符合当场收缴罚款情况的实施过程" are recorded."""
    case = base_case(procedure="simple", stage="decision", records=(SIMPLE,), approvals=())
    for rule in (
        "art17-simple-record-content",
        "art17-statement-review",
        "art17-filing",
        "art17-on-the-spot-collection",
    ):
        assert found(case, rule) == [], rule
    bad = replace(
        case,
        records=(
            replace(
                SIMPLE,
                fields={
                    "statement": "称只是临时摆放",
                    "filing_required": True,
                    "collected_on_spot": True,
                },
            ),
        ),
    )
    assert found(bad, "art17-simple-record-content")[0]["params"]["fields"] == [
        "fact_basis",
        "legal_basis",
    ]
    assert codes(bad, "art17-statement-review") == ["record_fields_missing"]
    assert codes(bad, "art17-filing") == ["related_record_missing"]
    assert codes(bad, "art17-on-the-spot-collection") == ["record_fields_missing"]
    fixed = replace(
        case,
        records=(
            replace(
                SIMPLE,
                fields={
                    **SIMPLE.fields,
                    "statement": "称只是临时摆放",
                    "statement_review": "经复核不成立",
                    "adopted_reason": "现场照片显示长期占道",
                    "filing_required": True,
                    "collected_on_spot": True,
                    "collection_receipt": "浙财罚0012345",
                },
            ),
            rec("f1", "filing_report", 40),
        ),
    )
    for rule in ("art17-statement-review", "art17-filing", "art17-on-the-spot-collection"):
        assert found(fixed, rule) == [], rule


# -- 5. Art. 13 ------------------------------------------------------------------------------
def test_art13_refusal_needs_circumstances_and_av_covering_the_moment() -> None:
    """Art. 13: "当事人或有关人员拒绝签字或盖章确认的，行政执法人员应现场记录具体情况，并使用视频、
    音频记录设施、设备进行记录" — the circumstances in writing, and a recording that covers the
    moment of the refusal (a clip that ended before it does not)."""
    refused = rec(
        "r1",
        "onsite_inspection_transcript",
        60,
        officers=OFFICERS,
        signature_status="refused",
        end_at=T0 + timedelta(minutes=75),
        fields={"refused_at": iso(74)},
    )
    no_words = base_case(records=(refused,), items=(video("v1", 73, 120),))
    assert codes(no_words, "art13-refusal-circumstances") == ["record_fields_missing"]
    assert found(no_words, "art13-refusal-to-sign-av") == []
    with_words = replace(refused, fields={**refused.fields, "refusal": "当事人拒绝签字，现场录像"})
    assert (
        found(
            base_case(records=(with_words,), items=(video("v1", 73, 120),)),
            "art13-refusal-circumstances",
        )
        == []
    )
    ended_before = base_case(records=(with_words,), items=(video("v1", 60, 300),))  # 60-65 min
    f = found(ended_before, "art13-refusal-to-sign-av")[0]
    assert f["code"] == "av_not_covering" and f["record_id"] == "r1"
    assert "录音或录像" in f["message_zh"]


# -- 6. Art. 18(3)-(5) -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "method", "good", "bad"),
    [
        ("art18-entrusted-reason", "entrusted", {"entrust_reason": "受送达人在外地服刑"}, {}),
        (
            "art18-postal-proof",
            "postal",
            {
                "postal_register": "登记簿第12页",
                "postal_receipt": "EMS1234",
                "return_receipt": "已签收",
            },
            {"postal_register": "登记簿第12页"},
        ),
        (
            "art18-postal-returned",
            "postal",
            {
                "postal_register": "x",
                "postal_receipt": "y",
                "returned": True,
                "returned_details": "查无此人，邮件退回",
            },
            {"postal_register": "x", "postal_receipt": "y", "returned": True},
        ),
        (
            "art18-public-notice",
            "public_notice",
            {
                "other_methods_failed": "直接、邮寄送达均未果",
                "notice_medium": "门户网站及现场张贴",
                "notice_reason": "当事人下落不明",
            },
            {"notice_medium": "门户网站"},
        ),
    ],
)
def test_art18_service_methods(
    rule: str, method: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    """Art. 18: "（三）依法采用委托、转交等方式送达行政执法文书的，应记录委托、转交原因 …
    （四）…留存邮寄送达的登记、付邮凭证和回执。被邮政企业退回的，应记录具体情况；（五）公告送达应重点
    记录已经采用其他方式均无法送达的情况以及公告送达的方式和载体"."""

    def case(fields: dict[str, Any]) -> CaseFacts:
        return base_case(
            records=(
                *base_case().records,
                rec("s", "service_receipt", 5000, service_method=method, fields=fields),
            )
        )

    assert found(case(good), rule) == []
    f = found(case(bad), rule)[0]
    assert f["code"] == "record_fields_missing" and f["record_id"] == "s"


def test_art18_public_notice_record() -> None:
    """Art. 18(5): "公告送达应重点记录已经采用其他方式均无法送达的情况…留存书面公告，并在案卷中记明
    原因和经过" — also when recorded as a 公告送达记录."""
    full = {"other_methods_failed": "均未果", "notice_medium": "报纸", "notice_reason": "下落不明"}
    good = base_case(records=(rec("p", "public_notice_record", 5000, fields=full),))
    bad = base_case(records=(rec("p", "public_notice_record", 5000),))
    assert found(good, "art18-public-notice-record") == []
    assert found(bad, "art18-public-notice-record")[0]["params"]["fields"] == [
        "other_methods_failed",
        "notice_medium",
        "notice_reason",
    ]


# -- 7. Art. 21 coverage ---------------------------------------------------------------------
def test_art21_execution_coverage_share_and_kinds() -> None:
    """Art. 21: "采取排除妨碍、恢复原状强制执行方式的，应同时进行音像记录" (Art. 3: "音像记录方式
    包括采用拍照、录音、录像、视频监控等方式") — the recordings together must cover ≥ 90% of the
    execution's span; audio and photos count; the finding says how much is uncovered."""
    ex = rec(
        "x",
        "enforcement_record",
        9000,
        execution_type="remove_obstruction",
        end_at=T0 + timedelta(minutes=9019),
    )
    short = base_case(records=(ex,), items=(video("v1", 9000, 40),))
    f = found(short, "art21-execution-av")[0]
    assert f["code"] == "av_span_uncovered"
    assert f["params"]["span_seconds"] == 19 * 60 and f["params"]["covered_seconds"] == 40
    assert f["params"]["uncovered_seconds"] == 19 * 60 - 40
    assert "未覆盖1100秒" in f["message_zh"] and "1100 s are not covered" in f["message_en"]
    # audio for most of it plus video for the rest, overlapping: accepted
    mixed = base_case(
        records=(ex,), items=(video("a1", 8999, 900, kind="audio"), video("v2", 9014, 360))
    )
    assert found(mixed, "art21-execution-av") == []
    # photos every 30 s stand for 30 s each
    photos = tuple(video(f"p{i}", 9000 + i / 2, 0, kind="photo") for i in range(39))
    assert found(base_case(records=(ex,), items=photos), "art21-execution-av") == []
    no_end = base_case(records=(replace(ex, end_at=None),), items=(video("v1", 9000, 1200),))
    assert codes(no_end, "art21-execution-av") == ["av_span_no_end"]


# -- 8. 查封、扣押 ---------------------------------------------------------------------------
def test_art2_13_21_seizure_documents() -> None:
    """Art. 2 (行政强制), Art. 13 ("物品、财产清单等直接涉及当事人权利、义务的文书，均应由行政执法人员、
    当事人及有关人员签字或盖章确认") and Art. 21 ("查封、扣押的场所、设施或财物") — a 查封扣押决定书
    needs its 查封扣押现场笔录 and 物品（财产）清单, naming place and items."""
    for d in (
        "seizure_decision",
        "seizure_onsite_record",
        "property_list",
        "seizure_release_decision",
    ):
        assert PACK.doc_types[d].label_zh
    assert PACK.doc_types["property_list"].label_zh == "物品（财产）清单"
    decided = base_case(
        enforcement_type="coercion",
        stage="service_execution",
        records=(*base_case().records, rec("sd", "seizure_decision", 2000)),
    )
    need = {
        m["requirement"] for m in archiving_blockers(PACK, decided, NOW) if m["kind"] == "record"
    }
    assert {"seizure-onsite-record", "seizure-property-list"} <= need
    onsite = rec("so", "seizure_onsite_record", 2100, officers=OFFICERS)
    plist = rec("pl", "property_list", 2110)
    bad = replace(decided, records=(*decided.records, onsite, plist))
    assert codes(bad, "art21-seizure-onsite-content") == ["record_fields_missing"]
    assert codes(bad, "art13-property-list-items") == ["record_fields_missing"]
    good = replace(
        decided,
        records=(
            *decided.records,
            replace(onsite, fields={"place": "某路12号仓库", "items": "冻品200箱"}),
            replace(plist, fields={"items": "冻品200箱"}),
        ),
    )
    assert found(good, "art21-seizure-onsite-content") == []
    assert found(good, "art13-property-list-items") == []
    need = {m["requirement"] for m in archiving_blockers(PACK, good, NOW) if m["kind"] == "record"}
    assert not {"seizure-onsite-record", "seizure-property-list"} & need


# -- 9. Art. 3/11 archiving and hearing documents ---------------------------------------------
def test_art3_11_archiving_documents_and_hearing() -> None:
    """Art. 3: 文字记录 "包括…听证报告…" and the 归档管理 stage; Art. 11: "（六）举行听证的，应依照听证
    的规定制作听证全过程记录文书" — 结案报告 and 卷宗目录 at archiving; a hearing that took place
    needs 听证笔录 and 听证报告."""
    case = base_case(stage="service_execution")
    need = {m["requirement"] for m in archiving_blockers(PACK, case, NOW) if m["kind"] == "record"}
    assert {"case-closure", "file-catalogue"} <= need
    closed = replace(
        case,
        records=(*case.records, rec("cc", "case_closure", 9000), rec("fc", "file_catalogue", 9001)),
    )
    need = {
        m["requirement"] for m in archiving_blockers(PACK, closed, NOW) if m["kind"] == "record"
    }
    assert not {"case-closure", "file-catalogue"} & need
    heard = replace(closed, records=(*closed.records, rec("hn", "hearing_notice", 500)))
    need = {m["requirement"] for m in archiving_blockers(PACK, heard, NOW) if m["kind"] == "record"}
    assert {"hearing-record", "hearing-report"} <= need
    both = replace(
        heard,
        records=(
            *heard.records,
            rec("hr", "hearing_record", 600),
            rec("hp", "hearing_report", 700),
        ),
    )
    need = {m["requirement"] for m in archiving_blockers(PACK, both, NOW) if m["kind"] == "record"}
    assert not {"hearing-record", "hearing-report"} & need
    # found as findings too, once archived
    archived = replace(case, stage="archiving")
    reqs = [f["params"]["requirement"] for f in found(archived, "art3-required-records")]
    assert "case-closure" in reqs and "file-catalogue" in reqs


# -- 10. Art. 8 clock --------------------------------------------------------------------------
def test_art8_clock_runs_on_server_times() -> None:
    """Art. 8: "情况紧急的，可先启动行政执法程序，并在行政执法程序启动后24小时内补办审批手续" —
    the approval counts at the server time of the approver's decision; a case opened "yesterday"
    but entered today is flagged for review and the clock runs from the server entry time."""
    entered = T0 + timedelta(hours=30)
    backdated = base_case(
        emergency_start=True,
        created_at=entered,
        approvals=(replace(INITIATION, approved_at=entered + timedelta(hours=2)),),
    )
    assert codes(backdated, "art8-opened-at-untrusted") == ["case_opened_before_entry"]
    f = found(backdated, "art8-opened-at-untrusted")[0]
    assert f["params"]["earlier_hours"] == 30 and f["severity"] == "warning"
    assert found(backdated, "art8-emergency-approval-24h") == []  # within 24 h of entry
    honest = base_case(
        emergency_start=True,
        created_at=T0 + timedelta(minutes=10),
        approvals=(replace(INITIATION, approved_at=T0 + timedelta(hours=23)),),
    )
    assert found(honest, "art8-opened-at-untrusted") == []
    assert found(honest, "art8-emergency-approval-24h") == []
    late = replace(honest, approvals=(replace(INITIATION, approved_at=T0 + timedelta(hours=26)),))
    f = found(late, "art8-emergency-approval-24h")[0]
    assert f["code"] == "approval_late" and f["params"]["late_hours"] == 2
    # an approval not yet decided does not count: after 24 h the approval is missing
    pending = replace(honest, approvals=(replace(INITIATION, approved_at=None),))
    assert codes(pending, "art8-emergency-approval-24h") == ["approval_missing"]
    assert found(pending, "art8-emergency-approval-24h")[0]["stage"] == "initiation"


# -- 11. Art. 25 filing -------------------------------------------------------------------------
def test_art25_agency_pack_records_its_filing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Art. 25: "各行政执法机关应结合本部门实际制定各类行政执法的全过程记录制度，并报同级司法局备案"
    — an agency pack records when and under which number it was filed; one without is not filed."""
    import shutil

    from server.cases.rulepack import SHIPPED_RULES_DIR, PackError

    shutil.copy(SHIPPED_RULES_DIR / "lishui.toml", tmp_path / "lishui.toml")
    (tmp_path / "a1.toml").write_text(
        '[pack]\nid = "a1"\nextends = "lishui"\nagencies = ["A1"]\n'
        'filed_at = 2026-01-15\nfiling_no = "丽司备〔2026〕3号"\n',
        encoding="utf-8",
    )
    (tmp_path / "a2.toml").write_text(
        '[pack]\nid = "a2"\nextends = "lishui"\nagencies = ["A2"]\n', encoding="utf-8"
    )
    book = load_rulebook(tmp_path, "lishui")
    assert book.for_agency("A1").filing_json() | {"pack": ""} == {
        "pack": "",
        "title_zh": "a1",
        "title_en": "a1",
        "filed": True,
        "filed_at": "2026-01-15",
        "filing_no": "丽司备〔2026〕3号",
    }
    assert book.for_agency("A2").filing_json()["filed"] is False
    (tmp_path / "a2.toml").write_text(
        '[pack]\nid = "a2"\nextends = "lishui"\nagencies = ["A2"]\nfiled_at = 2026-01-15\n',
        encoding="utf-8",
    )
    with pytest.raises(PackError, match="filed_at and filing_no go together"):
        load_rulebook(tmp_path, "lishui")


# -- 12. codes, params and texts in both languages ---------------------------------------------
def test_findings_have_codes_params_and_texts_in_both_languages() -> None:
    """Art. 10: "行政执法人员应在相关调查笔录中对执法人员数量、姓名、执法证件编号及出示情况进行文字
    记录" — the finding no longer says "1 officer(s) named, 2 needed" in English only: it has a code,
    parameters, the stage and record, and a text in Chinese and in English."""
    case = base_case(
        records=(
            rec("r1", "onsite_inspection_transcript", officers=({**OFFICERS[0], "shown": False},)),
        )
    )
    fs = found(case, "art10-officers-on-record")
    by = {f["code"]: f for f in fs}
    assert set(by) == {"officers_too_few", "officer_certificate_not_shown"}
    f = by["officers_too_few"]
    assert f["params"] == {
        "doc_type": "onsite_inspection_transcript",
        "at": T0 + timedelta(hours=1),
        "named": 1,
        "needed": 2,
    }
    assert f["stage"] == "investigation" and f["record_id"] == "r1" and f["article"] == 10
    assert (
        f["message"]
        == f["message_zh"]
        == "「现场检查笔录」（2026-03-02 10:00）记载执法人员1名，至少应为2名。"
    )
    assert f["message_en"] == (
        "On-site inspection transcript (2026-03-02 10:00 (UTC+8)) names 1 officers; "
        "at least 2 are required."
    )
    assert "王明" in by["officer_certificate_not_shown"]["message_zh"]
    assert localize([dict(f)], "en")[0]["message"] == f["message_en"]
    assert lang_of("en-US,en;q=0.9") == "en" and lang_of("zh-CN,en;q=0.5") == "zh-CN"
    assert lang_of(None) == "zh-CN"
    # every finding of every rule is rendered from a template (no English fallback in zh)
    for code in TEXTS:
        zh = render(code, {}, "zh-CN", PACK)
        assert zh  # a template with missing params falls back to the rule text, never crashes
    # every code the engine emits has a zh and en template
    bad = base_case(emergency_start=True, approvals=(), records=(rec("r1", "decision_draft", 10),))
    for f in evaluate(PACK, bad, NOW):
        assert f["code"] in TEXTS
        assert not any(w in f["message_zh"] for w in ("officer(s)", "needed", "missing"))


def test_every_rule_named_here_was_exercised() -> None:
    """The list above (used by test_compliance_rules' every-rule check) is what this file tests."""
    assert ARTICLE_RULES <= COVERED
