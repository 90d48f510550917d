"""Supervision (Art. 5, 22, 25): what a Justice Bureau needs to act on, per agency and unit.

For the cases opened in a period: cases, archived, complete share, non-compliance per article
with the case numbers behind every number, overdue approvals (Art. 8 补办 past 24 h, decisions
pending for more than N days), cases lacking required audio-visual records, the AV coverage of
coercive executions (Art. 21), per-officer figures, a trend by month, the packs not filed with the
Justice Bureau (Art. 25) and the 责令限期整改 past their deadline. As JSON, CSV (Chinese headers,
cells safe for spreadsheets) and XLSX (written here, no dependency).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import SUPERVISE, Principal, require, sees_all
from server.cases import compliance
from server.cases.core import pack_for
from server.cases.finding_texts import CST
from server.cases.rulepack import rulebook
from server.catalogue.models import (
    CASE_STAGES,
    ENFORCEMENT_TYPES,
    Agency,
    Case,
    CaseApproval,
    CaseComplaint,
    CaseLink,
    CaseRecord,
    EvidenceItem,
    Officer,
    RectificationOrder,
    utcnow,
)
from server.errors import BadRequest, Forbidden
from server.isotime import iso
from server.settings import Settings

AV_CODES = frozenset({"case_av_missing", "av_not_covering", "av_span_uncovered", "av_span_no_end"})
LATE_APPROVAL_CODES = frozenset({"approval_late", "approval_missing"})
NO_UNIT = ""

TYPE_ZH = {
    "penalty": "行政处罚",
    "coercion": "行政强制",
    "levy": "行政征收征用",
    "inspection": "行政检查",
    "licensing": "行政许可",
    "charging": "行政收费",
    "other": "其他",
}
TYPE_EN = {
    "penalty": "Penalty",
    "coercion": "Coercion",
    "levy": "Levy",
    "inspection": "Inspection",
    "licensing": "Licensing",
    "charging": "Charging",
    "other": "Other",
}


def _ref(case: Case) -> dict[str, Any]:
    return {"id": case.id, "number": case.number}


def _month(dt: datetime) -> str:
    return dt.astimezone(CST).strftime("%Y-%m")


def _unit_of(s: Session, case: Case, officers: dict[int, Officer]) -> str:
    """The unit of the case's first named officer (the registry gives officers a unit)."""
    for o in case.officers or ():
        oid = o.get("officer_id") if isinstance(o, dict) else None
        if oid is None:
            continue
        off = officers.get(oid) or s.get(Officer, oid)
        if off is not None:
            officers[oid] = off
            return str(getattr(off, "unit", "") or NO_UNIT)
    return NO_UNIT


class _Tally:
    """Counts for one agency, unit, officer or month, each number with its case list."""

    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.archived: list[dict[str, Any]] = []
        self.complete: list[dict[str, Any]] = []
        self.noncompliant: list[dict[str, Any]] = []
        self.by_article: dict[int, dict[str, Any]] = {}

    def add(self, case: Case, found: list[dict[str, Any]]) -> None:
        ref = _ref(case)
        self.cases.append(ref)
        if case.status == "archived":
            self.archived.append(ref)
        errors = [f for f in found if f["severity"] == "error"]
        if errors:
            self.noncompliant.append(ref)
        else:
            self.complete.append(ref)
        arts: dict[int, list[dict[str, Any]]] = {}
        for f in found:
            arts.setdefault(int(f["article"]), []).append(f)
        for art, fs in arts.items():
            slot = self.by_article.setdefault(
                art, {"article": art, "cases": [], "errors": [], "findings": 0}
            )
            slot["cases"].append(ref)
            slot["findings"] += len(fs)
            if any(f["severity"] == "error" for f in fs):
                slot["errors"].append(ref)

    def json(self) -> dict[str, Any]:
        n = len(self.cases)
        return {
            "cases": n,
            "archived": len(self.archived),
            "complete": len(self.complete),
            "complete_share": round(len(self.complete) / n, 4) if n else None,
            "case_list": {
                "cases": self.cases,
                "archived": self.archived,
                "complete": self.complete,
                "noncompliant": self.noncompliant,
            },
            "by_article": [
                {
                    "article": v["article"],
                    "cases": len(v["cases"]),
                    "error_cases": len(v["errors"]),
                    "findings": v["findings"],
                    "case_list": v["cases"],
                }
                for _, v in sorted(self.by_article.items())
            ],
        }


