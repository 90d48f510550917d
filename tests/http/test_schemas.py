"""The schema layer: one family of validators, the error shape naming the field, and an OpenAPI
document generated from the same models with every route's 4xx."""

from __future__ import annotations

import json

import pytest

from helpers import bearer
from server.http.errors import BadRequest
from server.http.schemas.annotations import NewBookmark, NewClip
from server.http.schemas.cases import NewRecord
from server.http.schemas.people import NewUser, UserChange
from server.http.schemas.registry import Heartbeat
from server.http.schemas.types import Text


def refused(model, data):  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest) as e:
        model.parse(data)
    return e.value


def test_text_is_stripped_bounded_and_required() -> None:
    from pydantic import TypeAdapter

    loose, required = TypeAdapter(Text(5)), TypeAdapter(Text(5, required=True))
    assert loose.validate_python("  ab  ") == "ab" and loose.validate_python(None) == ""
    assert required.validate_python(" abcde ") == "abcde"  # the limit counts after stripping
    e = refused(NewClip, {"evidence_id": "x", "in_s": 1, "out_s": 2, "name": "   "})
    assert (e.code, e.params) == ("bad_field", {"field": "name", "problem": "required"})
    e = refused(NewBookmark, {"time_s": 1, "note": "x" * 2001})
    assert e.params == {"field": "note", "problem": "too_long", "max": 2000}
    assert "'note'" in e.message


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({}, "time_s", "required"),
        ({"time_s": True}, "time_s", "not_number"),
        ({"time_s": "5"}, "time_s", "not_number"),
        ({"time_s": -1}, "time_s", None),
        ({"time_s": 1, "note": 5}, "note", "not_string"),
    ],
)
def test_numbers_are_numbers(data, field, problem) -> None:  # type: ignore[no-untyped-def]
    e = refused(NewBookmark, data)
    assert e.status == 400 and e.code == "bad_field" and e.params["field"] == field
    assert e.params.get("problem") == problem


def test_times_are_rfc3339_with_an_offset() -> None:
    ok = NewRecord.parse({"doc_type": "x", "time": "2026-03-01T08:00:00+08:00"})
    assert ok.time.isoformat() == "2026-03-01T00:00:00+00:00"
    for bad in ("2026-03-01T08:00:00", "yesterday", 5):
        e = refused(NewRecord, {"doc_type": "x", "time": bad})
        assert e.code == "bad_time" and e.params["field"] == "time", bad


def test_nested_fields_are_named_with_their_path() -> None:
    e = refused(
        NewRecord,
        {
            "doc_type": "x",
            "time": "2026-03-01T08:00:00Z",
            "officers": [{"name": "a"}, {"name": "b", "shown": "yes"}],
        },
    )
    assert e.params["field"].startswith("officers[1]")


def test_own_codes_and_patch_bodies() -> None:
    assert (
        refused(NewUser, {"username": "u", "password": "x" * 12, "role": "emperor"}).code
        == "bad_role"
    )
    e = refused(UserChange, {"colour": "red"})
    assert e.code == "bad_field" and e.params == {"field": "colour", "problem": "unknown"}
    assert UserChange.parse({"agency": None}).given() == {"agency"}


def test_json_integers_only() -> None:
    assert (
        Heartbeat.parse(
            {"station_id": "S1", "files_waiting": 2.0, "bytes_waiting": 0}
        ).files_waiting
        == 2
    )
    for bad in (2.5, True, "2", -1):
        e = refused(Heartbeat, {"station_id": "S1", "files_waiting": bad, "bytes_waiting": 0})
        assert e.params["field"] == "files_waiting", bad


def test_text_field_of_domain_modules_is_the_same_type() -> None:
    from server.fields import text_field

    assert text_field({"a": "  x "}, "a", 3) == "x" and text_field({}, "a", 3) == ""
    with pytest.raises(BadRequest) as e:
        text_field({"a": "   "}, "a", 3, required=True)
    assert e.value.params == {"field": "a", "problem": "required"}


async def test_openapi_is_generated_from_the_schemas(client) -> None:  # type: ignore[no-untyped-def]
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    assert {"Error", "NewCase", "NewRecord", "NewBookmark", "Login", "UserReply"} <= set(schemas)
    text = json.dumps(doc)
    assert '"ge":' not in text and '"le":' not in text  # constraints in JSON Schema words
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if "requestBody" in op:
                assert {"400", "413"} <= codes, (method, path)
                assert "$ref" in op["requestBody"]["content"]["application/json"][
                    "schema"
                ] or path.startswith("/api/v1/uploads"), (method, path)
            if "{" in path:
                assert {"400", "404"} <= codes, (method, path)
            if "security" in op:
                assert {"401", "403"} <= codes, (method, path)
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    assert (
                        response["content"]["application/json"]["schema"]
                        == {"$ref": "#/components/schemas/Error"}
                        or code == "409"
                    ), (method, path)
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert login["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginReply"
    }


async def test_a_refused_body_names_its_field_in_both_languages(client, users) -> None:  # type: ignore[no-untyped-def]
    for lang, word in (("en", "time_s"), ("zh-CN", "“")):
        r = await client.post(
            "/api/v1/evidence/x/bookmarks",
            json={"time_s": "soon"},
            headers={**bearer(users["reviewer"]), "Accept-Language": lang},
        )
        body = await r.json()
        assert r.status == 400 and body["code"] == "bad_field", body
        assert body["params"] == {"field": "time_s", "problem": "not_number"}
        assert word in body["message"] and set(body) == {"error", "code", "message", "params"}
    r = await client.get("/api/v1/ledger?limit=ten", headers=bearer(users["auditor"]))
    body = await r.json()
    assert r.status == 400 and body["code"] == "bad_query" and body["params"] == {"field": "limit"}
