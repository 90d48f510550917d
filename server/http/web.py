"""Small helpers shared by route modules: endpoint declaration, JSON in and out, the caller."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from server.access import Principal
from server.errors import BadRequest, PayloadTooLarge, Unauthorized
from server.isotime import iso  # noqa: F401 (re-exported for route modules)

H = TypeVar("H", bound=Callable[..., Any])
PRINCIPAL = web.RequestKey("principal", Principal)


def endpoint(summary: str, *, public: bool = False, tags: tuple[str, ...] = (),
             body: dict[str, Any] | None = None, responses: dict[int, str] | None = None,
             params: dict[str, str] | None = None) -> Callable[[H], H]:
    """Declare a route's OpenAPI description; authentication stays on unless public=True."""

    def wrap(handler: H) -> H:
        handler.__custodian_public__ = public  # type: ignore[attr-defined]
        handler.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary, "tags": list(tags), "body": body,
            "responses": responses or {200: "OK"}, "params": params or {}, "public": public,
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
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")




def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers,
                             dumps=lambda d: json.dumps(d, default=_default, ensure_ascii=False))


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (size capped by the app's client_max_size)."""
    from server.intake.hygiene import loads

    try:
        data = loads(await request.text())  # depth, numbers and dates bounded (400, not 500)
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body over {request.app._client_max_size} bytes") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("request body is not valid JSON", code="bad_json") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="bad_json")
    return data


def require_str(data: dict[str, Any], key: str, max_len: int = 500) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"field {key!r} is required and must be a string", code="bad_field",
                         params={"field": key, "problem": "required"})
    if len(value) > max_len:
        raise BadRequest(f"field {key!r} is longer than {max_len} characters", code="bad_field",
                         params={"field": key, "problem": "too_long", "max": max_len})
    return value
