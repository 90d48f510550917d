"""Small helpers shared by route modules: endpoint declaration, JSON in and out, the caller."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from server.http.access import Principal
from server.http.errors import BadRequest, PayloadTooLarge, Unauthorized
from server.http.schemas.base import Body, Query
from server.isotime import iso  # noqa: F401 (re-exported for route modules)

H = TypeVar("H", bound=Callable[..., Any])
B = TypeVar("B", bound=Body)
Q = TypeVar("Q", bound=Query)
PRINCIPAL = web.RequestKey("principal", Principal)

# A response: its description, or (description, schema of its JSON body).
Response = str | tuple[str, type[BaseModel] | dict[str, Any]]


def endpoint(
    summary: str,
    *,
    public: bool = False,
    tags: tuple[str, ...] = (),
    body: type[Body] | dict[str, Any] | None = None,
    responses: dict[int, Response] | None = None,
    params: dict[str, str] | None = None,
    query: type[Query] | None = None,
    path: dict[str, dict[str, Any]] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
    body_optional: bool = False,
) -> Callable[[H], H]:
    """Declare a route's OpenAPI description; authentication stays on unless public=True.

    `body` is the request schema (a `Body` model: the handler reads it with `read_body`);
    `responses` maps each status the route answers itself to its description (and the schema
    of its body); the statuses every route of its kind answers (400 for a bad body or URL
    value, 401/403, 404 for a path naming nothing, 413) are added by server/http/openapi.py.
    `params` describes query parameters (strings); `query` is the schema of the query (the
    handler reads it with `read_query`); `path` gives a path parameter a JSON Schema;
    `headers` names required request headers with theirs."""

    def wrap(handler: H) -> H:
        handler.__custodian_public__ = public  # type: ignore[attr-defined]
        handler.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "tags": list(tags),
            "body": body,
            "body_optional": body_optional,
            "responses": responses or {200: "OK"},
            "params": params or {},
            "query": query,
            "path": path or {},
            "headers": headers or {},
            "public": public,
        }
        return handler

    return wrap


def is_public(handler: Any) -> bool:
    return bool(getattr(handler, "__custodian_public__", False))


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware put it there)."""
    who = request.get(PRINCIPAL)
    if who is None:
        raise Unauthorized("authentication required", code="unauthorized")
    return who


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return iso(o)
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """`data` as JSON (a response schema instance is serialised by its schema)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return web.json_response(
        data,
        status=status,
        headers=headers,
        dumps=lambda d: json.dumps(d, default=_default, ensure_ascii=False),
    )


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (size capped by the app's client_max_size; depth,
    numbers and dates bounded by server.http.schemas.bounds: 400, not 500)."""
    from server.http.schemas.bounds import loads

    try:
        data = loads(await request.text())
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body over {request.app._client_max_size} bytes") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("request body is not valid JSON", code="bad_json") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="bad_json")
    return data


async def read_body(request: web.Request, schema: type[B], *, optional: bool = False) -> B:
    """The request body validated by its schema (400 naming the field at fault). With
    optional=True an empty body reads as `{}`."""
    if optional and not request.can_read_body:
        return schema.parse({})
    return schema.parse(await read_json(request))


async def read_checked(
    request: web.Request, schema: type[Body], *, optional: bool = False
) -> dict[str, Any]:
    """The request body as sent, once its schema accepted it: for domain functions that still
    take the dict (typed commands are not there yet in server/cases/core.py, compliance.py,
    supervision.py, server/people/registry.py, server/exports/job.py)."""
    data = {} if optional and not request.can_read_body else await read_json(request)
    schema.parse(data)
    return data


def read_query(request: web.Request, schema: type[Q]) -> Q:
    """The query parameters validated by their schema (400 naming the parameter)."""
    return schema.parse(request.query)
