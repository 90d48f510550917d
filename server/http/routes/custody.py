"""Custody history (留痕记录) of an item or a case, and the inclusion proof of each of its
entries, for everyone who may read that item or case."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from server.custody.history import (
    PAGE_DEFAULT,
    case_custody,
    entry_of_case,
    entry_of_item,
    item_custody,
    pack_labels,
)
from server.custody.treeheads import inclusion, issue_tree_head
from server.errors import BadRequest
from server.http import appkeys as keys
from server.http.web import endpoint, json_response, principal, read_query
from server.messages import negotiate
from server.schemas import ledger as schemas
from server.schemas.ledger import SEQ

routes = web.RouteTableDef()


def _seq(request: web.Request) -> int:
    raw = request.match_info["seq"]
    if len(raw) > 18:
        raise BadRequest("seq is out of range", code="bad_seq")
    return int(raw)


async def _proof(request: web.Request, seq: int) -> dict[str, Any]:
    app = request.app
    result = await app[keys.DB].run(inclusion, seq, None)
    if result is None:  # newer than every signed head: sign one over the ledger as it is now
        await asyncio.to_thread(
            issue_tree_head, app[keys.DB], app[keys.SIGNING_KEY], app[keys.SETTINGS]
        )
        result = await app[keys.DB].run(inclusion, seq, None)
    return result  # type: ignore[return-value]  # a head over the whole ledger covers seq


@routes.get("/api/v1/evidence/{id}/custody")
@endpoint(
    "Custody history of an item: its ledger entries in order (who, when, what), for every "
    "role that may read the item",
    tags=("ledger",),
    query=schemas.HistoryPage,
)
async def evidence_custody(request: web.Request) -> web.Response:
    who, lang = principal(request), negotiate(request.headers.get("Accept-Language"))
    q = read_query(request, schemas.HistoryPage)
    after, limit = q.after, PAGE_DEFAULT if q.limit is None else q.limit
    return json_response(
        await request.app[keys.DB].read(
            item_custody,
            request.match_info["id"],
            who,
            after=after,
            limit=limit,
            lang=lang,
            labels=pack_labels(request.app[keys.SETTINGS]),
        )
    )


@routes.get("/api/v1/cases/{id}/custody")
@endpoint(
    "Custody history of a case: its ledger entries and the links of items to it, in order",
    tags=("ledger",),
    query=schemas.HistoryPage,
)
async def case_custody_route(request: web.Request) -> web.Response:
    who, lang = principal(request), negotiate(request.headers.get("Accept-Language"))
    q = read_query(request, schemas.HistoryPage)
    after, limit = q.after, PAGE_DEFAULT if q.limit is None else q.limit
    return json_response(
        await request.app[keys.DB].read(
            case_custody,
            request.match_info["id"],
            who,
            after=after,
            limit=limit,
            lang=lang,
            labels=pack_labels(request.app[keys.SETTINGS]),
        )
    )


@routes.get(r"/api/v1/evidence/{id}/custody/{seq:\d+}/proof")
@endpoint(
    "Inclusion proof of one entry of the item's custody history (RFC 9162)",
    tags=("ledger",),
    path={"seq": SEQ},
    responses={
        200: "entry, audit path and the signed head",
        400: "seq 0",
        404: "not an entry of this item",
    },
)
async def evidence_custody_proof(request: web.Request) -> web.Response:
    seq = await request.app[keys.DB].read(
        entry_of_item, request.match_info["id"], _seq(request), principal(request)
    )
    return json_response(await _proof(request, seq))


@routes.get(r"/api/v1/cases/{id}/custody/{seq:\d+}/proof")
@endpoint(
    "Inclusion proof of one entry of the case's custody history (RFC 9162)",
    tags=("ledger",),
    path={"seq": SEQ},
    responses={
        200: "entry, audit path and the signed head",
        400: "seq 0",
        404: "not an entry of this case",
    },
)
async def case_custody_proof(request: web.Request) -> web.Response:
    seq = await request.app[keys.DB].read(
        entry_of_case, request.match_info["id"], _seq(request), principal(request)
    )
    return json_response(await _proof(request, seq))
