"""Issue 12, holes 2, 4, 5, 6 and disposed items, reproduced against the real app (real
catalogue on SQLite and PostgreSQL where it matters, real local store): every look at footage
or a case is ledgered, agencies are sealed from each other, disposed items are not served."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helpers import PASSWORD, app_db, app_store, bearer
from server.catalogue.models import (
    Agency,
    Case,
    CaseLink,
    EvidenceDelivery,
    EvidenceItem,
    LedgerRow,
    Rendition,
    StoredObject,
    ViewSession,
)
from server.http.appkeys import ACCESS_LEDGER

TUS = {"Tus-Resumable": "1.0.0"}
RENDITIONS = (
    "hls/index.m3u8",
    "hls/seg-00000.m4s",
    "hls/seg-00001.m4s",
    "trickplay/thumbnails.vtt",
    "trickplay/sprite-000.jpg",
    "waveform.json",
)
USERS = {  # name: (role, agency)
    "station": ("station", "A1"),
    "officer": ("officer", "A1"),
    "reviewer": ("reviewer", "A1"),
    "legal": ("legal", "A1"),
    "station2": ("station", "A2"),
    "officer2": ("officer", "A2"),
    "reviewer2": ("reviewer", "A2"),
    "supervisor": ("supervisor", None),
    "supervisor2": ("supervisor", "A2"),
    "auditor": ("auditor", None),
    "admin": ("admin", None),
}


@dataclass
class Env:
    client: Any
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])

    async def get(self, url: str, who: str, **headers: str) -> Any:
        return await self.client.get(url, headers={**self.h(who), **headers})

    def db(self) -> Any:
        return app_db(self.client)

    def ledger(self, action: str | None = None, subject: str | None = None) -> list[LedgerRow]:
        def q(s):  # type: ignore[no-untyped-def]
            sel = select(LedgerRow).order_by(LedgerRow.seq)
            if action:
                sel = sel.where(LedgerRow.action == action)
            if subject:
                sel = sel.where(LedgerRow.subject == subject)
            return list(s.scalars(sel))

        return self.db().call(q)


async def _env(make_client, **settings: Any) -> Env:  # type: ignore[no-untyped-def]
    from server.people.accounts import add_agency, add_user

    settings.setdefault("worker_in_server", False)  # no media jobs on these random bytes
    client = await make_client(**settings)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "Agency one")
        add_agency(s, "A2", "Agency two")
        for name, (role, agency) in USERS.items():
            add_user(s, name, PASSWORD, role, agency)

    await app_db(client).run(setup)
    tokens = {}
    for name in USERS:
        r = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, await r.text()
        tokens[name] = (await r.json())["token"]
    return Env(client, tokens)


@pytest.fixture
async def env(make_client) -> Env:  # type: ignore[no-untyped-def]
    return await _env(make_client)


@pytest.fixture
async def env_both(database_url, make_client) -> Env:  # type: ignore[no-untyped-def]
    """The same, once on SQLite and once on PostgreSQL."""
    return await _env(make_client, database_url=database_url)


async def _item(env: Env, agency: str = "A1", data: bytes | None = None) -> str:
    """An item of an agency with real bytes in the store and playback renditions."""
    data = data or os.urandom(20_000)
    key = hashlib.sha256(data).hexdigest()
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    app_store(env.client).put_file(Path(f.name), key)

    def add(s):  # type: ignore[no-untyped-def]
        a = s.scalar(select(Agency).where(Agency.code == agency))
        if s.get(StoredObject, key) is None:
            s.add(StoredObject(sha256=key, size=len(data), role="original"))
            s.flush()
        it = EvidenceItem(
            sha256=key,
            size=len(data),
            kind="video",
            original_filename="clip.mp4",
            agency_id=a.id,
            retention_until=datetime.now(UTC) + timedelta(days=200),
        )
        s.add(it)
        s.flush()
        for name in RENDITIONS:
            s.add(
                Rendition(
                    item_id=it.id,
                    name=name,
                    role="rendition",
                    sha256=key,
                    size=len(data),
                    content_type="application/octet-stream",
                )
            )
        return it.id

    return str(await env.db().run(add))


async def _case(env: Env, agency: str = "A1", number: str = "C-1") -> str:
    def add(s):  # type: ignore[no-untyped-def]
        a = s.scalar(select(Agency).where(Agency.code == agency))
        c = Case(
            agency_id=a.id,
            number=number,
            title=f"{agency} 秘密案件",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add(c)
        s.flush()
        return c.id

    return str(await env.db().run(add))


def _meta(**meta: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())


async def _upload(env: Env, who: str, data: bytes, **meta: str) -> Any:
    """A whole tus upload; returns the last PATCH response (or the failed creation)."""
    meta.setdefault("filename", "clip.mp4")
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    r = await env.client.post(
        "/api/v1/uploads/",
        headers={
            **TUS,
            **env.h(who),
            "Upload-Length": str(len(data)),
            "Upload-Metadata": _meta(**meta),
        },
    )
    if r.status != 201:
        return r
    return await env.client.patch(
        r.headers["Location"],
        data=data,
        headers={
            **TUS,
            **env.h(who),
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )


# -- hole 2: copying footage leaves a trace ---------------------------------------------------
async def test_original_downloads_are_ledgered(env_both: Env) -> None:
    env = env_both
    item = await _item(env)
    url = f"/api/v1/evidence/{item}/original"
    subject = f"evidence:{item}"
    assert env.ledger("view", subject) == []
    # Full GET: one entry per request.
    for _ in range(2):
        r = await env.get(url, "reviewer")
        assert r.status == 200 and len(await r.read()) == 20_000
    views = env.ledger("view", subject)
    assert len(views) == 2
    d = json.loads(views[0].details)
    assert d["what"] == "original" and d["method"] == "GET" and d["sha256"] and "address" in d
    assert views[0].actor.startswith("user:") and views[0].actor.endswith(":reviewer")
    # HEAD: one per request too (a supervisor of every agency leaves a trace as well).
    r = await env.client.head(url, headers=env.h("supervisor"))
    assert r.status == 200
    assert len(env.ledger("view", subject)) == 3
    # Ranged reads: one entry per range session of a user on an item.
    for rng in ("bytes=0-99", "bytes=100-199", "bytes=-10", "bytes=0-"):
        r = await env.get(url, "officer", Range=rng)
        assert r.status == 206
    views = env.ledger("view", subject)
    assert len(views) == 4
    assert json.loads(views[-1].details)["session"] == "original_range"
    # The session is kept in the catalogue: another server process (here: this one with its
    # cache forgotten) rides on it instead of writing again.
    env.client.server.app[ACCESS_LEDGER]._sessions.clear()
    assert (await env.get(url, "officer", Range="bytes=5-6")).status == 206
    assert len(env.ledger("view", subject)) == 4
    # An unsatisfiable range reveals nothing and is not a view.
    assert (await env.get(url, "officer", Range="bytes=999999-")).status == 416
    assert len(env.ledger("view", subject)) == 4
    # Another user's ranged read is another session.
    assert (await env.get(url, "legal", Range="bytes=0-9")).status == 206
    assert len(env.ledger("view", subject)) == 5


async def test_segments_fetched_without_the_playlist_are_a_playback(env_both: Env) -> None:
    env = env_both
    item = await _item(env)
    base = f"/api/v1/evidence/{item}"
    subject = f"evidence:{item}"
    # The playlist skipped: segments, sprites and the waveform fetched directly.
    for name in (
        "hls/seg-00000.m4s",
        "hls/seg-00001.m4s",
        "sprite-000.jpg",
        "waveform.json",
        "thumbnails.vtt",
    ):
        assert (await env.get(f"{base}/{name}", "officer")).status == 200, name
    views = env.ledger("view", subject)
    assert len(views) == 1  # one playback session
    d = json.loads(views[0].details)
    assert (
        d["what"] == "playback"
        and d["session"] == "playback"
        and d["rendition"] == "hls/seg-00000.m4s"
    )
    # Parallel fetches of a new user start one session, not one each.
    results = await asyncio.gather(
        *(env.get(f"{base}/hls/seg-0000{i % 2}.m4s", "reviewer") for i in range(8))
    )
    assert all(r.status == 200 for r in results)
    assert len(env.ledger("view", subject)) == 2
    # Fetching the playlist starts a playback: one entry each time.
    assert (await env.get(f"{base}/hls/index.m3u8", "officer")).status == 200
    assert (await env.get(f"{base}/hls/seg-00001.m4s", "officer")).status == 200
    views = env.ledger("view", subject)
    assert len(views) == 3 and json.loads(views[-1].details)["rendition"] == "hls/index.m3u8"

    # After the session window a segment fetch is a new entry.
    def expire(s):  # type: ignore[no-untyped-def]
        for vs in s.scalars(select(ViewSession)):
            vs.expires_at = datetime.now(UTC) - timedelta(seconds=1)

    await env.db().run(expire)
    env.client.server.app[ACCESS_LEDGER]._sessions.clear()
    assert (await env.get(f"{base}/hls/seg-00000.m4s", "officer")).status == 200
    assert len(env.ledger("view", subject)) == 4


async def test_case_opened_is_ledgered(env: Env) -> None:
    case = await _case(env)
    assert env.ledger("view", f"case:{case}") == []
    for ref in (case, "C-1"):
        r = await env.get(f"/api/v1/cases/{ref}", "officer")
        assert r.status == 200
    views = env.ledger("view", f"case:{case}")
    assert len(views) == 2 and json.loads(views[0].details)["what"] == "case"


async def test_denials_are_ledgered_rate_limited_with_a_count(database_url, make_client) -> None:  # type: ignore[no-untyped-def]
    env = await _env(
        make_client,
        database_url=database_url,
        denial_ledger_limit=3,
        denial_ledger_window_seconds=2,
    )
    item = await _item(env)  # of A1
    officer2 = env.tokens["officer2"]
    me = f"user:{_uid(env, 'officer2')}"
    # A missing item is no denial; another agency's item is (404 all the same).
    assert (await env.get("/api/v1/evidence/" + "f" * 32, "officer2")).status == 404
    assert env.ledger("access_denied") == []
    for _ in range(10):  # a flood of other agencies' originals and forbidden routes
        assert (
            await env.client.get(f"/api/v1/evidence/{item}/original", headers=bearer(officer2))
        ).status == 404
        assert (await env.client.get("/api/v1/users", headers=bearer(officer2))).status == 403
    denials = env.ledger("access_denied", me)
    assert len(denials) == 3  # the limit, not 20
    first = json.loads(denials[0].details)
    assert first["status"] == 404 and first["path"] == f"/api/v1/evidence/{item}/original"
    assert json.loads(denials[1].details)["status"] == 403
    # Nothing of the flood reached the view ledger, and no bytes were served.
    assert env.ledger("view") == []
    await asyncio.sleep(2.2)
    assert (await env.client.get("/api/v1/users", headers=bearer(officer2))).status == 403
    denials = env.ledger("access_denied", me)
    assert len(denials) == 4 and json.loads(denials[-1].details)["suppressed_before"] == 17
    # A second server process has its own counter, but the catalogue bounds them together.
    ledger = env.client.server.app[ACCESS_LEDGER]
    ledger._denials.clear()
    for _ in range(5):
        await env.client.get("/api/v1/users", headers=bearer(officer2))
    assert len(env.ledger("access_denied", me)) == 6  # 3 per window in all
    assert ledger.suppressed[_uid(env, "officer2")] == 3
    metrics = await (await env.get("/metrics", "admin")).text()
    assert "custodian_access_denials_suppressed_total 20.0" in metrics
    # When the server stops, the counts not yet ledgered become one last entry per user.
    from server.catalogue.db import Database
    from server.http import appkeys as keys

    settings = env.client.server.app[keys.SETTINGS]
    await env.client.close()
    db = Database(settings)
    try:
        last = db.call(
            lambda s: s.scalars(
                select(LedgerRow).where(LedgerRow.subject == me).order_by(LedgerRow.seq.desc())
            ).first()
        )
        assert last.action == "access_denied"
        assert json.loads(last.details)["suppressed_before"] == 3
        assert json.loads(last.details)["flush"] is True
    finally:
        db.close()


def _uid(env: Env, name: str) -> int:
    from server.catalogue.models import User

    return int(env.db().call(lambda s: s.scalar(select(User.id).where(User.username == name))))


# -- hole 4: an upload of an account without an agency belongs to an agency ------------------
async def test_agencyless_upload_must_name_its_agency(env: Env) -> None:
    data = os.urandom(5000)
    r = await _upload(env, "admin", data)
    assert r.status == 400 and (await r.json())["code"] == "agency_required"
    r = await _upload(env, "admin", data, agency="NOPE")
    assert r.status == 400 and (await r.json())["code"] == "unknown_agency"
    r = await _upload(env, "station", data, agency="A2")  # a station of A1 cannot claim A2
    assert r.status == 400 and (await r.json())["code"] == "wrong_agency"
    r = await _upload(env, "admin", data, agency="A1")
    assert r.status == 204, await r.text()
    item = r.headers["Custodian-Evidence-Id"]
    assert env.db().call(lambda s: s.get(EvidenceItem, item).agency_id) is not None
    # The other agency's reviewer can neither open, download, link, bookmark nor hold it.
    case2 = await _case(env, "A2", "A2-1")
    for url in (
        f"/api/v1/evidence/{item}",
        f"/api/v1/evidence/{item}/original",
        f"/api/v1/evidence/{item}/bookmarks",
        f"/api/v1/evidence/{item}/retention",
    ):
        assert (await env.get(url, "reviewer2")).status == 404, url
    for url, body in (
        (f"/api/v1/cases/{case2}/links", {"evidence_id": item, "stage": "investigation"}),
        (f"/api/v1/evidence/{item}/bookmarks", {"time_s": 1, "note": "x"}),
        (f"/api/v1/evidence/{item}/legal-hold", {"hold": True, "reason": "x"}),
        (
            f"/api/v1/cases/{case2}/basket",
            {"evidence_id": item, "in_s": 0, "out_s": 1, "name": "x"},
        ),
    ):
        r = await env.client.post(url, json=body, headers=env.h("reviewer2"))
        assert r.status == 404, (url, r.status, await r.text())
    # Its own agency can.
    assert (await env.get(f"/api/v1/evidence/{item}", "reviewer")).status == 200


# -- hole 5: another agency's duplicate gets its own item --------------------------------------
async def test_same_bytes_from_two_agencies_are_two_items(env_both: Env) -> None:
    env = env_both
    data = os.urandom(40_000)
    a = await _upload(
        env,
        "station",
        data,
        filename="A1_cam.mp4",
        device_id="DSJ-A1",
        officer_id="A1-007",
        station_id="ST-A1",
    )
    assert a.status == 204, await a.text()
    b = await _upload(
        env,
        "station2",
        data,
        filename="A2_cam.mp4",
        device_id="DSJ-B2",
        officer_id="B2-009",
        station_id="ST-B2",
    )
    assert b.status == 204, await b.text()
    a_id, b_id = a.headers["Custodian-Evidence-Id"], b.headers["Custodian-Evidence-Id"]
    assert a_id != b_id  # never another agency's id
    assert b.headers["Custodian-Duplicate"] == "false"  # nothing tells B that A holds the hash
    # One stored object, two items, each with its own dock metadata.
    assert len(env.db().call(lambda s: list(s.scalars(select(StoredObject))))) == 1
    mine = await (await env.get(f"/api/v1/evidence/{b_id}", "officer2")).json()
    assert (
        mine["agency_id"]
        != (await (await env.get(f"/api/v1/evidence/{a_id}", "officer")).json())["agency_id"]
    )
    assert (mine["original_filename"], mine["device_id"], mine["officer_id"]) == (
        "A2_cam.mp4",
        "DSJ-B2",
        "B2-009",
    )
    assert [d["filename"] for d in mine["deliveries"]] == ["A2_cam.mp4"]
    assert (await env.get(f"/api/v1/evidence/{a_id}", "officer2")).status == 404
    listed = await (
        await env.get(f"/api/v1/evidence?sha256={hashlib.sha256(data).hexdigest()}", "officer2")
    ).json()
    assert [i["id"] for i in listed["items"]] == [b_id]
    # B's bytes are served to B.
    r = await env.get(f"/api/v1/evidence/{b_id}/original", "officer2")
    assert r.status == 200 and await r.read() == data
    # The ledger notes the shared object on B's ingest.
    ingest_b = env.ledger("ingest", f"evidence:{b_id}")
    assert len(ingest_b) == 1 and json.loads(ingest_b[0].details)["shared_object"] is True
    assert "shared_object" not in json.loads(env.ledger("ingest", f"evidence:{a_id}")[0].details)
    # The same agency delivering the bytes again under another name and device: same item, and
    # that delivery's dock metadata is kept.
    again = await _upload(
        env, "station2", data, filename="A2_cam_copy.mp4", device_id="DSJ-B3", officer_id="B2-010"
    )
    assert again.status == 204
    assert again.headers["Custodian-Evidence-Id"] == b_id
    assert again.headers["Custodian-Duplicate"] == "true"
    mine = await (await env.get(f"/api/v1/evidence/{b_id}", "officer2")).json()
    assert [
        (d["filename"], d["device_id"], d["officer_id"], d["first"]) for d in mine["deliveries"]
    ] == [("A2_cam.mp4", "DSJ-B2", "B2-009", True), ("A2_cam_copy.mp4", "DSJ-B3", "B2-010", False)]
    assert len(env.db().call(lambda s: list(s.scalars(select(EvidenceDelivery))))) == 3


# -- hole 6: other agencies' objects answer 404 ------------------------------------------------
async def test_other_agencies_objects_are_404_everywhere(env: Env) -> None:
    item = await _item(env)
    case = await _case(env)

    def link(s):  # type: ignore[no-untyped-def]
        s.add(CaseLink(case_id=case, item_id=item, stage="investigation"))

    await env.db().run(link)
    r = await env.client.post(
        f"/api/v1/evidence/{item}/bookmarks",
        json={"time_s": 1, "note": "n"},
        headers=env.h("officer"),
    )
    assert r.status == 201
    urls = [
        f"/api/v1/evidence/{item}",
        f"/api/v1/evidence/{item}/original",
        f"/api/v1/evidence/{item}/hls/index.m3u8",
        f"/api/v1/evidence/{item}/hls/seg-00000.m4s",
        f"/api/v1/evidence/{item}/sprite-000.jpg",
        f"/api/v1/evidence/{item}/waveform.json",
        f"/api/v1/evidence/{item}/jobs",
        f"/api/v1/evidence/{item}/bookmarks",
        f"/api/v1/evidence/{item}/retention",
        f"/api/v1/cases/{case}",
        "/api/v1/cases/C-1",
        f"/api/v1/cases/{case}/compliance",
        f"/api/v1/cases/{case}/proposals",
        f"/api/v1/cases/{case}/basket",
        f"/api/v1/cases/{case}/exports",
        f"/api/v1/evidence?case={case}",
    ]
    for who in ("officer2", "reviewer2", "supervisor2"):
        for url in urls:
            r = await env.get(url, who)
            body = await r.json()
            assert r.status == 404, (who, url, r.status, body)
            assert body["code"] == "not_found" and "agency" not in body["error"], (url, body)
    # Writes too.
    for url, body in (
        (
            f"/api/v1/cases/{case}/records",
            {"doc_type": "acceptance_notice", "time": "2026-03-02T01:00:00Z"},
        ),
        (f"/api/v1/cases/{case}/stage", {"stage": "investigation"}),
        (f"/api/v1/evidence/{item}/process", None),
        (f"/api/v1/cases/{case}/exports", {"recipient": "x"}),
    ):
        r = await env.client.post(url, json=body, headers=env.h("reviewer2"))
        assert r.status == 404, (url, r.status)
    # Each of those probes is a ledgered denial (a case number of another agency too); a
    # missing object is not.
    paths = {json.loads(e.details)["path"] for e in env.ledger("access_denied")}
    assert {f"/api/v1/evidence/{item}/original", "/api/v1/cases/C-1"} <= paths
    assert (await env.get("/api/v1/cases/NO-SUCH", "officer2")).status == 404
    assert "/api/v1/cases/NO-SUCH" not in {
        json.loads(e.details)["path"] for e in env.ledger("access_denied")
    }
    # The same role in the owning agency still gets 403 where its role may not act.
    assert (
        await env.client.post(f"/api/v1/evidence/{item}/process", headers=env.h("officer"))
    ).status == 403


async def test_item_links_list_only_the_callers_agencys_cases(env: Env) -> None:
    item = await _item(env)
    mine = await _case(env, "A1", "A1-OWN")
    theirs = await _case(env, "A2", "A2-SECRET")

    def link(s):  # type: ignore[no-untyped-def]
        # A link across agencies made before agencies were sealed (hole 4).
        s.add(CaseLink(case_id=mine, item_id=item, stage="investigation"))
        s.add(CaseLink(case_id=theirs, item_id=item, stage="investigation"))

    await env.db().run(link)
    for who, expected in (
        ("officer", {"A1-OWN"}),
        ("supervisor", {"A1-OWN", "A2-SECRET"}),
        ("admin", {"A1-OWN", "A2-SECRET"}),
    ):
        detail = await (await env.get(f"/api/v1/evidence/{item}", who)).json()
        assert {c["case_number"] for c in detail["cases"]} == expected, who
        ret = await (await env.get(f"/api/v1/evidence/{item}/retention", who)).json()
        assert {c["case_number"] for c in ret["links"]} == expected, who
    # A supervisor bound to one agency sees that agency only, and only reads.
    assert (await env.get(f"/api/v1/evidence/{item}", "supervisor2")).status == 404
    listed = await (await env.get("/api/v1/cases", "supervisor2")).json()
    assert [c["number"] for c in listed["items"]] == ["A2-SECRET"]
    # The whole ledger spans every agency: not for a supervisor bound to one.
    assert (await env.get("/api/v1/ledger", "supervisor2")).status == 403
    assert (await env.get("/api/v1/ledger", "supervisor")).status == 200
    listed = await (await env.get("/api/v1/cases", "supervisor")).json()
    assert {c["number"] for c in listed["items"]} == {"A1-OWN", "A2-SECRET"}
    r = await env.client.post(
        f"/api/v1/cases/{theirs}/records",
        headers=env.h("supervisor"),
        json={"doc_type": "acceptance_notice", "time": "2026-03-02T01:00:00Z"},
    )
    assert r.status == 403


# -- disposed items are no longer served --------------------------------------------------------
async def test_disposed_items_are_served_to_the_auditor_only(env: Env) -> None:
    item = await _item(env)
    case = await _case(env)

    def dispose(s):  # type: ignore[no-untyped-def]
        s.get(EvidenceItem, item).retention_class = "disposed"

    await env.db().run(dispose)
    base = f"/api/v1/evidence/{item}"
    for who in ("reviewer", "admin", "supervisor"):
        for url in (
            f"{base}/original",
            f"{base}/hls/index.m3u8",
            f"{base}/hls/seg-00000.m4s",
            f"{base}/sprite-000.jpg",
            f"{base}/waveform.json",
        ):
            r = await env.get(url, who)
            assert r.status == 410 and (await r.json())["code"] == "disposed", (who, url)
        detail = await (await env.get(base, who)).json()
        assert detail["disposed"] is True and detail["links"] == {}
    assert env.ledger("view") == []
    # The auditor still gets the bytes (to check them), and it is ledgered.
    r = await env.get(f"{base}/original", "auditor")
    assert r.status == 200 and len(await r.read()) == 20_000
    assert len(env.ledger("view", f"evidence:{item}")) == 1
    # A disposed item is not linked (so never packaged) again.
    r = await env.client.post(
        f"/api/v1/cases/{case}/links",
        headers=env.h("reviewer"),
        json={"evidence_id": item, "stage": "investigation"},
    )
    assert r.status == 409 and (await r.json())["code"] == "disposed"

    def old_link(s):  # type: ignore[no-untyped-def]
        s.add(CaseLink(case_id=case, item_id=item, stage="investigation"))

    await env.db().run(old_link)
    r = await env.client.post(
        f"/api/v1/cases/{case}/exports", headers=env.h("reviewer"), json={"recipient": "court"}
    )
    assert r.status == 400 and (await r.json())["code"] == "empty_export"
    # Not disposed: the auditor still may not read evidence.
    other = await _item(env)
    assert (await env.get(f"/api/v1/evidence/{other}/original", "auditor")).status == 403
