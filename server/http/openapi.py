"""The OpenAPI 3 document, built from the routes' own `endpoint` declarations."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v1"


def api_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, handler) of every /api/v1 route, HEAD excluded."""
    out = []
    for route in app.router.routes():
        info = route.resource.canonical if route.resource else ""
        if info.startswith(API_PREFIX) and route.method not in ("HEAD", "*"):
            out.append((route.method, info, route.handler))
    return out


def build_openapi(app: web.Application) -> dict[str, Any]:
    """Describe every declared /api/v1 route; undeclared ones are left out (a test fails then)."""
    paths: dict[str, Any] = {}
    for method, path, handler in api_routes(app):
        meta = getattr(handler, "__openapi__", None)
        if meta is None:
            continue
        op: dict[str, Any] = {
            "summary": meta["summary"],
            "operationId": f"{method.lower()}_{handler.__name__}",
            "tags": meta["tags"],
            "responses": {str(code): {"description": text} for code, text in meta["responses"].items()},
        }
        if not meta["public"]:
            op["security"] = [{"bearer": []}]
            op["responses"].setdefault("401", {"description": "authentication required"})
            op["responses"].setdefault("403", {"description": "role or agency not allowed"})
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
             "description": text}
            for name, text in meta["params"].items()
        ]
        if params:
            op["parameters"] = params
        if meta["body"] is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "Custodian API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "code", "message"], "properties": {
                "error": {"type": "string"}, "code": {"type": "string"},
                "message": {"type": "string", "description": "for people, per Accept-Language"},
                "params": {"type": "object"}}}},
        },
        "paths": dict(sorted(paths.items())),
    }