CHUNK = 500


def facts_of(s: Session, cases: list[Case]) -> dict[str, compliance.CaseFacts]:
    """case_facts for many cases in a few queries (the same facts; a test holds them equal)."""
    from server.cases.core import facts_from_rows

    ids = [c.id for c in cases]
    records: dict[str, list[CaseRecord]] = {i: [] for i in ids}
    approvals: dict[str, list[CaseApproval]] = {i: [] for i in ids}
    complaints: dict[str, list[CaseComplaint]] = {i: [] for i in ids}
    linked: dict[str, list[tuple[CaseLink, EvidenceItem]]] = {i: [] for i in ids}
    for k in range(0, len(ids), CHUNK):
        part = ids[k : k + CHUNK]
        for r in s.scalars(
            select(CaseRecord)
            .where(CaseRecord.case_id.in_(part))
            .order_by(CaseRecord.at, CaseRecord.created_at)
        ):
            records[r.case_id].append(r)
        for a in s.scalars(select(CaseApproval).where(CaseApproval.case_id.in_(part))):
            approvals[a.case_id].append(a)
        for c in s.scalars(select(CaseComplaint).where(CaseComplaint.case_id.in_(part))):
            complaints[c.case_id].append(c)
        for link, item in s.execute(
            select(CaseLink, EvidenceItem)
            .join(EvidenceItem, EvidenceItem.id == CaseLink.item_id)
            .where(CaseLink.case_id.in_(part), CaseLink.unlinked_at.is_(None))
            .order_by(EvidenceItem.recorded_at, CaseLink.linked_at)
        ):
            linked[link.case_id].append((link, item))
    out = {}
    for case in cases:
        recs = records[case.id]
        superseded = {r.supersedes for r in recs if r.supersedes}
        out[case.id] = facts_from_rows(case, [r for r in recs if r.id not in superseded],
                                       approvals[case.id], complaints[case.id], linked[case.id])
    return out


def _execution_rules(pack: Any) -> list[Any]:
    return [r for r in pack.rules if r.check == "record_av_span"]


def _visible_agencies(s: Session, who: Principal, agency_code: str | None) -> list[Agency]:
    agencies = list(s.scalars(select(Agency).order_by(Agency.code)))
    if not sees_all(who):  # an agency's legal office supervises its own agency (Art. 5)
        own = [a for a in agencies if a.id == who.agency_id]
        if agency_code and (not own or own[0].code != agency_code):
            raise Forbidden(f"role {who.role!r} may only supervise its own agency")
        return own
    if agency_code:
        agencies = [a for a in agencies if a.code == agency_code]
        if not agencies:
            raise BadRequest(f"no agency {agency_code!r}", code="bad_agency")
    return agencies


def pending_approvals(
    s: Session, agency_id: int, older_than: datetime, case_ids: Iterable[str] | None = None
) -> list[tuple[CaseApproval, Case]]:
    """Approval requests not yet decided that were made before `older_than` (an approval row
    without approved_at is a request still waiting for its approver)."""
    q = (
        select(CaseApproval, Case)
        .join(Case, Case.id == CaseApproval.case_id)
        .where(
            Case.agency_id == agency_id,
            CaseApproval.approved_at.is_(None),
            CaseApproval.created_at < older_than,
        )
    )
    for name in ("status", "state"):  # a rejected request is decided, not pending
        col = getattr(CaseApproval, name, None)
        if col is not None:
            q = q.where(col.not_in(("rejected", "approved", "withdrawn")))
    rejected = getattr(CaseApproval, "rejected_at", None)
    if rejected is not None:
        q = q.where(rejected.is_(None))
    if case_ids is not None:
        q = q.where(Case.id.in_(list(case_ids)))
    return [(a, c) for a, c in s.execute(q.order_by(CaseApproval.created_at))]


