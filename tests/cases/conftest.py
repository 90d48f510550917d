"""Fixtures for the case tests: officers and devices of agency A1, user ids, a small API helper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from helpers import app_db, bearer

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Lishui


def at(minutes: float = 0, base: datetime = T0) -> str:
    """An RFC 3339 time `minutes` after T0."""
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@dataclass
class World:
    client: Any
    tokens: dict[str, str]
    uid: dict[str, int]  # username -> user id
    officers: dict[str, int]  # officer code -> officer id

    async def call(
        self,
        method: str,
        url: str,
        role: str = "officer",
        body: Any = None,
        status: int | tuple[int, ...] = (200, 201),
    ) -> Any:
        r = await self.client.request(method, url, json=body, headers=bearer(self.tokens[role]))
        expected = status if isinstance(status, tuple) else (status,)
        text = await r.text()
        assert r.status in expected, f"{method} {url} as {role}: {r.status} {text}"
        return await r.json() if r.content_type == "application/json" else text

    async def case(self, role: str = "officer", **fields: Any) -> dict[str, Any]:
        body = {
            "number": f"C-{len(self.tokens)}-{id(fields)}",
            "title": "测试案件",
            "enforcement_type": "inspection",
            "procedure": "general",
            "opened_at": at(0),
            "officers": ["JZ001", "JZ002"],
            **fields,
        }
        return await self.call("POST", "/api/v1/cases", role, body, 201)

    async def approve(
        self, case_id: str, kind: str = "initiation", requester: str = "officer", **fields: Any
    ) -> dict[str, Any]:
        """Request an approval as `requester` (the handler) naming reviewer and legal, then let
        each decide in their own session: the approval is made at server time."""
        reviewer, approver = (
            ("legal", "reviewer")
            if kind == "legal_review"
            else (
                "reviewer",
                "legal",
            )
        )
        req = await self.call(
            "POST",
            f"/api/v1/cases/{case_id}/approvals",
            requester,
            {
                "kind": kind,
                "reviewer_id": self.uid[reviewer],
                "approver_id": self.uid[approver],
                **fields,
            },
            201,
        )
        assert req["status"] == "pending" and req["approved_at"] is None
        for who in (reviewer, approver):
            body = {"decision": "approve", "opinion": f"{who} 同意"}
            decided = await self.call("POST", f"/api/v1/approvals/{req['id']}/decision", who, body)
        assert decided["status"] == "approved" and decided["approved_at"]
        return decided

    def officer(self, code: str, shown: bool = True) -> dict[str, Any]:
        return {"officer": code, "shown": shown}


@pytest.fixture
async def world(client, users) -> World:  # type: ignore[no-untyped-def]
    from server.catalogue.models import Agency, Device, Officer, User

    def setup(s):  # type: ignore[no-untyped-def]
        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        a2 = s.scalar(select(Agency).where(Agency.code == "A2"))
        uid = {u.username: u.id for u in s.scalars(select(User))}
        rows = [
            Officer(
                agency_id=a1.id,
                code="JZ001",
                name="王明",
                certificate_no="33110001",
                user_id=uid["officer"],
            ),
            Officer(agency_id=a1.id, code="JZ002", name="李华", certificate_no="33110002"),
            Officer(
                agency_id=a2.id,
                code="JZ901",
                name="赵强",
                certificate_no="33229001",
                user_id=uid["officer2"],
            ),
        ]
        s.add_all(rows)
        s.flush()
        s.add(Device(agency_id=a1.id, serial="DSJ-A1-0001", officer_id=rows[0].id))
        s.add(Device(agency_id=a1.id, serial="DSJ-A1-0002", officer_id=rows[1].id))
        s.flush()
        return uid, {o.code: o.id for o in rows}

    uid, officers = await app_db(client).run(setup)
    return World(client=client, tokens=users, uid=uid, officers=officers)
