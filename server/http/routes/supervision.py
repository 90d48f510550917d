"""Supervision (Art. 5, 22, 25): the report per agency, unit and period as JSON, CSV or XLSX
(server/supervision.py builds it)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.cases import spotcheck
from server.cases.finding_texts import request_lang
from server.cases.supervision import supervision_report
from server.cases.supervision_tables import report_csv, report_xlsx
from server.http import appkeys as keys
from server.http.access import SUPERVISE, require
from server.http.errors import BadRequest
from server.http.schemas import supervision as schemas
from server.http.web import endpoint, json_response, principal, read_checked, read_query

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

__all__ = ["report_csv", "routes", "supervision_report"]


@routes.get("/api/v1/supervision")
@endpoint(
    "Supervision report per agency, unit and period (JSON; CSV or XLSX with format=)",
    tags=("supervision",),
    query=schemas.ReportQuery,
    responses={
        200: "the report (JSON, or a CSV or XLSX file)",
        400: "bad parameter, 'to' before 'from', or no such agency (bad_agency)",
    },
)
async def supervision(request: web.Request) -> web.StreamResponse:
    who, q = principal(request), read_query(request, schemas.ReportQuery)
    require(who, SUPERVISE)
    fmt, table, start, end = q.format, q.table, q.from_, q.to
    if start and end and end <= start:
        raise BadRequest("'to' must be after 'from'", code="bad_time")
    lang = request_lang(request)
    report = await request.app[keys.DB].run(
        supervision_report,
        who,
        request.app[keys.SETTINGS],
        q.agency,
        start,
        end,
        pending_days=q.pending_days,
        lang=lang,
    )
    if fmt == "csv":
        return web.Response(
            text="\ufeff" + report_csv(report, lang, table),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="supervision-{table}.csv"'},
        )
    if fmt == "xlsx":
        return web.Response(
            body=report_xlsx(report, lang),
            content_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="supervision.xlsx"'},
        )
    return json_response(report)


# -- 抽查 / 案卷评查 and 责令限期整改 (Art. 22-23) ----------------------------------------------
def _settings(request: web.Request) -> Any:
    return request.app[keys.SETTINGS]


@routes.post("/api/v1/spot-checks")
@endpoint(
    "Draw a seeded random sample of an agency's archived cases (抽查); the seed is ledgered",
    tags=("supervision",),
    body=schemas.SpotCheckDraw,
    responses={201: "the spot check with its sample", 409: "no archived case in the period"},
)
async def draw_spot_check(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.SpotCheckDraw)
    body = await request.app[keys.DB].run(spotcheck.draw, who, _settings(request), data)
    return json_response(body, status=201)


@routes.get("/api/v1/spot-checks")
@endpoint("Spot checks (newest first)", tags=("supervision",), params={"agency": "agency code"})
async def list_spot_checks(request: web.Request) -> web.Response:
    return json_response(
        await request.app[keys.DB].run(
            spotcheck.list_checks, principal(request), request.query.get("agency")
        )
    )


@routes.get("/api/v1/spot-checks/{id}")
@endpoint(
    "One spot check: checklist, sampled cases with suggested and given results, orders",
    tags=("supervision",),
)
async def get_spot_check(request: web.Request) -> web.Response:
    return json_response(
        await request.app[keys.DB].run(
            spotcheck.get, principal(request), _settings(request), request.match_info["id"]
        )
    )


@routes.post("/api/v1/spot-checks/{id}/cases/{case}/score")
@endpoint(
    "Score a sampled case against the checklist and record its problems",
    tags=("supervision",),
    body=schemas.Score,
)
async def score_spot_check_case(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.Score)
    return json_response(
        await request.app[keys.DB].run(
            spotcheck.score,
            who,
            _settings(request),
            request.match_info["id"],
            request.match_info["case"],
            data,
        )
    )


@routes.post("/api/v1/spot-checks/{id}/orders")
@endpoint(
    "Issue a 责令限期整改 for the problems found, with a deadline",
    tags=("supervision",),
    body=schemas.OrderRequest,
    responses={201: "the order", 409: "no problems to order rectified"},
)
async def issue_rectification_order(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.OrderRequest)
    body = await request.app[keys.DB].run(
        spotcheck.issue_order, who, _settings(request), request.match_info["id"], data
    )
    return json_response(body, status=201)


@routes.get("/api/v1/rectification-orders")
@endpoint(
    "责令限期整改 orders the caller may see",
    tags=("supervision",),
    params={"agency": "agency code", "overdue": "1: only unanswered past their deadline"},
)
async def list_rectification_orders(request: web.Request) -> web.Response:
    q = request.query
    return json_response(
        await request.app[keys.DB].run(
            spotcheck.list_orders, principal(request), q.get("agency"), q.get("overdue") == "1"
        )
    )


@routes.post("/api/v1/rectification-orders/{id}/response")
@endpoint(
    "The agency's rectification in answer to an order (its legal office)",
    tags=("supervision",),
    body=schemas.OrderResponse,
    responses={200: "the order, answered", 409: "already answered"},
)
async def answer_rectification_order(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.OrderResponse)
    return json_response(
        await request.app[keys.DB].run(spotcheck.respond, who, request.match_info["id"], data)
    )