def supervision_report(
    s: Session,
    who: Principal,
    settings: Settings,
    agency_code: str | None,
    start: datetime | None,
    end: datetime | None,
    *,
    pending_days: float = 3.0,
    lang: str = "zh-CN",
) -> dict[str, Any]:
    """The supervision report for the agencies the caller supervises and the period
    [start, end) of the cases' opening times. A case is complete when the engine finds no
    error in it."""
    require(who, SUPERVISE)
    agencies = _visible_agencies(s, who, agency_code)
    book = rulebook(settings.rules_dir, settings.rule_pack)
    rule_ids = book.rule_ids()
    now = utcnow()
    out = []
    for agency in agencies:
        q = select(Case).where(Case.agency_id == agency.id)
        if start:
            q = q.where(Case.opened_at >= start)
        if end:
            q = q.where(Case.opened_at < end)
        q = q.order_by(Case.opened_at, Case.number)
        pack = pack_for(s, settings, agency.id)
        exec_rules = _execution_rules(pack)
        total = _Tally()
        units: dict[str, _Tally] = {}
        months: dict[str, _Tally] = {}
        people: dict[str, dict[str, Any]] = {}
        officers_cache: dict[int, Officer] = {}
        by_type = dict.fromkeys(ENFORCEMENT_TYPES, 0)
        by_stage = dict.fromkeys(CASE_STAGES, 0)
        by_rule: dict[str, int] = {}
        late_approvals: list[dict[str, Any]] = []
        lacking_av: list[dict[str, Any]] = []
        executions: list[dict[str, Any]] = []
        case_ids: list[str] = []
        rows = list(s.scalars(q))
        all_facts = facts_of(s, rows)
        for case in rows:
            case_ids.append(case.id)
            facts = all_facts[case.id]
            found = compliance.evaluate(pack, facts, now, lang=lang)
            total.add(case, found)
            unit = _unit_of(s, case, officers_cache)
            units.setdefault(unit, _Tally()).add(case, found)
            months.setdefault(_month(case.opened_at), _Tally()).add(case, found)
            by_type[case.enforcement_type] = by_type.get(case.enforcement_type, 0) + 1
            by_stage[case.stage] = by_stage.get(case.stage, 0) + 1
            for f in found:
                by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
                if f["code"] in LATE_APPROVAL_CODES:
                    late_approvals.append(
                        {
                            **_ref(case),
                            "reason": "late_24h",
                            "code": f["code"],
                            "article": f["article"],
                            "message": f["message"],
                            "deadline": f["params"].get("deadline"),
                            "approved_at": f["params"].get("approved_at"),
                        }
                    )
            av = [f for f in found if f["code"] in AV_CODES]
            if av:
                lacking_av.append(
                    {
                        **_ref(case),
                        "articles": sorted({f["article"] for f in av}),
                        "messages": [f["message"] for f in av],
                    }
                )
            for rule in exec_rules:
                kinds = set(rule.params["kinds"])
                photo_s = float(rule.params.get("photo_seconds", 30))
                for rec in facts.records:
                    if not compliance.record_matches(rule.match, rec, pack):
                        continue
                    share = compliance.av_share(facts, rec, kinds, photo_s)
                    span = (rec.end_at - rec.at).total_seconds() if rec.end_at else None
                    executions.append(
                        {
                            **_ref(case),
                            "record_id": rec.id,
                            "execution_type": rec.execution_type,
                            "span_seconds": round(span) if span else None,
                            "covered_seconds": round(share * span)
                            if share is not None and span
                            else None,
                            "share": None if share is None else round(share, 4),
                            "meets": share is not None
                            and share + 1e-9 >= float(rule.params["min_share"]),
                        }
                    )
            errs = any(f["severity"] == "error" for f in found)
            for o in case.officers or ():
                if not isinstance(o, dict):
                    continue
                key = str(o.get("officer_id") or o.get("certificate_no") or o.get("name") or "?")
                p = people.setdefault(
                    key,
                    {
                        "officer_id": o.get("officer_id"),
                        "code": o.get("code"),
                        "name": o.get("name") or "",
                        "certificate_no": o.get("certificate_no") or "",
                        "cases": 0,
                        "archived": 0,
                        "complete": 0,
                        "findings": 0,
                        "case_list": [],
                        "noncompliant_list": [],
                    },
                )
                p["cases"] += 1
                p["archived"] += case.status == "archived"
                p["complete"] += not errs
                p["findings"] += len(found)
                p["case_list"].append(_ref(case))
                if errs:
                    p["noncompliant_list"].append(_ref(case))
        threshold = now - timedelta(days=pending_days)
        pending = [
            {
                **_ref(c),
                "reason": "pending",
                "approval_id": a.id,
                "kind": a.kind,
                "requested_at": a.created_at,
                "age_days": round((now - a.created_at).total_seconds() / 86400, 1),
            }
            for a, c in pending_approvals(s, agency.id, threshold, case_ids)
        ]
        measured = [e for e in executions if e["share"] is not None]
        span_total = sum(e["span_seconds"] or 0 for e in measured)
        covered_total = sum(e["covered_seconds"] or 0 for e in measured)
        orders = overdue_orders(s, agency.id, now)
        for p in people.values():
            p["complete_share"] = round(p["complete"] / p["cases"], 4) if p["cases"] else None
        body = total.json()
        out.append(
            {
                "agency": agency.code,
                "agency_name": agency.name,
                **body,
                "by_type": by_type,
                "by_stage": by_stage,
                "findings_by_rule": {r: by_rule.get(r, 0) for r in rule_ids}
                | {r: n for r, n in by_rule.items() if r not in rule_ids},
                "units": [
                    {"unit": u, **t.json()} for u, t in sorted(units.items(), key=lambda x: x[0])
                ],
                "officers": sorted(people.values(), key=lambda p: (-p["cases"], p["name"])),
                "trend": [{"month": m, **t.json()} for m, t in sorted(months.items())],
                "overdue_approvals": late_approvals + pending,
                "lacking_av": lacking_av,
                "executions": {
                    "count": len(executions),
                    "meeting": sum(1 for e in executions if e["meets"]),
                    "span_seconds": span_total,
                    "covered_seconds": covered_total,
                    "coverage_share": round(covered_total / span_total, 4) if span_total else None,
                    "items": executions,
                },
                "overdue_rectifications": orders,
                "pack": pack.filing_json()
                if pack.extends
                else {**pack.filing_json(), "filed": False, "own_pack": False},
            }
        )
    packs = [{**p.filing_json(), "agencies": list(p.agencies)} for p in book.packs() if p.extends]
    return {
        "from": iso(start),
        "to": iso(end),
        "generated_at": iso(now),
        "pending_days": pending_days,
        "packs": packs,
        "packs_not_filed": [p for p in packs if not p["filed"]]
        + [
            {"agency": a["agency"], "agency_name": a["agency_name"], "own_pack": False}
            for a in out
            if not a["pack"].get("own_pack", True)
        ],
        "agencies": out,
    }


