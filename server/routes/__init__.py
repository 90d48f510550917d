"""Every route table, listed in one place so the URL map reads top to bottom."""

from __future__ import annotations

from aiohttp import web


def all_routes() -> list[web.RouteTableDef]:
    from server.routes import (
        auth,
        bookmarks,
        cases,
        evidence,
        exports,
        ledger,
        media,
        meta,
        player,
        registry,
        supervision,
        uploads,
        users,
    )

    return [meta.routes, auth.routes, users.routes, evidence.routes, media.routes, uploads.routes, ledger.routes, bookmarks.routes, cases.routes, exports.routes, supervision.routes,
            registry.routes, player.routes]
