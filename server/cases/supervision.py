"""Supervision (Art. 5, 22, 25): what a Justice Bureau needs to act on, per agency and unit.

For the cases opened in a period: cases, archived, complete share, non-compliance per article
with the case numbers behind every number, overdue approvals (Art. 8 补办 past 24 h, decisions
pending for more than N days), cases lacking required audio-visual records, the AV coverage of
coercive executions (Art. 21), per-officer figures, a trend by month, the packs not filed with the
Justice Bureau (Art. 25) and the 责令限期整改 past their deadline. As JSON, CSV (Chinese headers,
cells safe for spreadsheets) and XLSX (supervision_tables.py and spreadsheet.py: no dependency).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import SUPERVISE, Principal, require, sees_all
from server.cases import compliance
from server.cases.av_coverage import av_share
from server.cases.compliance_facts import CaseFacts
from server.cases.compliance_reading import record_matches
from server.cases.finding_texts import CST
from server.cases.lookups import pack_for
from server.cases.rulebook import rulebook
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


def facts_of(s: Session, cases: list[Case]) -> dict[str, CaseFacts]:
    """case_facts for many cases in a few queries (the same facts; a test holds them equal)."""
    from server.cases.facts import facts_from_rows

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
        out[case.id] = facts_from_rows(
            case,
            [r for r in recs if r.id not in superseded],
            approvals[case.id],
            complaints[case.id],
            linked[case.id],
        )
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
                    if not record_matches(rule.match, rec, pack):
                        continue
                    share = av_share(facts, rec, kinds, photo_s)
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
