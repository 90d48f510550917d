"""Retention classes follow links and holds; disposal after retention takes two people."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helpers import add_evidence, app_db, app_store, bearer


def _old(world, tmp_path, name: str, days: int = 400) -> str:  # type: ignore[no-untyped-def]
    """An A1 item received `days` ago (as ingest sets it: ordinary class, received + 183 days)."""
    from server.catalogue.models import EvidenceItem

    p = tmp_path / name
    p.write_bytes(name.encode() * 10)
    db = app_db(world.client)
    item_id = add_evidence(db, app_store(world.client), p)

    def age(s):  # type: ignore[no-untyped-def]
        it = s.get(EvidenceItem, item_id)
        it.received_at = datetime.now(UTC) - timedelta(days=days)
        it.retention_until = it.received_at + timedelta(days=183)

    db.call(age)
    return item_id


def _actions(world, item_id: str) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    from server.catalogue.models import LedgerRow

    rows = app_db(world.client).call(
        lambda s: list(
            s.scalars(
                select(LedgerRow)
                .where(LedgerRow.subject == f"evidence:{item_id}")
                .order_by(LedgerRow.seq)
            )
        )
    )
    return [(r.action, json.loads(r.details)) for r in rows]


async def test_class_follows_links_and_holds(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = _old(world, tmp_path, "recent.mp4", days=10)
    ret = await world.call("GET", f"/api/v1/evidence/{item}/retention")
    assert ret["class"] == "ordinary" and ret["until"] and not ret["permanent"]
    c = await world.case(number="RT-1")
    link = await world.call(
        "POST",
        f"/api/v1/cases/{c['id']}/links",
        body={"evidence_id": item, "stage": "investigation"},
    )
    ret = await world.call("GET", f"/api/v1/evidence/{item}/retention")
    assert ret["class"] == "case" and ret["until"] is None and ret["permanent"]
    assert ret["links"][0]["case_number"] == "RT-1"
    await world.call("DELETE", f"/api/v1/cases/{c['id']}/links/{link['id']}")
    ret = await world.call("GET", f"/api/v1/evidence/{item}/retention")
    assert ret["class"] == "ordinary"
    await world.call(
        "POST", f"/api/v1/evidence/{item}/legal-hold", "officer", {"hold": True}, status=403
    )
    held = await world.call(
        "POST",
        f"/api/v1/evidence/{item}/legal-hold",
        "reviewer",
        {"hold": True, "reason": "行政复议"},
    )
    assert held["class"] == "legal_hold" and held["legal_holds"][0]["reason"] == "行政复议"
    released = await world.call(
        "POST",
        f"/api/v1/evidence/{item}/legal-hold",
        "legal",
        {"hold": False, "reason": "复议结束"},
    )
    assert released["class"] == "ordinary" and released["legal_holds"] == []
    changes = [d["to_class"] for a, d in _actions(world, item) if a == "retention_change"]
    assert changes == ["case", "ordinary", "legal_hold", "ordinary"]


async def test_case_retention_days_setting(make_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.models import Agency, Case, CaseLink, EvidenceItem
    from server.custody.retention import apply_class

    client = await make_client(retention_case_days=3650)
    db, settings = (
        app_db(client),
        client.server.app[__import__("server.http.appkeys", fromlist=["x"]).SETTINGS],
    )
    p = tmp_path / "x.mp4"
    p.write_bytes(b"x" * 100)
    from server.people.accounts import add_agency

    db.call(lambda s: add_agency(s, "A1", "a"))
    item_id = add_evidence(db, app_store(client), p)

    def link(s):  # type: ignore[no-untyped-def]
        a1 = s.scalar(select(Agency))
        case = Case(
            agency_id=a1.id, number="K", title="t", enforcement_type="penalty", procedure="general"
        )
        s.add(case)
        s.flush()
        s.add(CaseLink(case_id=case.id, item_id=item_id, stage="investigation"))
        s.flush()
        item = s.get(EvidenceItem, item_id)
        apply_class(s, item, settings, None, who=None, reason="test")
        return item.retention_class, item.retention_until

    cls, until = db.call(link)
    assert cls == "case" and until > datetime.now(UTC) + timedelta(days=3640)


async def test_disposal_needs_expiry_and_a_second_person(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = _old(world, tmp_path, "fresh.mp4", days=30)
    r = await world.client.post(
        f"/api/v1/evidence/{fresh}/disposal-requests",
        json={"reason": "到期"},
        headers=bearer(world.tokens["reviewer"]),
    )
    assert r.status == 409 and (await r.json())["code"] == "inside_retention"

    old = _old(world, tmp_path, "old.mp4")
    linked = _old(world, tmp_path, "linked.mp4")
    c = await world.case(number="DS-1")
    await world.call("POST", f"/api/v1/cases/{c['id']}/links", body={"evidence_id": linked})
    await world.call(
        "POST",
        f"/api/v1/evidence/{linked}/disposal-requests",
        "reviewer",
        {"reason": "x"},
        status=409,
    )

    req = await world.call(
        "POST",
        f"/api/v1/evidence/{old}/disposal-requests",
        "reviewer",
        {"reason": "超过保存期限"},
        status=201,
    )
    assert req["state"] == "pending"
    await world.call("POST", f"/api/v1/evidence/{old}/disposal-requests", "legal", {}, status=409)
    pending = await world.call("GET", "/api/v1/disposal-requests?state=pending", "legal")
    assert [p["id"] for p in pending["items"]] == [req["id"]]
    other = await world.call("GET", "/api/v1/disposal-requests", "reviewer2")
    assert other["items"] == []
    r = await world.client.post(
        f"/api/v1/disposal-requests/{req['id']}/approve",
        json={},
        headers=bearer(world.tokens["reviewer"]),
    )
    assert r.status == 409 and (await r.json())["code"] == "same_person"
    await world.call(
        "POST", f"/api/v1/disposal-requests/{req['id']}/approve", "reviewer2", {}, status=404
    )
    done = await world.call(
        "POST", f"/api/v1/disposal-requests/{req['id']}/approve", "legal", {"note": "同意销毁"}
    )
    assert done["state"] == "approved" and done["decided_by"] == world.uid["legal"]
    ret = await world.call("GET", f"/api/v1/evidence/{old}/retention")
    assert ret["class"] == "disposed"
    acts = [a for a, _ in _actions(world, old)]
    assert acts[-2:] == ["disposal_request", "disposal_approval"]
    await world.call(
        "POST", f"/api/v1/disposal-requests/{req['id']}/approve", "admin", {}, status=409
    )


@pytest.mark.s3
async def test_s3_object_lock_follows_the_class(make_client, s3_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import PASSWORD
    from server.people.accounts import add_agency, add_user

    client = await make_client(s3_settings())
    db, store = app_db(client), app_store(client)
    db.call(lambda s: (add_agency(s, "A1", "a"), add_user(s, "rev", PASSWORD, "reviewer", "A1")))
    p = tmp_path / "s3.mp4"
    p.write_bytes(b"s3 footage" * 100)
    item = add_evidence(db, store, p)
    sha = db.call(
        lambda s: (
            s.get(__import__("server.catalogue.models", fromlist=["x"]).EvidenceItem, item).sha256
        )
    )
    token = (
        await (
            await client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD})
        ).json()
    )["token"]
    h = bearer(token)

    def hold_status() -> str | None:
        return store.client.head_object(Bucket=store.bucket, Key=store.key(sha)).get(
            "ObjectLockLegalHoldStatus"
        )

    r = await client.post(
        "/api/v1/cases",
        json={
            "number": "S3-1",
            "title": "t",
            "enforcement_type": "penalty",
            "procedure": "general",
        },
        headers=h,
    )
    case = await r.json()
    r = await client.post(
        f"/api/v1/cases/{case['id']}/links", json={"evidence_id": item}, headers=h
    )
    link = await r.json()
    assert r.status == 201 and hold_status() == "ON"
    r = await client.delete(f"/api/v1/cases/{case['id']}/links/{link['id']}", headers=h)
    assert r.status == 200 and hold_status() == "OFF"
    lock = store.retention(sha)["until"]
    assert lock is not None and lock > datetime.now(UTC) + timedelta(days=170)
