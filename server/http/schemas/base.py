"""The base of every request and response schema, and the translation of a schema violation
into the API's error shape ({"error", "code", "message", "params"}, 400, naming the field)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.http.errors import BadRequest
from server.http.schemas.types import NOT_BLANK

M = TypeVar("M", bound="Body")

# pydantic error type -> (code, problem) of the API (server/http/messages.py PROBLEMS)
_PROBLEMS: dict[str, tuple[str, str]] = {
    "missing": ("bad_field", "required"),
    "string_too_long": ("bad_field", "too_long"),
    "string_pattern_mismatch": ("bad_field", "required"),  # Text(required=True): blank
    "string_type": ("bad_field", "not_string"),
    "bool_type": ("bad_field", "not_bool"),
    "int_type": ("bad_field", "not_number"),
    "float_type": ("bad_field", "not_number"),
    "finite_number": ("bad_field", "not_number"),
    "list_type": ("bad_field", "not_list"),
    "too_long": ("bad_field", "too_long"),
    "literal_error": ("bad_field", "unknown"),
    "enum": ("bad_field", "unknown"),
    "extra_forbidden": ("bad_field", "unknown"),
    "datetime_type": ("bad_time", "not_time"),
    "datetime_parsing": ("bad_time", "not_time"),
    "timezone_aware": ("bad_time", "not_time"),
    "datetime_range": ("out_of_range", ""),
    "greater_than_equal": ("bad_field", ""),
    "less_than_equal": ("bad_field", ""),
    "dict_type": ("bad_field", ""),
    "model_type": ("bad_field", ""),
}


class Body(BaseModel):
    """A request body: unknown fields are ignored (a PATCH body forbids them: `extra =
    "forbid"`), text is never coerced from numbers, and a refused value names its field.
    `error_codes` gives a field its own error code (e.g. role -> bad_role)."""

    # The document lists every field the API reads (additionalProperties: false); a field it
    # does not know is ignored, not refused, so older and newer clients keep working.
    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False}
    )
    error_codes: ClassVar[dict[str, str]] = {}

    @classmethod
    def parse(cls: type[M], data: Any) -> M:
        """The body as this schema, or BadRequest naming the first field at fault."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise refusal(cls, exc) from None

    def given(self) -> set[str]:
        """The fields the client sent (a PATCH changes only those)."""
        return set(self.model_fields_set)


class Reply(BaseModel):
    """A response body: serialised with `reply.model_dump(mode="json")`."""

    model_config = ConfigDict(extra="allow")


def refusal(model: type[Body], exc: ValidationError) -> BadRequest:
    err = exc.errors(include_url=False)[0]
    field = _field(err["loc"]) or "body"
    kind = err["type"]
    code, problem = _PROBLEMS.get(kind, ("bad_field", ""))
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") != NOT_BLANK:
        problem = "unknown"
    code = model.error_codes.get(field.split(".")[0], code) if code == "bad_field" else code
    params: dict[str, object] = {"field": field}
    if problem:
        params["problem"] = problem
    ctx = err.get("ctx") or {}
    if kind in ("string_too_long", "too_long"):
        params["max"] = ctx.get("max_length", "")
    if kind == "missing":
        text = f"field {field!r} is required"
    elif kind == "extra_forbidden":
        text = f"unknown field(s): {field}"
    elif kind in ("string_too_long", "too_long"):
        text = f"field {field!r} is longer than {params['max']} characters"
    elif code == "bad_time":
        text = f"field {field!r} is not an RFC 3339 time with an offset: {err['msg']}"
    else:
        text = f"field {field!r}: {err['msg']}"
    return BadRequest(text, code=code, params=params)


_UNION_TAGS = {"str", "none", "int", "float", "bool", "list", "dict", "datetime", "is-instance"}


def _field(loc: tuple[int | str, ...]) -> str:
    """The field path of an error location without pydantic's union and validator tags."""
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif (
            "[" in p
            or p in _UNION_TAGS
            or p[:1].isupper()  # a model's name in a union (API fields are lower case)
            or p.startswith(("function-", "constrained-"))
        ):
            continue
        else:
            parts.append(("." if parts else "") + p)
    return "".join(parts)


class ErrorReply(BaseModel):
    """Every error: a stable machine code, an English diagnostic, a message for people in
    the caller's language, and the parameters of the message (e.g. the field at fault)."""

    model_config = ConfigDict(extra="allow", title="Error")

    error: str
    code: str
    message: str = Field(description="for people, per Accept-Language")
    params: dict[str, Any] | None = None


class Query(BaseModel):
    """The query parameters of a route (strings in the URL, read by their types); a refused
    value is a 400 with `error_code` (bad_query) naming the parameter."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    error_code: ClassVar[str] = "bad_query"
    error_codes: ClassVar[dict[str, str]] = {}

    @classmethod
    def parse(cls: type[Q], query: Any) -> Q:
        try:
            # an empty parameter (limit=) reads as absent
            return cls.model_validate({k: v for k, v in query.items() if v != ""})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            name = _field(err["loc"]) or "query"
            alias = cls.model_fields[name].alias if name in cls.model_fields else None
            name = alias or name
            code = cls.error_codes.get(name, cls.error_code)
            if err["type"] in ("datetime_parsing", "timezone_aware", "datetime_type"):
                code = "bad_time"
            raise BadRequest(
                f"query parameter {name!r}: {err['msg']}",
                code=code,
                params={"field": name},
            ) from None


Q = TypeVar("Q", bound=Query)
