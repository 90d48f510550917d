"""Reading fields of a JSON body in domain modules (no HTTP imports)."""

from __future__ import annotations

from typing import Any

from server.errors import BadRequest


def text_field(data: dict[str, Any], key: str, max_chars: int, *, required: bool = False) -> str:
    """A stripped string field (absent or null: ""), 400 when not a string, missing while
    required, or longer than max_chars."""
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be a string", code="bad_field")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"field {key!r} is required", code="bad_field")
    if len(value) > max_chars:
        raise BadRequest(f"field {key!r} is longer than {max_chars} characters", code="bad_field")
    return value
