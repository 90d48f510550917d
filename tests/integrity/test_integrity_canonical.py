"""Canonical JSON is deterministic, NFC-normalised and refuses ambiguous values."""

from __future__ import annotations

import hashlib
import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrity.canonical import canonical_hash, canonical_json, is_canonical, loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )


def test_key_order_does_not_matter() -> None:
    assert canonical_json({"x": 1, "y": {"b": 2, "a": 3}}) == canonical_json(
        {"y": {"a": 3, "b": 2}, "x": 1}
    )


def test_nfc_normalisation_of_values_and_keys() -> None:
    decomposed = unicodedata.normalize("NFD", "Café Ångström")
    composed = unicodedata.normalize("NFC", "Café Ångström")
    assert decomposed != composed
    assert canonical_json({decomposed: decomposed}) == canonical_json({composed: composed})
    assert canonical_hash([decomposed]) == hashlib.sha256(f'["{composed}"]'.encode()).hexdigest()


def test_refuses_non_finite_floats_and_ambiguous_keys() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            canonical_json({"x": bad})
    with pytest.raises(TypeError):
        canonical_json({1: "one"})
    with pytest.raises(ValueError):
        canonical_json({"é": 1, unicodedata.normalize("NFD", "é"): 2})
    with pytest.raises(TypeError):
        canonical_json({"x": b"bytes"})


@given(json_values)
def test_deterministic_and_round_trips(value) -> None:
    data = canonical_json(value)
    assert canonical_json(value) == data
    assert is_canonical(data)
    assert canonical_json(loads(data)) == data


def test_is_canonical_rejects_whitespace_and_duplicates() -> None:
    assert not is_canonical(b'{"a": 1}')
    assert not is_canonical(b'{"b":1,"a":2}')
    assert not is_canonical(b'{"a":1,"a":1}')
    assert not is_canonical(b'{"a":NaN}')
    assert is_canonical(b'{"a":1,"b":2}')