def overdue_orders(s: Session, agency_id: int, now: datetime) -> list[dict[str, Any]]:
    """责令限期整改 still unanswered after their deadline."""
    rows = s.scalars(
        select(RectificationOrder)
        .where(
            RectificationOrder.agency_id == agency_id,
            RectificationOrder.status == "open",
            RectificationOrder.deadline < now,
        )
        .order_by(RectificationOrder.deadline)
    )
    return [
        {
            "id": o.id,
            "spot_check_id": o.spot_check_id,
            "deadline": o.deadline,
            "issued_at": o.issued_at,
            "overdue_days": round((now - o.deadline).total_seconds() / 86400, 1),
            "case_ids": o.case_ids,
            "cases": [
                {"id": c.id, "number": c.number}
                for c in (s.get(Case, cid) for cid in o.case_ids or ())
                if c is not None
            ],
            "requirement": o.requirement,
        }
        for o in rows
    ]


# -- tables: CSV and XLSX ---------------------------------------------------------------------
def _labels(lang: str) -> dict[str, str]:
    zh = lang != "en"
    return {
        "agency": "机关代码" if zh else "Agency code",
        "agency_name": "机关名称" if zh else "Agency",
        "unit": "执法单位" if zh else "Unit",
        "from": "统计起始" if zh else "From",
        "to": "统计截止" if zh else "To",
        "cases": "案件数" if zh else "Cases",
        "archived": "已归档" if zh else "Archived",
        "complete": "记录完整" if zh else "Complete",
        "complete_share": "完整率" if zh else "Complete share",
        "overdue_approvals": "逾期审批" if zh else "Overdue approvals",
        "lacking_av": "缺少音像记录案件" if zh else "Cases lacking AV",
        "exec_coverage": "强制执行音像覆盖率" if zh else "Execution AV coverage",
        "overdue_rect": "逾期未整改" if zh else "Overdue rectifications",
        "pack_filed": "记录制度备案" if zh else "Rules filed",
        "yes": "已备案" if zh else "filed",
        "no": "未备案" if zh else "not filed",
        "no_unit": "未指定单位" if zh else "(no unit)",
        "article": "条款" if zh else "Article",
        "art": "第{n}条不符合" if zh else "Art. {n} non-compliant",
        "case_numbers": "案号" if zh else "Case numbers",
        "error_cases": "须整改案件数" if zh else "Cases with errors",
        "findings": "问题数" if zh else "Findings",
        "month": "月份" if zh else "Month",
        "officer": "执法人员" if zh else "Officer",
        "certificate": "执法证件编号" if zh else "Certificate no.",
        "number": "案号" if zh else "Case number",
        "reason": "原因" if zh else "Reason",
        "late_24h": "超过24小时补办" if zh else "approved after 24 h",
        "pending": "待决定" if zh else "pending decision",
        "age": "已等待（天）" if zh else "Waiting (days)",
        "detail": "说明" if zh else "Detail",
    }


