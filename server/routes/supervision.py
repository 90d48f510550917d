"""Supervision (Art. 5, 22): per agency and period, cases by type and stage, the share with
complete records, findings by rule — JSON or CSV for the Justice Bureau."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import compliance, keys
from server.access import CROSS_AGENCY, SUPERVISE, Principal, require
from server.cases import case_facts, pack_for, parse_time
from server.csvsafe import safe_csv_writer
from server.errors import BadRequest, Forbidden
from server.models import CASE_STAGES, ENFORCEMENT_TYPES, Agency, Case, utcnow
from server.rulepack import rulebook
from server.settings import Settings
from server.web import endpoint, iso, json_response, principal

routes = web.RouteTableDef()


def supervision_report(
    s: Session,
    who: Principal,
    settings: Settings,
    agency_code: str | None,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, Any]:
    """Per agency: cases opened in [start, end) by type and stage, completeness, findings by rule.

    A case counts as complete when the engine finds no error in it (required records of every
    stage it has left are there, and no rule of error severity fails)."""
    require(who, SUPERVISE)
    agencies = list(s.scalars(select(Agency).order_by(Agency.code)))
    if who.role not in CROSS_AGENCY:  # an agency's legal office supervises its own agency (Art. 5)
        own = [a for a in agencies if a.id == who.agency_id]
        if agency_code and (not own or own[0].code != agency_code):
            raise Forbidden(f"role {who.role!r} may only supervise its own agency")
        agencies = own
    elif agency_code:
        agencies = [a for a in agencies if a.code == agency_code]
        if not agencies:
            raise BadRequest(f"no agency {agency_code!r}", code="bad_agency")
    rule_ids = rulebook(settings.rules_dir, settings.rule_pack).rule_ids()
    now = utcnow()
    out = []
    for agency in agencies:
        q = select(Case).where(Case.agency_id == agency.id)
        if start:
            q = q.where(Case.opened_at >= start)
        if end:
            q = q.where(Case.opened_at < end)
        pack = pack_for(s, settings, agency.id)
        by_type = dict.fromkeys(ENFORCEMENT_TYPES, 0)
        by_stage = dict.fromkeys(CASE_STAGES, 0)
        by_rule: dict[str, int] = {}
        total = complete = archived = 0
        for case in s.scalars(q):
            total += 1
            by_type[case.enforcement_type] = by_type.get(case.enforcement_type, 0) + 1
            by_stage[case.stage] = by_stage.get(case.stage, 0) + 1
            archived += case.status == "archived"
            found = compliance.evaluate(pack, case_facts(s, case), now)
            for f in found:
                by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
            complete += not any(f["severity"] == "error" for f in found)
        out.append(
            {
                "agency": agency.code,
                "agency_name": agency.name,
                "cases": total,
                "archived": archived,
                "complete": complete,
                "complete_share": round(complete / total, 4) if total else None,
                "by_type": by_type,
                "by_stage": by_stage,
                "findings_by_rule": {r: by_rule.get(r, 0) for r in rule_ids}
                | {r: n for r, n in by_rule.items() if r not in rule_ids},
            }
        )
    return {"from": iso(start), "to": iso(end), "generated_at": iso(now), "agencies": out}


def report_csv(report: dict[str, Any]) -> str:
    """One row per agency; columns for each type, stage and rule."""
    rows = report["agencies"]
    rules = list(dict.fromkeys(r for a in rows for r in a["findings_by_rule"]))
    head = [
        "agency",
        "agency_name",
        "from",
        "to",
        "cases",
        "archived",
        "complete",
        "complete_share",
        *[f"type:{t}" for t in ENFORCEMENT_TYPES],
        *[f"stage:{st}" for st in CASE_STAGES],
        *[f"rule:{r}" for r in rules],
    ]
    buf = io.StringIO()
    w = safe_csv_writer(buf)  # cells starting = + - @ TAB CR get a ' (formula injection)
    w.writerow(head)
    for a in rows:
        w.writerow(
            [
                a["agency"],
                a["agency_name"],
                report["from"] or "",
                report["to"] or "",
                a["cases"],
                a["archived"],
                a["complete"],
                "" if a["complete_share"] is None else a["complete_share"],
                *[a["by_type"].get(t, 0) for t in ENFORCEMENT_TYPES],
                *[a["by_stage"].get(st, 0) for st in CASE_STAGES],
                *[a["findings_by_rule"].get(r, 0) for r in rules],
            ]
        )
    return buf.getvalue()


@routes.get("/api/v1/supervision")
@endpoint(
    "Supervision report per agency and period (JSON, or CSV with format=csv)",
    tags=("supervision",),
    params={
        "agency": "agency code (default: every agency the caller supervises)",
        "from": "cases opened at or after (RFC 3339)",
        "to": "cases opened before (RFC 3339)",
        "format": "json (default) or csv",
    },
)
async def supervision(request: web.Request) -> web.StreamResponse:
    who, q = principal(request), request.query
    require(who, SUPERVISE)
    fmt = q.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv", code="bad_format")
    start = parse_time(q["from"], "from") if q.get("from") else None
    end = parse_time(q["to"], "to") if q.get("to") else None
    report = await request.app[keys.DB].run(
        supervision_report, who, request.app[keys.SETTINGS], q.get("agency"), start, end
    )
    if fmt == "csv":
        return web.Response(
            text="\ufeff" + report_csv(report),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="supervision.csv"'},
        )
    return json_response(report)
