"""Canonical JSON: one byte string per value, so a value hashes the same everywhere."""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping
from typing import Any


def _normalise(value: Any, path: str) -> Any:
    # Walk the value ourselves rather than trusting json's defaults: we must NFC-normalise
    # every string (keys too), refuse non-finite floats and refuse keys that are not strings
    # (json would silently turn 1 into "1", so two different inputs would share one hash).
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: non-finite float {value!r} has no canonical JSON form")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object key {key!r} is not a string")
            nkey = unicodedata.normalize("NFC", key)
            if nkey in out:
                raise ValueError(f"{path}: keys collide after NFC normalisation: {nkey!r}")
            out[nkey] = _normalise(item, f"{path}.{nkey}")
        return out
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} has no canonical JSON form")


def canonical_json(obj: Any) -> bytes:
    """Encode a JSON-able value as canonical UTF-8 JSON bytes (sorted keys, no spaces, NFC)."""
    return json.dumps(
        _normalise(obj, "$"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def canonical_hash(obj: Any) -> str:
    """The SHA-256 hex digest of canonical_json(obj)."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def loads(data: bytes) -> Any:
    """Parse JSON bytes, refusing NaN/Infinity and duplicate keys that canonical form forbids."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"non-finite number {name} in JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key in JSON object: {key!r}")
            out[key] = value
        return out

    return json.loads(
        data.decode("utf-8"), parse_constant=no_constants, object_pairs_hook=no_duplicates
    )


def is_canonical(data: bytes) -> bool:
    """True when data is exactly the canonical encoding of the value it parses to."""
    try:
        return canonical_json(loads(data)) == data
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
