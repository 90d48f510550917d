"""The custody ledger over HTTP: entries, signed tree heads, inclusion and consistency proofs,
and the server's public signing keys."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from server.access import READ_LEDGER, VERIFY, Principal, require, sees_all
from server.catalogue.models import LedgerRow
from server.custody.ledger import row_json
from server.custody.treeheads import consistency, head_json, inclusion, issue_tree_head, list_heads
from server.errors import Forbidden
from server.http import appkeys as keys
from server.http.web import endpoint, json_response, principal, read_query
from server.schemas import ledger as schemas

routes = web.RouteTableDef()

PAGE_DEFAULT = 100
PAGE_MAX = 1000


def _require_whole_ledger(who: Principal) -> None:
    """The whole ledger spans every agency: readers bound to one agency may not read it."""
    require(who, READ_LEDGER)
    if not sees_all(who):
        raise Forbidden(
            "the whole ledger spans every agency; a supervisor bound to one agency may not read it",
            code="forbidden",
        )


@routes.get("/api/v1/ledger")
@endpoint(
    "Custody ledger entries seq from..to (inclusive), oldest first",
    tags=("ledger",),
    query=schemas.LedgerPage,
)
async def list_ledger(request: web.Request) -> web.Response:
    _require_whole_ledger(principal(request))
    q = read_query(request, schemas.LedgerPage)
    first, last = q.from_ or 1, q.to
    limit = max(1, min(q.limit or PAGE_DEFAULT, PAGE_MAX))

    def page(s):  # type: ignore[no-untyped-def]
        q = select(LedgerRow).where(LedgerRow.seq >= first)
        if last is not None:
            q = q.where(LedgerRow.seq <= last)
        rows = list(s.scalars(q.order_by(LedgerRow.seq).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [row_json(r) for r in rows],
            "next": str(rows[-1].seq + 1) if more else None,
        }

    return json_response(await request.app[keys.DB].read(page))


@routes.get(r"/api/v1/ledger/{seq:\d+}/proof")
@endpoint(
    "Inclusion proof of one entry against a signed tree head (RFC 9162); when the newest "
    "head does not cover the entry yet, a new head is signed first",
    tags=("ledger",),
    query=schemas.ProofAt,
    path={"seq": schemas.SEQ},
    responses={
        200: "entry, audit path and the signed head",
        400: "seq 0, or a tree size smaller than seq",
        404: "no such entry or head",
    },
)
async def ledger_proof(request: web.Request) -> web.Response:
    _require_whole_ledger(principal(request))
    app = request.app
    seq = int(request.match_info["seq"])
    tree_size = read_query(request, schemas.ProofAt).tree_size
    result = await app[keys.DB].run(inclusion, seq, tree_size)
    if result is None:
        # The entry is newer than every signed head: sign one over the ledger as it is now.
        await asyncio.to_thread(
            issue_tree_head, app[keys.DB], app[keys.SIGNING_KEY], app[keys.SETTINGS]
        )
        result = await app[keys.DB].run(inclusion, seq, tree_size)
    return json_response(result)


@routes.get("/api/v1/ledger/consistency")
@endpoint(
    "Consistency proof between tree sizes first <= second (RFC 9162), with the signed "
    "heads of those sizes where they exist",
    tags=("ledger",),
    query=schemas.ConsistencyRange,
    responses={200: "the proof", 400: "first > second", 404: "no head of that size yet"},
)
async def ledger_consistency(request: web.Request) -> web.Response:
    _require_whole_ledger(principal(request))
    q = read_query(request, schemas.ConsistencyRange)
    first, second = q.first or 0, q.second
    return json_response(await request.app[keys.DB].run(consistency, first, second))


@routes.get("/api/v1/ledger/tree-heads")
@endpoint(
    "Signed tree heads, newest first",
    tags=("ledger",),
    query=schemas.HeadsPage,
)
async def list_tree_heads(request: web.Request) -> web.Response:
    _require_whole_ledger(principal(request))
    q = read_query(request, schemas.HeadsPage)
    before, limit = q.cursor, q.limit or 100
    return json_response(await request.app[keys.DB].read(list_heads, before=before, limit=limit))


@routes.post("/api/v1/ledger/tree-heads")
@endpoint(
    "Sign a tree head over the whole ledger now (with an RFC 3161 token when a TSA is configured)",
    tags=("ledger",),
    responses={201: "the new signed head", 409: "the ledger no longer matches a signed head"},
)
async def post_tree_head(request: web.Request) -> web.Response:
    require(principal(request), VERIFY)
    app = request.app
    row = await asyncio.to_thread(
        issue_tree_head, app[keys.DB], app[keys.SIGNING_KEY], app[keys.SETTINGS]
    )
    assert row is not None  # only_if_grown is off: a head is always issued
    return json_response(head_json(row), status=201)


@routes.get("/api/v1/keys")
@endpoint(
    "The server's public signing keys with their key ids (public: anyone checking a "
    "signature needs them)",
    public=True,
    tags=("ledger",),
)
async def public_keys(request: web.Request) -> web.Response:
    from server.custody.keyring import keyring

    key = request.app[keys.SIGNING_KEY]
    records = await asyncio.to_thread(request.app[keys.DB].call, keyring, key)
    # Current key first; each with its fingerprint and validity window. The body is also a keys
    # file verify.py accepts: save it and pass it as --trusted-key.
    items = sorted((r.to_json() for r in records), key=lambda r: not r["current"])
    return json_response({"items": items, "next": None})
