"""The one JSON reader of request bodies, and the bounds every number and date of a request
keeps: nesting depth, safe integers, finite floats, years the server can compute with (400 for
each, never a 500 deep inside). Pure: no aiohttp, so schemas and domain code may import it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from server.http.errors import BadRequest

MAX_JSON_DEPTH = 64
MAX_SAFE_INT = 2**53 - 1  # what every JSON reader (and every catalogue column) holds exactly
MIN_YEAR, MAX_YEAR = 1000, 9000
_INTEGER = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"(\d{4,})-\d{2}-\d{2}(?:$|[T t])")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
# Identifiers of these lengths are hex (evidence, case ids; hashes), never numbers.
_HEX_ID_LENGTHS = (32, 40, 64)


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` before the parser recurses into it."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                raise BadRequest(f"JSON nested deeper than {limit} levels", code="too_deep")
        else:
            depth -= 1


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INT:
        raise BadRequest(
            f"number {text[:24]}{'…' if len(text) > 24 else ''} is out of range "
            f"(at most {MAX_SAFE_INT})",
            code="out_of_range",
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")) or abs(value) > 1e15:
        raise BadRequest(f"number {text[:24]} is out of range", code="out_of_range")
    return value


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON number", code="bad_json")


def check_date_text(value: str, where: str) -> None:
    """A string that starts like an ISO date must have a year the server can compute with."""
    m = _DATE.match(value)
    if m and not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
        raise BadRequest(
            f"{where}: year {m.group(1)} is out of range ({MIN_YEAR}-{MAX_YEAR})",
            code="out_of_range",
        )


def _check_strings(value: Any, path: str = "body") -> None:
    if isinstance(value, str):
        check_date_text(value, path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(v, f"{path}.{k}" if len(path) < 200 else path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_strings(v, f"{path}[{i}]" if len(path) < 200 else path)


def loads(text: str) -> Any:
    """json.loads with bounded depth, integers, floats and dates (400 for each, not 500)."""
    check_depth(text)
    value = json.loads(
        text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant
    )
    _check_strings(value)
    return value


def check_url_values(path: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]]) -> None:
    """Path and query values that are integers or dates must be in range. A query integer
    must be a safe JSON integer; a path segment of digits only past what a 64-bit column holds
    (a case number of 17 digits is still a case number)."""
    values = [(f"path parameter {k!r}", v, 18) for k, v in path]
    values += [(f"query parameter {k!r}", v, 16) for k, v in query]
    for where, v, digits in values:
        if len(v) in _HEX_ID_LENGTHS:
            continue
        if _INTEGER.fullmatch(v) and len(v.lstrip("+-")) > digits:
            raise BadRequest(
                f"{where} is out of range (at most {digits} digits)", code="out_of_range"
            )
        check_date_text(v, where)
