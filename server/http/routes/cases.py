"""Cases, stages, records, links, approvals, complaints, compliance; retention of evidence."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import READ_CASES, require
from server.cases import (
    approvals,
    commands,
    compliance,
    facts,
    links,
    proposals,
    queries,
    records,
)
from server.cases.finding_texts import request_lang
from server.cases.rulebook import rulebook
from server.catalogue.models import Agency
from server.custody import retention
from server.errors import BadRequest
from server.http import appkeys as keys
from server.http.guards import access_ledger
from server.http.web import endpoint, json_response, principal, read_body, read_checked, read_query
from server.intake.evidence import get_item
from server.messages import error_body, negotiate
from server.schemas import cases as schemas

routes = web.RouteTableDef()
TAGS = ("cases",)


def _db(request: web.Request):  # type: ignore[no-untyped-def]
    return request.app[keys.DB]


def _limit(request: web.Request) -> int:
    try:
        return int(request.query.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be an integer") from None


def _with_agencies(s: Session) -> list[Agency]:
    """Load the agencies into the session and keep them referenced: the session's identity map
    holds objects weakly, so without a reference every case_json() of a page would query its
    agency again (one query per case: 50 for a page). There are tens of agencies, not more."""
    return list(s.scalars(select(Agency)))


def _list_cases(s: Session, who: Any, **query: Any) -> dict[str, Any]:
    held = _with_agencies(s)  # noqa: F841 (referenced while the page is built)
    return queries.list_cases(s, who, **query)


def _case_detail(s: Session, ref: str, who: Any, settings: Any) -> dict[str, Any]:
    held = _with_agencies(s)  # noqa: F841 (case_json and pack_for look the agency up)
    return queries.case_detail(s, ref, who, settings)


@routes.get("/api/v1/rules")
@endpoint(
    "The rule pack in force for an agency: stages, document types, methods, rules",
    tags=TAGS,
    params={"agency": "agency code (default: the caller's)"},
)
async def get_rules(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, READ_CASES)
    settings = request.app[keys.SETTINGS]
    code = request.query.get("agency")

    def find(s: Session) -> str | None:
        if code:
            return code
        a = s.get(Agency, who.agency_id) if who.agency_id is not None else None
        return a.code if a else None

    agency = await _db(request).read(find)
    pack = rulebook(settings.rules_dir, settings.rule_pack).for_agency(agency)
    return json_response({**pack.to_json(), "agency": agency})


@routes.get("/api/v1/cases")
@endpoint(
    "List cases visible to the caller",
    tags=TAGS,
    query=schemas.CaseListQuery,
    responses={200: "a page of cases", 400: "bad parameter, or a cursor not from a page"},
)
async def list_cases(request: web.Request) -> web.Response:
    read_query(request, schemas.CaseListQuery)
    q = request.query
    page = await _db(request).read(
        _list_cases,
        principal(request),
        q=q.get("q"),
        enforcement_type=q.get("enforcement_type"),
        status=q.get("status"),
        stage=q.get("stage"),
        agency=q.get("agency"),
        start=q.get("from"),
        end=q.get("to"),
        cursor=q.get("cursor"),
        limit=_limit(request),
    )
    return json_response(page)


@routes.post("/api/v1/cases")
@endpoint(
    "Open a case",
    tags=TAGS,
    body=schemas.NewCase,
    responses={201: "the case", 400: "bad field", 409: "number already used"},
)
async def create_case(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.NewCase)
    body = await _db(request).run(commands.create_case, who, data, request.app[keys.SETTINGS])
    return json_response(body, status=201)


@routes.get("/api/v1/cases/{id}")
@endpoint(
    "One case (id or case number) with its stages, records, items and findings",
    tags=TAGS,
    responses={200: "the case", 404: "no such case"},
)
async def get_case(request: web.Request) -> web.Response:
    who = principal(request)
    body = await _db(request).read(
        _case_detail, request.match_info["id"], who, request.app[keys.SETTINGS]
    )
    # Opening a case reveals its content: one view entry per request, committed before the
    # answer leaves (the access ledger group-commits the entries of cases opened at the same
    # moment); the answer is built while the entry is written.
    entry = asyncio.ensure_future(
        access_ledger(request).view(
            who,
            f"case:{body['id']}",
            {"what": "case", "number": body.get("number"), "address": request.remote or ""},
        )
    )
    try:
        compliance.localize(body["findings"], request_lang(request))
        response = json_response(body)
    finally:
        await entry  # not sent unless ledgered
    return response


@routes.post("/api/v1/cases/{id}/links")
@endpoint(
    "Link an evidence item to a case stage",
    tags=TAGS,
    body=schemas.NewLink,
    responses={201: "linked", 200: "already linked (the existing link)", 409: "case archived"},
)
async def add_link(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.NewLink)
    link, created = await _db(request).run(
        links.add_link,
        request.match_info["id"],
        who,
        data,
        request.app[keys.SETTINGS],
        request.app[keys.STORE],
    )
    return json_response(link, status=201 if created else 200)


@routes.delete("/api/v1/cases/{id}/links/{link_id}")
@endpoint(
    "Unlink an item (the link stays as history, ledgered)",
    tags=TAGS,
    params={"reason": "why the link is removed"},
    responses={200: "the link, now with unlinked_at", 404: "no such link", 409: "already unlinked"},
)
async def remove_link(request: web.Request) -> web.Response:
    reason = request.query.get("reason", "")[:2000]
    return json_response(
        await _db(request).run(
            links.remove_link,
            request.match_info["id"],
            request.match_info["link_id"],
            principal(request),
            reason,
            request.app[keys.SETTINGS],
            request.app[keys.STORE],
        )
    )


@routes.post("/api/v1/cases/{id}/records")
@endpoint(
    "Add a typed text record to a stage",
    tags=TAGS,
    body=schemas.NewRecord,
    responses={201: "the record", 400: "bad field", 409: "case archived"},
)
async def add_record(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.NewRecord)
    return json_response(
        await _db(request).run(
            records.add_record,
            request.match_info["id"],
            who,
            data,
            request.app[keys.SETTINGS],
            request.app[keys.STORE],
        ),
        status=201,
    )


@routes.patch("/api/v1/cases/{id}")
@endpoint(
    "Edit an open case's parties, officers, title, description or flags (ledgered)",
    tags=TAGS,
    body=schemas.CaseChange,
    responses={200: "the case", 400: "bad or non-editable field", 409: "case archived"},
)
async def patch_case(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.CaseChange)
    return json_response(
        await _db(request).run(commands.update_case, request.match_info["id"], who, data)
    )


@routes.post("/api/v1/cases/{id}/records/{record_id}/attachments")
@endpoint(
    "Attach an item (a scan of the paper record, its recording) to a record",
    tags=TAGS,
    body=schemas.Attachment,
    responses={201: "the link naming the record", 200: "already attached", 404: "no record"},
)
async def attach_to_record(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.Attachment)
    link, created = await _db(request).run(
        links.attach_to_record,
        request.match_info["id"],
        request.match_info["record_id"],
        who,
        data,
        request.app[keys.SETTINGS],
        request.app[keys.STORE],
    )
    return json_response(link, status=201 if created else 200)


@routes.get("/api/v1/cases/{id}/people")
@endpoint("The people of the case's agency who can be named in its approvals", tags=TAGS)
async def case_people(request: web.Request) -> web.Response:
    return json_response(
        await _db(request).read(approvals.case_people, request.match_info["id"], principal(request))
    )


@routes.get("/api/v1/approvals")
@endpoint(
    "Approvals naming the caller; pending=me: those waiting for the caller's decision",
    tags=TAGS,
    query=schemas.ApprovalsQuery,
    responses={200: "the approvals", 404: "no such case"},
)
async def list_approvals(request: web.Request) -> web.Response:
    return json_response(
        await _db(request).read(
            approvals.list_approvals,
            principal(request),
            pending=request.query.get("pending"),
            case=request.query.get("case"),
        )
    )


@routes.post("/api/v1/approvals/{id}/decision")
@endpoint(
    "Decide on an approval as the named handler, reviewer or approver, in that order, at "
    "server time (a client-supplied time is refused)",
    tags=TAGS,
    body=schemas.ApprovalDecision,
    responses={
        200: "the approval",
        400: "bad field or a client time",
        403: "not named",
        409: "not your turn, or already decided",
    },
)
async def decide_approval(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.ApprovalDecision)
    return json_response(
        await _db(request).run(approvals.decide_approval, request.match_info["id"], who, data)
    )


@routes.post("/api/v1/cases/{id}/approvals")
@endpoint(
    "Request an internal approval naming handler, reviewer and approver (three people); "
    "each decides in their own session",
    tags=TAGS,
    body=schemas.NewApproval,
    responses={201: "the request", 400: "bad field", 409: "same person in two roles (Art. 24)"},
)
async def add_approval(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.NewApproval)
    return json_response(
        await _db(request).run(
            approvals.add_approval, request.match_info["id"], who, data, request.app[keys.SETTINGS]
        ),
        status=201,
    )


@routes.post("/api/v1/cases/{id}/complaints")
@endpoint(
    "Record a complaint or report and its decision (Art. 9)",
    tags=TAGS,
    body=schemas.NewComplaint,
    responses={201: "the complaint"},
)
async def add_complaint(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.NewComplaint)
    return json_response(
        await _db(request).run(commands.add_complaint, request.match_info["id"], who, data),
        status=201,
    )


@routes.post("/api/v1/cases/{id}/stage")
@endpoint(
    "Move the case forward to a stage; archiving is refused while records are missing",
    tags=TAGS,
    body=schemas.StageMove,
    responses={200: "the case", 409: "backwards, archived, or archiving refused with {missing}"},
)
async def move_stage(request: web.Request) -> web.Response:
    who, data = principal(request), await read_checked(request, schemas.StageMove)
    try:
        body = await _db(request).run(
            commands.move_stage, request.match_info["id"], who, data, request.app[keys.SETTINGS]
        )
    except commands.ArchivingRefused as exc:
        lang = request_lang(request)
        return json_response(
            {
                **error_body(exc.code, exc.message, None, negotiate(lang), exc.status),
                "missing": compliance.localize(exc.missing, lang),
            },
            status=exc.status,
        )
    return json_response(body)


@routes.get("/api/v1/cases/{id}/compliance")
@endpoint("Compliance findings of the case under its agency's rule pack", tags=TAGS)
async def get_compliance(request: web.Request) -> web.Response:
    body = await _db(request).read(
        facts.compliance_report,
        request.match_info["id"],
        principal(request),
        request.app[keys.SETTINGS],
    )
    compliance.localize(body["findings"], request_lang(request))
    return json_response(body)


@routes.get("/api/v1/cases/{id}/proposals")
@endpoint(
    "Footage from the record officers' cameras overlapping a record's time, not yet linked",
    tags=TAGS,
)
async def get_proposals(request: web.Request) -> web.Response:
    return json_response(
        await _db(request).read(
            proposals.proposals,
            request.match_info["id"],
            principal(request),
            request.app[keys.SETTINGS],
        )
    )


# -- retention ---------------------------------------------------------------------------------
@routes.get("/api/v1/evidence/{id}/retention")
@endpoint("An item's retention class, date, holds and case links", tags=("retention",))
async def get_retention(request: web.Request) -> web.Response:
    who, settings = principal(request), request.app[keys.SETTINGS]

    def read(s: Session) -> dict[str, Any]:
        item = get_item(s, request.match_info["id"], who)
        return {
            **retention.retention_json(s, item, settings),
            "links": queries.item_links(s, item.id, who),
        }

    return json_response(await _db(request).read(read))


@routes.post("/api/v1/evidence/{id}/legal-hold")
@endpoint(
    "Place (hold=true) or release (hold=false) a legal hold",
    tags=("retention",),
    body=schemas.LegalHold,
)
async def legal_hold(request: web.Request) -> web.Response:
    who, body = principal(request), await read_body(request, schemas.LegalHold)
    hold, reason = body.hold, body.reason
    settings, store = request.app[keys.SETTINGS], request.app[keys.STORE]

    def act(s: Session) -> dict[str, Any]:
        item = get_item(s, request.match_info["id"], who)
        return retention.set_legal_hold(s, item, who, hold, reason, settings, store)

    return json_response(await _db(request).run(act))


@routes.post("/api/v1/evidence/{id}/disposal-requests")
@endpoint(
    "Ask to dispose of an item after its retention (a second person approves)",
    tags=("retention",),
    body=schemas.DisposalRequest,
    responses={201: "the request", 409: "inside retention, on hold, linked, or pending"},
)
async def request_disposal(request: web.Request) -> web.Response:
    who = principal(request)
    reason = (await read_body(request, schemas.DisposalRequest)).reason
    settings = request.app[keys.SETTINGS]

    def act(s: Session) -> dict[str, Any]:
        item = get_item(s, request.match_info["id"], who)
        return retention.request_disposal(s, item, who, reason, settings)

    return json_response(await _db(request).run(act), status=201)


@routes.get("/api/v1/disposal-requests")
@endpoint(
    "Disposal requests of the caller's agency",
    tags=("retention",),
    query=schemas.DisposalsQuery,
)
async def list_disposals(request: web.Request) -> web.Response:
    items = await _db(request).read(
        retention.list_requests, principal(request), request.query.get("state")
    )
    return json_response({"items": items, "next": None})


@routes.post("/api/v1/disposal-requests/{id}/approve")
@endpoint(
    "Approve a disposal request (not by its requester)",
    tags=("retention",),
    body=schemas.DisposalApproval,
    body_optional=True,
    responses={200: "approved", 409: "requester cannot approve, or back inside retention"},
)
async def approve_disposal(request: web.Request) -> web.Response:
    who = principal(request)
    note = (await read_body(request, schemas.DisposalApproval, optional=True)).note
    return json_response(
        await _db(request).run(
            retention.approve_disposal,
            request.match_info["id"],
            who,
            note,
            request.app[keys.SETTINGS],
        )
    )
