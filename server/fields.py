"""Reading a text field of a JSON body in domain modules that still take a dict (no HTTP
imports): the same constrained type as the request schemas (server.http.schemas.types.Text)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from server.http.errors import BadRequest
from server.http.schemas.types import Text


@lru_cache(maxsize=64)
def _adapter(max_chars: int, required: bool) -> TypeAdapter[str]:
    return TypeAdapter(Text(max_chars, required=required))


def text_field(data: dict[str, Any], key: str, max_chars: int, *, required: bool = False) -> str:
    """A stripped string field (absent or null: ""), 400 when not a string, missing while
    required, or longer than max_chars."""
    value = data.get(key)
    if value is None:
        value = ""
    try:
        return _adapter(max_chars, required).validate_python(value)
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        if kind == "string_too_long":
            raise BadRequest(
                f"field {key!r} is longer than {max_chars} characters",
                code="bad_field",
                params={"field": key, "problem": "too_long", "max": max_chars},
            ) from None
        if kind == "string_type":
            raise BadRequest(
                f"field {key!r} must be a string",
                code="bad_field",
                params={"field": key, "problem": "not_string"},
            ) from None
        raise BadRequest(
            f"field {key!r} is required",
            code="bad_field",
            params={"field": key, "problem": "required"},
        ) from None
