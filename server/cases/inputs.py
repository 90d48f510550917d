"""Reading the fields of a case request body: text, flags, choices, RFC 3339 times, free-form
fields and lists, each refused with a clear 400 when malformed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from integrity.timefmt import MissingOffset, parse_rfc3339
from server.http.errors import BadRequest

PAGE_MAX = 200

MAX_FIELDS_JSON = 20_000

MAX_LIST = 50


def field_text(
    data: dict[str, Any], key: str, max_len: int = 500, *, required: bool = False, default: str = ""
) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be a string", code="bad_field")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"field {key!r} is required", code="bad_field")
    if len(value) > max_len:
        raise BadRequest(f"field {key!r} is longer than {max_len} characters", code="bad_field")
    return value


def field_flag(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"field {key!r} must be true or false", code="bad_field")
    return value


def field_choice(
    data: dict[str, Any],
    key: str,
    allowed: Any,
    *,
    default: str | None = None,
    required: bool = False,
) -> str | None:
    value = data.get(key, default)
    if value is None:
        if required:
            raise BadRequest(f"field {key!r} is required", code="bad_field")
        return None
    if value not in allowed:
        raise BadRequest(
            f"field {key!r} must be one of {', '.join(sorted(allowed))}, not {value!r}",
            code="bad_field",
        )
    return str(value)


def parse_time(value: Any, key: str) -> datetime:
    """An RFC 3339 time with an offset (a time without a zone is refused, not guessed)."""
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be an RFC 3339 time", code="bad_time")
    try:
        return parse_rfc3339(value)
    except MissingOffset:
        raise BadRequest(
            f"field {key!r} needs a UTC offset (e.g. Z or +08:00)", code="bad_time"
        ) from None
    except ValueError:
        raise BadRequest(
            f"field {key!r} is not an RFC 3339 time: {value!r}", code="bad_time"
        ) from None


def field_time(data: dict[str, Any], key: str) -> datetime | None:
    return None if data.get(key) in (None, "") else parse_time(data[key], key)


def field_json(data: dict[str, Any], key: str = "fields") -> dict[str, Any]:
    value = data.get(key, {}) or {}
    if not isinstance(value, dict):
        raise BadRequest(f"field {key!r} must be an object", code="bad_field")
    for k, v in value.items():
        if not isinstance(k, str) or len(k) > 60:
            raise BadRequest(
                f"field {key!r}: keys must be strings of at most 60 characters", code="bad_field"
            )
        if not isinstance(v, (str, int, float, bool, list)) and v is not None:
            raise BadRequest(
                f"field {key}.{k} must be a string, number, boolean or list", code="bad_field"
            )
    if len(json.dumps(value, ensure_ascii=False)) > MAX_FIELDS_JSON:
        raise BadRequest(
            f"field {key!r} is larger than {MAX_FIELDS_JSON} characters", code="too_large"
        )
    return value


def field_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, []) or []
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise BadRequest(
            f"field {key!r} must be a list of at most {MAX_LIST} entries", code="bad_field"
        )
    return value
