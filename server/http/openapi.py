"""The OpenAPI 3.1 document, built from the routes' own `endpoint` declarations and the
request and response schemas of server/http/schemas (defined once: the same models validate
the bodies and describe them here)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from server.http.schemas.base import Body, ErrorReply, Query

API_PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"

# What every route of a kind may answer besides its own statuses.
BAD_INPUT = "a field, parameter or the JSON of the body is not valid (code and params.field)"
UNAUTHENTICATED = "authentication required"
NOT_ALLOWED = "role or agency not allowed"
NOTHING_THERE = "no such thing at this path"
TOO_LARGE = "request body too large"


def api_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, handler) of every /api/v1 route, HEAD excluded."""
    out = []
    for route in app.router.routes():
        info = route.resource.canonical if route.resource else ""
        if info.startswith(API_PREFIX) and route.method not in ("HEAD", "*"):
            out.append((route.method, info, route.handler))
    return out


class _Components:
    """Component schemas gathered from the models the routes name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
        name = model.__name__
        if name not in self.schemas:
            schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name, definition)
            self.schemas[name] = schema
        return {"$ref": REF.format(model=name)}

    def schema(self, value: type[BaseModel] | dict[str, Any], mode: str) -> dict[str, Any]:
        if isinstance(value, type) and issubclass(value, BaseModel):
            return self.ref(value, mode)
        return value


def _response(parts: _Components, status: int, spec: Any) -> dict[str, Any]:
    description, schema = (spec, None) if isinstance(spec, str) else spec
    out: dict[str, Any] = {"description": description}
    if schema is None and status >= 400:
        schema = ErrorReply
    if schema is not None:
        out["content"] = {"application/json": {"schema": parts.schema(schema, "serialization")}}
    return out


def build_openapi(app: web.Application) -> dict[str, Any]:
    """Describe every declared /api/v1 route; undeclared ones are left out (a test fails then)."""
    parts = _Components()
    paths: dict[str, Any] = {}
    for method, path, handler in api_routes(app):
        meta = getattr(handler, "__openapi__", None)
        if meta is None:
            continue
        path_params = re.findall(r"{(\w+)}", path)
        declared: dict[int, Any] = dict(meta["responses"])
        if (
            meta["body"] is not None
            or path_params
            or meta["params"]
            or meta["query"]
            or meta["headers"]
        ):
            declared.setdefault(400, BAD_INPUT)
        if meta["body"] is not None:
            declared.setdefault(413, TOO_LARGE)
        if path_params:
            declared.setdefault(404, NOTHING_THERE)
        if not meta["public"]:
            declared.setdefault(401, UNAUTHENTICATED)
            declared.setdefault(403, NOT_ALLOWED)
        op: dict[str, Any] = {
            "summary": meta["summary"],
            "operationId": f"{method.lower()}_{handler.__name__}",
            "tags": meta["tags"],
            "responses": {
                str(code): _response(parts, code, spec) for code, spec in sorted(declared.items())
            },
        }
        if not meta["public"]:
            op["security"] = [{"bearer": []}]
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": meta["path"].get(name, {"type": "string"}),
            }
            for name in path_params
        ]
        params += [
            {"name": name, "in": "header", "required": True, "schema": schema}
            for name, schema in meta["headers"].items()
        ]
        params += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in meta["params"].items()
        ]
        if meta["query"] is not None:
            params += _query_params(meta["query"])
        if params:
            op["parameters"] = params
        body = meta["body"]
        if body is not None:
            op["requestBody"] = {
                "required": not meta["body_optional"],
                "content": {"application/json": {"schema": parts.schema(body, "validation")}},
            }
        paths.setdefault(path, {})[method.lower()] = op
    parts.ref(ErrorReply, "serialization")
    parts.schemas["Error"] = parts.schemas.pop("ErrorReply")
    _rename_refs(paths, "ErrorReply", "Error")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Custodian API", "version": "1"},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": dict(sorted(parts.schemas.items())),
        },
        "paths": dict(sorted(paths.items())),
    }


def _query_params(model: type[Query]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        prop.pop("title", None)
        prop.pop("default", None)
        description = prop.pop("description", "")
        if "anyOf" in prop:  # X | None: absent is None; the URL carries X
            options = [o for o in prop.pop("anyOf") if o.get("type") != "null"]
            prop.update(options[0] if len(options) == 1 else {"anyOf": options})
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
                "description": description,
            }
        )
    return out


def _rename_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        if node.get("$ref") == REF.format(model=old):
            node["$ref"] = REF.format(model=new)
        for v in node.values():
            _rename_refs(v, old, new)
    elif isinstance(node, list):
        for v in node:
            _rename_refs(v, old, new)


__all__ = ["Body", "api_routes", "build_openapi"]
