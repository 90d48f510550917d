"""The reusable constrained types every request schema is built from (the one family of
input validators): stripped text with a maximum, bounded integers and numbers, RFC 3339 times.

Each type carries its JSON Schema, so the OpenAPI document says exactly what is accepted, and
a value the schema allows is never refused by the type (schemathesis checks both ways)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from server.http.schemas.bounds import MAX_SAFE_INT, MAX_YEAR, MIN_YEAR

__all__ = ["Flag", "Id", "Int", "Number", "Rfc3339", "Seconds", "Text", "parse_rfc3339"]

# An object's keys and a list's entries are bounded everywhere (a body is at most 1 MiB anyway).
MAX_LIST = 500


# A character Python's str.strip keeps (JSON Schema's \S knows fewer white spaces).
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _not_blank(value: str) -> str:
    if not value:
        raise PydanticCustomError("missing", "field required")
    return value


def Text(  # noqa: N802
    max: int = 500,  # noqa: A002
    *,
    required: bool = False,
    nullable: bool = True,
    strip: bool = True,
    pattern: str | None = None,
) -> Any:
    """A string, stripped of surrounding white space, at most `max` characters after stripping.
    Absent or null reads as "" unless `required` (then it must hold a non-blank character).
    strip=False keeps the string as sent (passwords); `pattern` constrains it further."""
    if not strip:
        return Annotated[
            StrictStr, Field(min_length=1 if required else 0, max_length=max, pattern=pattern)
        ]
    if pattern:
        return Annotated[StrictStr, Field(max_length=max, pattern=pattern)]
    if required:
        return Annotated[
            StrictStr,
            AfterValidator(str.strip),
            AfterValidator(_not_blank),
            AfterValidator(_max_after_strip(max)),
            WithJsonSchema(
                {"type": "string", "minLength": 1, "maxLength": max, "pattern": NOT_BLANK}
            ),
        ]
    schema: dict[str, Any] = {"type": "string", "maxLength": max}
    if nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return Annotated[
        StrictStr,
        BeforeValidator(_none_to_empty),
        AfterValidator(str.strip),
        AfterValidator(_max_after_strip(max)),
        WithJsonSchema(schema),
    ]


def _max_after_strip(limit: int) -> Any:
    def check(value: str) -> str:
        if len(value) > limit:
            raise PydanticCustomError(
                "string_too_long", "at most {max_length} characters", {"max_length": limit}
            )
        return value

    return check


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise PydanticCustomError("int_type", "must be a whole number")
    return int(value)


# The largest number a body may hold as a decimal (server.http.schemas.bounds refuses more).
MAX_NUMBER = 10**15


def Int(lo: int = -MAX_NUMBER, hi: int = MAX_NUMBER) -> Any:  # noqa: N802
    """A JSON integer (2 or 2.0; not a boolean, not a string of digits) in [lo, hi]."""
    return Annotated[int, Field(ge=lo, le=hi), BeforeValidator(_json_integer)]


# A catalogue row id (a positive 32-bit integer).
Id = Int(1, 2**31 - 1)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


def Number(lo: float, hi: float) -> Any:  # noqa: N802
    """A finite number (integer or decimal; not a boolean) in [lo, hi]."""
    return Annotated[
        float,
        Field(ge=lo, le=hi, allow_inf_nan=False),
        BeforeValidator(_no_bool),
        AfterValidator(_finite),
    ]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("float_type", "must be a number")
    return value


# Media time in seconds: no recording is longer than a week; kept to the millisecond.
Seconds = Annotated[
    float,
    Field(ge=0, le=7 * 24 * 3600.0, allow_inf_nan=False),
    BeforeValidator(_no_bool),
    AfterValidator(lambda v: round(v, 3)),
]

Flag = StrictBool

# The years the server computes with (server.intake.hygiene refuses others in any string).
_YEAR = r"^(?:[1-8][0-9]{3}|9000)-"


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 time with an offset, as UTC (a time without a zone is refused, not
    guessed); the year is one the server can compute with."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "must be an RFC 3339 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime_parsing", "not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise PydanticCustomError("timezone_aware", "needs a UTC offset (e.g. Z or +08:00)")
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise PydanticCustomError("datetime_range", "year out of range")
    return moment.astimezone(UTC)


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _YEAR}),
]


def _local_time(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "must be a time")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("/", "-"))
    except ValueError:
        raise PydanticCustomError(
            "datetime_parsing", "not a time (use RFC 3339 or YYYY-MM-DD HH:MM)"
        ) from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise PydanticCustomError("datetime_range", "year out of range")
    return text


# RFC 3339, or a local date and time 'YYYY-MM-DD[ HH:MM[:SS]]' read in a configured zone by
# the domain (the registry's camera time zone): kept as the text sent.
LocalTime = Annotated[
    str,
    BeforeValidator(_local_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "pattern": _YEAR},
                {"type": "string", "format": "date", "pattern": _YEAR},
            ]
        }
    ),
]


def IntParam(lo: int = 0, hi: int = MAX_SAFE_INT) -> Any:  # noqa: N802
    """An integer query or path parameter (digits in the URL) in [lo, hi]."""
    return Annotated[int, Field(ge=lo, le=hi)]


# A free-form JSON scalar a domain stores as given (numbers inside what every JSON reader holds).
SCALAR_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 2000},
        {"type": "integer", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
        {"type": "number", "minimum": -1e15, "maximum": 1e15},
        {"type": "boolean"},
        {"type": "null"},
    ]
}