def _article_columns(report: dict[str, Any]) -> list[int]:
    return sorted(
        {a["article"] for ag in report["agencies"] for a in ag["by_article"]}
        | {a["article"] for ag in report["agencies"] for u in ag["units"] for a in u["by_article"]}
    )


def summary_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    """One row per agency and one per unit of it: the headline figures and per-article counts."""
    L = _labels(lang)
    types = TYPE_EN if lang == "en" else TYPE_ZH
    arts = _article_columns(report)
    head = [
        L["agency"],
        L["agency_name"],
        L["unit"],
        L["from"],
        L["to"],
        L["cases"],
        L["archived"],
        L["complete"],
        L["complete_share"],
        *[types[t] for t in ENFORCEMENT_TYPES],
        *[L["art"].format(n=n) for n in arts],
        L["overdue_approvals"],
        L["lacking_av"],
        L["exec_coverage"],
        L["overdue_rect"],
        L["pack_filed"],
    ]
    rows: list[list[Any]] = [head]
    for a in report["agencies"]:
        art_counts = {x["article"]: x["cases"] for x in a["by_article"]}
        ex = a["executions"]["coverage_share"]
        rows.append(
            [
                a["agency"],
                a["agency_name"],
                "",
                report["from"] or "",
                report["to"] or "",
                a["cases"],
                a["archived"],
                a["complete"],
                "" if a["complete_share"] is None else a["complete_share"],
                *[a["by_type"].get(t, 0) for t in ENFORCEMENT_TYPES],
                *[art_counts.get(n, 0) for n in arts],
                len(a["overdue_approvals"]),
                len(a["lacking_av"]),
                "" if ex is None else ex,
                len(a["overdue_rectifications"]),
                L["yes"] if a["pack"].get("filed") else L["no"],
            ]
        )
        for u in a["units"]:
            uc = {x["article"]: x["cases"] for x in u["by_article"]}
            rows.append(
                [
                    a["agency"],
                    a["agency_name"],
                    u["unit"] or L["no_unit"],
                    report["from"] or "",
                    report["to"] or "",
                    u["cases"],
                    u["archived"],
                    u["complete"],
                    "" if u["complete_share"] is None else u["complete_share"],
                    *["" for _ in ENFORCEMENT_TYPES],
                    *[uc.get(n, 0) for n in arts],
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return rows


def article_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    """Per agency and article: the counts and the case numbers behind them."""
    L = _labels(lang)
    rows: list[list[Any]] = [
        [L["agency"], L["article"], L["cases"], L["error_cases"], L["findings"], L["case_numbers"]]
    ]
    sep = "、" if lang != "en" else ", "
    for a in report["agencies"]:
        for x in a["by_article"]:
            rows.append(
                [
                    a["agency"],
                    x["article"],
                    x["cases"],
                    x["error_cases"],
                    x["findings"],
                    sep.join(c["number"] for c in x["case_list"]),
                ]
            )
    return rows


def officer_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [
        [
            L["agency"],
            L["officer"],
            L["certificate"],
            L["cases"],
            L["archived"],
            L["complete"],
            L["complete_share"],
            L["findings"],
        ]
    ]
    for a in report["agencies"]:
        for p in a["officers"]:
            rows.append(
                [
                    a["agency"],
                    p["name"],
                    p["certificate_no"],
                    p["cases"],
                    p["archived"],
                    p["complete"],
                    "" if p["complete_share"] is None else p["complete_share"],
                    p["findings"],
                ]
            )
    return rows


def trend_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [
        [L["agency"], L["month"], L["cases"], L["archived"], L["complete"], L["complete_share"]]
    ]
    for a in report["agencies"]:
        for t in a["trend"]:
            rows.append(
                [
                    a["agency"],
                    t["month"],
                    t["cases"],
                    t["archived"],
                    t["complete"],
                    "" if t["complete_share"] is None else t["complete_share"],
                ]
            )
    return rows


def overdue_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [[L["agency"], L["number"], L["reason"], L["age"], L["detail"]]]
    for a in report["agencies"]:
        for o in a["overdue_approvals"]:
            rows.append(
                [
                    a["agency"],
                    o["number"],
                    L[o["reason"]],
                    o.get("age_days", ""),
                    o.get("message") or o.get("kind") or "",
                ]
            )
    return rows


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


TABLES = {
    "summary": summary_rows,
    "articles": article_rows,
    "overdue": overdue_rows,
    "officers": officer_rows,
    "trend": trend_rows,
}


def report_csv(report: dict[str, Any], lang: str = "zh-CN", table: str = "summary") -> str:
    """One table of the report (default: agencies and their units) with Chinese headers by
    default; `articles` lists the case numbers behind every per-article count."""
    return to_csv(TABLES[table](report, lang))


def _col(n: int) -> str:
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _sheet_xml(rows: list[list[Any]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData>"
    ]
    for r, row in enumerate(rows, start=1):
        parts.append(f'<row r="{r}">')
        for c, value in enumerate(row):
            ref = f"{_col(c)}{r}"
            style = ' s="1"' if r == 1 else ""
            if isinstance(value, bool) or value is None or value == "":
                text = "" if value is None or value == "" else str(value)
                parts.append(
                    f'<c r="{ref}" t="inlineStr"{style}><is><t>{escape(text)}</t></is></c>'
                )
            elif isinstance(value, (int, float)):
                parts.append(f'<c r="{ref}"{style}><v>{value}</v></c>')
            else:
                text = escape(str(value))
                parts.append(
                    f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{text}'
                    "</t></is></c>"
                )
        parts.append("</row>")
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def to_xlsx(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    """A minimal Office Open XML workbook: inline strings, a bold header row, no formulas."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>' + overrides + "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        names = "".join(
            f'<sheet name="{escape(name[:31])}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _) in enumerate(sheets, start=1)
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{names}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        n = len(sheets) + 1
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + rels
            + f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/styles" Target="styles.xml"/></Relationships>',
        )
        z.writestr(
            "xl/styles.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
            "</cellXfs>"
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>",
        )
        for i, (_, rows) in enumerate(sheets, start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(rows))
    return buf.getvalue()


def report_xlsx(report: dict[str, Any], lang: str = "zh-CN") -> bytes:
    zh = lang != "en"
    return to_xlsx(
        [
            ("汇总" if zh else "Summary", summary_rows(report, lang)),
            ("按条款" if zh else "By article", article_rows(report, lang)),
            ("逾期审批" if zh else "Overdue approvals", overdue_rows(report, lang)),
            ("执法人员" if zh else "Officers", officer_rows(report, lang)),
            ("月度趋势" if zh else "Trend", trend_rows(report, lang)),
        ]
    )


def read_xlsx(data: bytes) -> dict[str, list[list[str]]]:
    """The text of every cell of a workbook this module wrote (for tests and round trips)."""
    from xml.etree import ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        names = [sh.get("name") or "" for sh in wb.iterfind("m:sheets/m:sheet", ns)]
        out: dict[str, list[list[str]]] = {}
        for i, name in enumerate(names, start=1):
            root = ET.fromstring(z.read(f"xl/worksheets/sheet{i}.xml"))
            rows = []
            for row in root.iterfind("m:sheetData/m:row", ns):
                cells = []
                for c in row.iterfind("m:c", ns):
                    t = c.find("m:is/m:t", ns)
                    v = c.find("m:v", ns)
                    cells.append(
                        (t.text or "") if t is not None else (v.text or "") if v is not None else ""
                    )
                rows.append(cells)
            out[name] = rows
        return out
