"""Every route table, listed in one place so the URL map reads top to bottom."""

from __future__ import annotations

from aiohttp import web


def all_routes() -> list[web.RouteTableDef]:
    from server.http.routes import (
        auth,
        bookmarks,
        cases,
        custody,
        evidence,
        exports,
        ledger,
        media,
        meta,
        naming,
        player,
        registry,
        supervision,
        uploads,
        users,
    )

    return [
        meta.routes,
        auth.routes,
        users.routes,
        evidence.routes,
        media.routes,
        uploads.routes,
        ledger.routes,
        custody.routes,
        naming.routes,
        bookmarks.routes,
        cases.routes,
        exports.routes,
        supervision.routes,
        registry.routes,
        player.routes,
    ]
