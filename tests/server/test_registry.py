"""The officer / device / station registry (issue 16): assignments decide whose footage an item
is, case proposals come from them, bulk import reports every bad row, unknown cameras are
flagged then re-attributed, and stations report backlog and go offline."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from helpers import PASSWORD, app_db, bearer
from server.catalogue.models import (
    DeviceAssignment,
    EvidenceItem,
    ItemAttribution,
    LedgerRow,
    Officer,
    Station,
)

DAY = "2026-11-30"  # local (Asia/Shanghai) day of the footage


def local(hhmm: str) -> str:
    """An RFC 3339 UTC time for a local time on DAY (camera zone UTC+8)."""
    h, m = map(int, hhmm.split(":"))
    t = datetime(2026, 11, 30, h, m, tzinfo=UTC) - timedelta(hours=8)
    return t.isoformat().replace("+00:00", "Z")


async def call(
    client: Any,
    token: str,
    method: str,
    url: str,
    body: Any = None,
    status: int | tuple[int, ...] = (200, 201),
) -> Any:
    r = await client.request(method, url, json=body, headers=bearer(token))
    want = (status,) if isinstance(status, int) else status
    assert r.status in want, f"{method} {url} -> {r.status} {await r.text()}"
    return await r.json()


async def upload(client: Any, token: str, data: bytes, **meta: str) -> str:
    """One tus upload through the real endpoint (creation + one PATCH); the new item's id."""
    meta = {
        "filename": meta.pop("filename", "clip.bin"),
        "sha256": hashlib.sha256(data).hexdigest(),
        **meta,
    }
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    tus = {"Tus-Resumable": "1.0.0", **bearer(token)}
    r = await client.post(
        "/api/v1/uploads/",
        headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": header},
    )
    assert r.status == 201, await r.text()
    r = await client.patch(
        r.headers["Location"],
        data=data,
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert r.status == 204, await r.text()
    return r.headers["Custodian-Evidence-Id"]


def ledger(client: Any, action: str) -> list[dict[str, Any]]:
    rows = app_db(client).call(
        lambda s: list(
            s.scalars(select(LedgerRow).where(LedgerRow.action == action).order_by(LedgerRow.seq))
        )
    )
    return [{"subject": r.subject, "actor": r.actor, **json.loads(r.details)} for r in rows]


async def register_two(client: Any, admin: str) -> None:
    """Officers 010001 (一中队) and 010002 (二中队) of A1 and camera DSJ1: 010001 holds it from
    08:00, hands it to 010002 at 13:00 (一人一机 per shift)."""
    await call(
        client,
        admin,
        "POST",
        "/api/v1/officers",
        {
            "code": "010001",
            "name": "王明",
            "agency": "A1",
            "certificate": "33110001",
            "unit": "一中队",
        },
    )
    await call(
        client,
        admin,
        "POST",
        "/api/v1/officers",
        {
            "code": "010002",
            "name": "李华",
            "agency": "A1",
            "certificate": "33110002",
            "unit": "二中队",
        },
    )
    await call(
        client,
        admin,
        "POST",
        "/api/v1/devices",
        {"serial": "DSJ1", "agency": "A1", "model": "DSJ-V9", "kind": "body_camera"},
    )
    await call(
        client,
        admin,
        "POST",
        "/api/v1/devices/DSJ1/assignments",
        {"officer": "010001", "from": f"{DAY} 08:00"},
    )
    await call(
        client,
        admin,
        "POST",
        "/api/v1/devices/DSJ1/assignments",
        {"officer": "010002", "from": f"{DAY} 13:00"},
    )


async def test_reassignment_mid_day_attributes_morning_and_afternoon(client, users) -> None:  # type: ignore[no-untyped-def]
    await _reassignment_mid_day(client, users)


@pytest.mark.postgres
async def test_reassignment_and_proposals_on_postgresql(pg_url, make_client) -> None:  # type: ignore[no-untyped-def]
    """The same, on PostgreSQL (the partial unique index, the correlated assignment query)."""
    from server.people.accounts import add_agency, add_user

    roles = {"station": "A1", "officer": "A1", "reviewer": "A1", "legal": "A1", "admin": None}

    client = await make_client(database_url=pg_url)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "a")
        add_agency(s, "A2", "b")
        for role, agency in roles.items():
            add_user(s, role, PASSWORD, role, agency)
        add_user(s, "reviewer2", PASSWORD, "reviewer", "A2")

    await app_db(client).run(setup)
    users = {}
    for name in [*roles, "reviewer2"]:
        r = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        users[name] = (await r.json())["token"]
    await _reassignment_mid_day(client, users)
    r = await client.post(
        "/api/v1/officers",
        headers=bearer(users["admin"]),
        json={"code": "010009", "name": "x", "agency": "A1", "certificate": "33110001"},
    )
    assert r.status == 409 and (await r.json())["code"] == "certificate_exists"


async def _reassignment_mid_day(client, users) -> None:  # type: ignore[no-untyped-def]
    admin, station = users["admin"], users["station"]
    await register_two(client, admin)
    dev = await call(client, admin, "GET", "/api/v1/devices/DSJ1")
    hist = dev["assignments"]
    assert [a["officer_code"] for a in hist] == ["010002", "010001"]
    assert hist[1]["to"] == hist[0]["from"] == local("13:00") and hist[0]["to"] is None
    assert dev["officer_code"] == "010002"  # the holder now
    # A third assignment overlapping the closed morning one is refused, naming it.
    r = await client.post(
        "/api/v1/devices/DSJ1/assignments",
        headers=bearer(admin),
        json={"officer": "010002", "from": f"{DAY} 09:00", "to": f"{DAY} 10:00"},
    )
    assert r.status == 409 and (await r.json())["code"] == "assignment_overlap"

    morning = await upload(
        client,
        station,
        b"morning footage",
        device_id="DSJ1",
        officer_id="010001",
        recorded_at=local("10:15"),
        station_id="ST1",
    )
    # The afternoon file still carries the morning officer's code (the camera was not re-set).
    afternoon = await upload(
        client,
        station,
        b"afternoon footage",
        device_id="DSJ1",
        officer_id="010001",
        recorded_at=local("15:40"),
        station_id="ST1",
    )
    no_code = await upload(
        client,
        station,
        b"afternoon, no code",
        device_id="DSJ1",
        recorded_at=local("16:00"),
        station_id="ST1",
    )
    rev = users["reviewer"]
    m = await call(client, rev, "GET", f"/api/v1/evidence/{morning}")
    a = await call(client, rev, "GET", f"/api/v1/evidence/{afternoon}")
    n = await call(client, rev, "GET", f"/api/v1/evidence/{no_code}")
    assert m["officer_id"] == "010001" and m["attribution"]["flag"] == "matched"
    assert m["attribution"]["certificate"] == "33110001"
    assert a["officer_id"] == "010002" and a["attribution"]["flag"] == "officer_mismatch"
    assert a["attribution"]["claimed_officer"] == "010001"  # kept, flagged
    assert n["officer_id"] == "010002" and n["attribution"]["flag"] == "matched"
    flagged = await call(client, rev, "GET", "/api/v1/devices/flagged")
    assert [i["id"] for i in flagged["items"]] == [afternoon]
    # Before anyone signed the camera out (07:00): accepted, flagged, the file's claim kept.
    early = await upload(
        client,
        station,
        b"before the shift",
        device_id="DSJ1",
        officer_id="010001",
        recorded_at=local("07:00"),
    )
    e = await call(client, rev, "GET", f"/api/v1/evidence/{early}")
    assert e["attribution"]["flag"] == "unassigned" and e["officer_id"] == "010001"
    assert e["attribution"]["officer_code"] is None
    flagged = await call(client, rev, "GET", "/api/v1/devices/flagged?flag=unassigned")
    assert [i["id"] for i in flagged["items"]] == [early]
    entries = {e["subject"]: e for e in ledger(client, "attribute")}
    assert entries[f"evidence:{afternoon}"]["officer"] == "010002"
    assert entries[f"evidence:{afternoon}"]["claimed_officer"] == "010001"

    # Footage by officer and day, and the evidence list by unit.
    fa = await call(client, rev, "GET", f"/api/v1/officers/010001/footage?from={DAY}&to={DAY}")
    fb = await call(client, rev, "GET", "/api/v1/officers/010002/footage")
    assert [d["date"] for d in fa["days"]] == [DAY]
    # 010001's day: the morning clip, and the unassigned early one by its file name's claim.
    assert [i["id"] for i in fa["days"][0]["items"]] == [morning, early]
    assert {i["id"] for d in fb["days"] for i in d["items"]} == {afternoon, no_code}
    page = await call(client, rev, "GET", "/api/v1/evidence?unit=一中队")
    assert {i["id"] for i in page["items"]} == {morning, early}
    page = await call(client, rev, "GET", "/api/v1/evidence?unit=二中队")
    assert {i["id"] for i in page["items"]} == {afternoon, no_code}

    # A shared-pool camera signed out for one shift: attributed inside it, nobody holds it now.
    await call(
        client,
        admin,
        "POST",
        "/api/v1/devices",
        {
            "serial": "POOL1",
            "agency": "A1",
            "kind": "handheld",
            "officer": "010002",
            "from": f"{DAY} 08:00",
            "to": f"{DAY} 12:00",
        },
    )
    pool = await call(client, admin, "GET", "/api/v1/devices/POOL1")
    assert pool["officer_code"] is None and pool["assignments"][0]["to"] == local("12:00")
    shift = await upload(
        client, station, b"pool camera", device_id="POOL1", recorded_at=local("09:30")
    )
    s = await call(client, rev, "GET", f"/api/v1/evidence/{shift}")
    assert s["officer_id"] == "010002" and s["attribution"]["flag"] == "matched"

    # Leaving ends the open assignment and keeps the history; a left officer gets no camera.
    await call(client, admin, "PATCH", "/api/v1/officers/010002", {"status": "left"})
    dev = await call(client, admin, "GET", "/api/v1/devices/DSJ1")
    assert dev["officer_code"] is None and dev["assignments"][0]["to"] is not None
    r = await client.post(
        "/api/v1/devices/DSJ1/assignments",
        headers=bearer(admin),
        json={"officer": "010002", "from": "2030-01-01T00:00:00Z"},
    )
    assert r.status == 409 and (await r.json())["code"] == "officer_left"
    listed = await call(client, rev, "GET", "/api/v1/officers?status=left")
    assert [o["code"] for o in listed["items"]] == ["010002"]
    assert (await call(client, rev, "GET", "/api/v1/officers?q=王"))["items"][0]["code"] == "010001"
    # Another agency's reviewer sees none of it.
    assert (await call(client, users["reviewer2"], "GET", "/api/v1/officers"))["items"] == []
    r = await client.get("/api/v1/devices/DSJ1", headers=bearer(users["reviewer2"]))
    assert r.status == 404


async def test_case_proposals_come_from_the_registry(client, users) -> None:  # type: ignore[no-untyped-def]
    """A record naming officer 010002 at 15:30-16:30 proposes the footage of the camera 010002
    held then, although no file name carries 010002."""
    admin, station = users["admin"], users["station"]
    await register_two(client, admin)
    afternoon = await upload(
        client, station, b"afternoon clip", device_id="DSJ1", recorded_at=local("15:40")
    )
    morning = await upload(
        client, station, b"morning clip", device_id="DSJ1", recorded_at=local("10:40")
    )
    officer = users["officer"]
    picker = await call(client, officer, "GET", "/api/v1/officers?q=李")
    assert [(o["code"], o["certificate"]) for o in picker["items"]] == [("010002", "33110002")]
    case = await call(
        client,
        officer,
        "POST",
        "/api/v1/cases",
        {
            "number": "A1-REG-1",
            "title": "registry",
            "enforcement_type": "inspection",
            "procedure": "general",
            "opened_at": local("09:00"),
            "officers": ["010002"],
        },
    )
    assert case["officers"][0]["certificate_no"] == "33110002"
    await call(
        client,
        officer,
        "POST",
        f"/api/v1/cases/{case['id']}/records",
        {
            "doc_type": "onsite_inspection_transcript",
            "time": local("15:30"),
            "end_time": local("16:30"),
            "officers": [{"officer": "010002", "shown": True}],
            "signature_status": "signed",
        },
    )
    props = await call(client, officer, "GET", f"/api/v1/cases/{case['id']}/proposals")
    assert [p["evidence_id"] for p in props["items"]] == [afternoon]
    assert morning not in {p["evidence_id"] for p in props["items"]}


async def test_unknown_device_is_flagged_then_reattributed(client, users) -> None:  # type: ignore[no-untyped-def]
    admin, station = users["admin"], users["station"]
    for code, name in (("020001", "赵强"), ("020002", "钱进")):
        await call(
            client, admin, "POST", "/api/v1/officers", {"code": code, "name": name, "agency": "A1"}
        )
    # Two clips of an unregistered camera: one without an officer code, one naming 020001.
    bare = await upload(
        client, station, b"unknown camera, no code", device_id="NEW42", recorded_at=local("10:00")
    )
    item = await upload(
        client,
        station,
        b"unknown camera",
        device_id="NEW42",
        officer_id="020001",
        recorded_at=local("11:00"),
    )
    got = await call(client, users["reviewer"], "GET", f"/api/v1/evidence/{item}")
    assert got["attribution"]["flag"] == "unknown_device" and got["officer_id"] == "020001"
    unknown = await call(client, admin, "GET", "/api/v1/devices/unknown")
    assert [(u["serial"], u["items"], u["agency"], u["registered"]) for u in unknown["items"]] == [
        ("NEW42", 2, "A1", False)
    ]
    # Register it with the officer who really wore it that day, then one click: re-attribute.
    await call(
        client,
        admin,
        "POST",
        "/api/v1/devices",
        {"serial": "NEW42", "agency": "A1", "officer": "020002", "from": f"{DAY} 07:00"},
    )
    assert (await call(client, admin, "GET", "/api/v1/devices/unknown"))["items"][0]["registered"]
    result = await call(client, admin, "POST", "/api/v1/devices/NEW42/reattribute")
    assert result["reattributed"] == 2 and set(result["item_ids"]) == {bare, item}
    got = await call(client, users["reviewer"], "GET", f"/api/v1/evidence/{item}")
    att = got["attribution"]
    assert got["officer_id"] == "020002" and att["officer_code"] == "020002"
    assert att["flag"] == "officer_mismatch" and att["claimed_officer"] == "020001"  # kept
    got = await call(client, users["reviewer"], "GET", f"/api/v1/evidence/{bare}")
    assert got["officer_id"] == "020002" and got["attribution"]["flag"] == "matched"
    entries = {e["subject"]: e for e in ledger(client, "reattribute")}
    entry = entries[f"evidence:{item}"]
    assert len(entries) == 2 and entry["actor"].startswith("user:")
    assert entry["before"] == {
        "officer": None,
        "flag": "unknown_device",
        "item_officer_id": "020001",
    }
    assert entry["after"] == {"officer": "020002", "flag": "officer_mismatch"}

    def manifests(s):  # type: ignore[no-untyped-def]
        from server.custody.manifests import manifest_versions

        return [
            json.loads(r.manifest)["original"]["officer_id"] for r in manifest_versions(s, item)
        ]

    # A new signed manifest version names the officer; version 1 still says what it said.
    versions = app_db(client).call(manifests)
    assert versions[0] == "020001" and versions[-1] == "020002"
    assert (await call(client, admin, "GET", "/api/v1/devices/unknown"))["items"] == []
    again = await call(client, admin, "POST", "/api/v1/devices/NEW42/reattribute")
    assert again["reattributed"] == 0 and len(ledger(client, "reattribute")) == 2
    # Writers only: a reviewer may not re-attribute.
    r = await client.post("/api/v1/devices/NEW42/reattribute", headers=bearer(users["reviewer"]))
    assert r.status == 403


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8-sig")  # as Excel saves "CSV UTF-8"


async def test_csv_import_of_200_officers_and_200_devices_with_3_bad_rows(client, users) -> None:  # type: ignore[no-untyped-def]
    admin = users["admin"]
    officers = [["警号", "姓名", "执法证号", "科室/中队", "机构"]]
    for i in range(200):
        officers.append([f"{300000 + i}", f"队员{i}", f"3311{i:05d}", f"{i % 4 + 1}中队", "A1"])
    officers[51][1] = ""  # row 52: no name
    officers[121][2] = officers[120][2]  # row 122: certificate repeats row 121
    devices = [["serial", "model", "kind", "officer", "from"]]
    for i in range(200):
        devices.append([f"CAM{i:04d}", "DSJ-V9", "执法记录仪", f"{300000 + i}", "2026-11-01 08:00"])
    devices[181][2] = "toaster"  # row 182: no such kind
    devices[51][3] = devices[121][3] = ""  # the two bad officers' cameras: no holder yet

    url = "/api/v1/registry/import?kind=officers&agency=A1"
    r = await client.post(url + "&dry_run=1", data=_csv(officers), headers=bearer(admin))
    dry = await r.json()
    assert r.status == 200, dry
    assert dry["dry_run"] and dry["ok"] == 198 and dry["imported"] == 0
    assert [(e["row"], e["key"]) for e in dry["errors"]] == [(52, "300050"), (122, "300120")]
    assert "name is empty" in dry["errors"][0]["errors"]
    assert "repeats row 121" in dry["errors"][1]["errors"][0]
    assert app_db(client).call(lambda s: s.scalar(select(func.count()).select_from(Officer))) == 0

    done = await (await client.post(url, data=_csv(officers), headers=bearer(admin))).json()
    assert done["imported"] == 198 and [e["row"] for e in done["errors"]] == [52, 122]
    r = await client.post(
        "/api/v1/registry/import?kind=devices&agency=A1&dry_run=1",
        data=_csv(devices),
        headers=bearer(admin),
    )
    dry = await r.json()
    assert [(e["row"], e["key"]) for e in dry["errors"]] == [(182, "CAM0180")], dry["errors"]
    assert dry["ok"] == 199 and "toaster" in dry["errors"][0]["errors"][0]
    done = await (
        await client.post(
            "/api/v1/registry/import?kind=devices&agency=A1",
            data=_csv(devices),
            headers=bearer(admin),
        )
    ).json()
    assert done["imported"] == 199 and [e["row"] for e in done["errors"]] == [182]
    # A holder that is not registered is a bad row too (the officers come first).
    devices[52][0], devices[52][3] = "CAM9999", "300050"
    dry = await (
        await client.post(
            "/api/v1/registry/import?kind=devices&agency=A1&dry_run=1",
            data=_csv(devices[:1] + devices[52:53]),
            headers=bearer(admin),
        )
    ).json()
    assert dry["errors"][0]["errors"] == ["no officer '300050' (import the officers first)"]

    def counts(s):  # type: ignore[no-untyped-def]
        return (
            s.scalar(select(func.count()).select_from(Officer)),
            s.scalar(select(func.count()).select_from(DeviceAssignment)),
        )

    assert app_db(client).call(counts) == (198, 197)  # two cameras without a holder
    assert len(ledger(client, "officer_add")) == 198 and len(ledger(client, "device_add")) == 199
    cam = await call(client, admin, "GET", "/api/v1/devices/CAM0007")
    assert cam["kind"] == "body_camera" and cam["officer_code"] == "300007"
    # The same officers again: every row is reported as already registered, nothing changes.
    again = await (
        await client.post(url + "&dry_run=1", data=_csv(officers), headers=bearer(admin))
    ).json()
    assert again["bad"] == 200 and again["ok"] == 0


async def test_xlsx_import_and_bad_files(client, users) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    admin = users["admin"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "name", "certificate", "unit"])
    ws.append(["400001", "周一", "44000001", "法制科"])
    ws.append(["bad code!", "周二", "", ""])
    ws.append([400003, "周三", "", "法制科"])  # a number cell, as Excel keeps codes
    buf = io.BytesIO()
    wb.save(buf)
    r = await client.post(
        "/api/v1/registry/import?kind=officers&agency=A1",
        data=buf.getvalue(),
        headers=bearer(admin),
    )
    body = await r.json()
    assert r.status == 200 and body["imported"] == 2 and [e["row"] for e in body["errors"]] == [3]
    for data, what in (
        (b"", "empty"),
        (b"PK\x03\x04broken", "XLSX"),
        (b"x,y\n1,2\n", "known column"),
    ):
        r = await client.post(
            "/api/v1/registry/import?kind=officers&agency=A1", data=data, headers=bearer(admin)
        )
        assert r.status == 400 and what in (await r.json())["error"], what
    r = await client.post(
        "/api/v1/registry/import?kind=cats", data=b"code,name\n1,a\n", headers=bearer(admin)
    )
    assert r.status == 400


async def test_station_heartbeat_backlog_and_offline(make_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The real agent's heartbeat reports its journal's backlog; a silent station goes offline
    after station_offline_seconds."""
    from ingest.agent import Agent, AgentConfig
    from ingest.client import CustodianClient
    from server.people.accounts import add_agency, add_user

    client = await make_client(station_offline_seconds=120)
    db = app_db(client)
    db.call(
        lambda s: (
            add_agency(s, "A1", "a"),
            add_user(s, "st1", PASSWORD, "station", "A1"),
            add_user(s, "st2", PASSWORD, "station", "A1"),
            add_user(s, "adm", PASSWORD, "admin"),
            add_user(s, "rev", PASSWORD, "reviewer", "A1"),
        )
    )
    tokens = {}
    for name in ("st1", "st2", "adm", "rev"):
        r = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        tokens[name] = (await r.json())["token"]
    await call(
        client,
        tokens["adm"],
        "POST",
        "/api/v1/stations",
        {"code": "ST-GATE", "agency": "A1", "location": "东门执勤点", "user": "st1"},
    )
    listed = await call(client, tokens["rev"], "GET", "/api/v1/stations")
    assert [(s["code"], s["state"], s["last_contact"]) for s in listed["items"]] == [
        ("ST-GATE", "offline", None)
    ]

    dock = tmp_path / "dock"
    dock.mkdir()
    (dock / "a.mp4").write_bytes(b"x" * 1000)
    (dock / "b.mp4").write_bytes(b"y" * 500)
    server = str(client.make_url("/"))
    agent = Agent(
        AgentConfig(
            server=server,
            docks=[dock],
            username="st1",
            password=PASSWORD,
            station_id="ST-GATE",
            state_dir=tmp_path / "state",
        )
    )
    # Two files the server could not take yet (waiting in the journal), one already done.
    for name, state, err in (
        ("a.mp4", "waiting", "server unreachable: 503"),
        ("b.mp4", "waiting", ""),
        ("gone.mp4", "cleared", ""),
    ):
        p = dock / name
        e = agent.journal.ensure(str(p), 1000 if name == "a.mp4" else 500, 1)
        agent.journal.update(e.id, state=state, error=err)
    agent.client = CustodianClient(server, "st1", PASSWORD)
    try:
        assert await agent.heartbeat()
    finally:
        await agent.client.close()
        agent.journal.close()
    st = (await call(client, tokens["rev"], "GET", "/api/v1/stations"))["items"][0]
    assert st["state"] == "online" and st["files_waiting"] == 2 and st["bytes_waiting"] == 1500
    assert st["last_error"] == "server unreachable: 503" and st["disk_free"] > 0
    assert st["location"] == "东门执勤点"

    # Quiet for longer than the setting: offline, with the last figures kept.
    def age(s):  # type: ignore[no-untyped-def]
        row = s.scalar(select(Station).where(Station.code == "ST-GATE"))
        row.last_contact = datetime.now(UTC) - timedelta(seconds=121)

    db.call(age)
    st = await call(client, tokens["rev"], "GET", "/api/v1/stations/ST-GATE")
    assert st["state"] == "offline" and st["files_waiting"] == 2 and st["recent_deliveries"] == []
    # Bad figures are refused by name; only stations (and admins) report heartbeats.
    r = await client.post(
        "/api/v1/stations/heartbeat",
        headers=bearer(tokens["st1"]),
        json={"station_id": "ST-GATE", "files_waiting": -1, "bytes_waiting": 0},
    )
    assert r.status == 400 and "files_waiting" in (await r.json())["error"]
    r = await client.post(
        "/api/v1/stations/heartbeat",
        headers=bearer(tokens["rev"]),
        json={"station_id": "ST-GATE", "files_waiting": 0, "bytes_waiting": 0},
    )
    assert r.status == 403
    r = await client.post(
        "/api/v1/stations/heartbeat",
        headers=bearer(tokens["st2"]),
        json={"station_id": "ST-GATE", "files_waiting": 0, "bytes_waiting": 0},
    )
    assert r.status == 409 and (await r.json())["code"] == "station_account"
    # A delivery counts as contact too, and shows among the station's recent deliveries.
    item = await upload(client, tokens["st1"], b"delivered", station_id="ST-GATE")
    st = await call(client, tokens["rev"], "GET", "/api/v1/stations/ST-GATE")
    assert st["state"] == "online" and [i["id"] for i in st["recent_deliveries"]] == [item]


def test_cli_officer_device_station(make_settings, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from server.cli import main

    data = ["--data", str(tmp_path / "var")]
    assert main(["agency", "add", "ZF", *data]) == 0
    assert (
        main(
            [
                "officer",
                "add",
                "010001",
                "--name",
                "王明",
                "--agency",
                "ZF",
                "--certificate",
                "33110001",
                "--unit",
                "一中队",
                *data,
            ]
        )
        == 0
    )
    assert main(["officer", "add", "010002", "--name", "李华", "--agency", "ZF", *data]) == 0
    # The same certificate again in the agency: one clear line, non-zero.
    assert (
        main(
            [
                "officer",
                "add",
                "010003",
                "--name",
                "x",
                "--agency",
                "ZF",
                "--certificate",
                "33110001",
                *data,
            ]
        )
        == 2
    )
    assert "33110001" in capsys.readouterr().err
    assert main(["device", "add", "DSJ1", "--agency", "ZF", "--model", "V9", *data]) == 0
    assert main(["device", "add", "DSJ2", "--agency", "ZF", "--kind", "toaster", *data]) == 2
    assert main(["device", "assign", "DSJ1", "010001", "--from", "2026-11-30 08:00", *data]) == 0
    assert main(["device", "assign", "DSJ1", "010002", "--from", "2026-11-30 13:00", *data]) == 0
    capsys.readouterr()
    assert main(["device", "list", *data]) == 0
    listed = capsys.readouterr().out
    assert "DSJ1" in listed and "010002" in listed
    assert main(["officer", "leave", "010001", *data]) == 0
    assert main(["officer", "list", "--status", "left", *data]) == 0
    out = capsys.readouterr().out
    assert "010001" in out and "010002" not in out
    assert main(["device", "retire", "DSJ1", *data]) == 0
    assert main(["device", "retire", "DSJ1", *data]) == 2
    assert main(["station", "list", *data]) == 0
    bad = tmp_path / "officers.csv"
    bad.write_text("code,name\n500001,甲\n500002,\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        main(["registry", "import", "officers", str(bad), "--agency", "ZF", "--dry-run", *data])
        == 1
    )
    assert "row 3 (500002): name is empty" in capsys.readouterr().out

    from server.cli import open_db, settings_from

    class A:
        config = None

    args = A()
    args.data = str(tmp_path / "var")  # type: ignore[attr-defined]
    db = open_db(settings_from(args))  # type: ignore[arg-type]
    try:
        rows = db.call(
            lambda s: [
                (r.actor, r.action)
                for r in s.scalars(  # registry acts only
                    select(LedgerRow)
                    .where(LedgerRow.action.not_in(("agency_change", "user_change")))
                    .order_by(LedgerRow.seq)
                )
            ]
        )
        held = db.call(
            lambda s: s.scalar(
                select(func.count())
                .select_from(DeviceAssignment)
                .where(DeviceAssignment.valid_to.is_(None))
            )
        )
        items = db.call(lambda s: s.scalar(select(func.count()).select_from(EvidenceItem)))
        attrs = db.call(lambda s: s.scalar(select(func.count()).select_from(ItemAttribution)))
    finally:
        db.close()
    mine = [(actor, a) for actor, a in rows if a != "agency_change"]  # agency add is ledgered too
    assert [a for _, a in mine] == [
        "officer_add",
        "officer_add",
        "device_add",
        "device_assign",
        "device_assign",
        "officer_leave",
        "device_retire",
    ]
    assert all(actor.startswith("cli:custodian ") for actor, _ in mine)
    assert held == 0 and items == 0 and attrs == 0


@pytest.mark.slow
def test_readme_newcomer_path_registers_officers_and_a_camera_before_docking(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The README's first steps run as written (on a fresh data folder): agency, users, then
    officer, camera, assignment and station — all before the step that docks a camera."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    path = readme.split("## From a docked camera to a court package", 1)[1]
    before_dock = path.split("**Dock a camera**", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", before_dock, flags=re.S)
    lines = [ln.split("  #")[0].strip() for b in blocks for ln in b.splitlines() if ln.strip()]
    text = "\n".join(lines)
    for needed in ("custodian officer add", "custodian device add", "custodian device assign"):
        assert needed in text, f"the newcomer path does not run `{needed}` before docking"
    bin_dir = Path(sys.executable).parent
    script = "set -e\n" + text.replace(".venv/bin/custodian", str(bin_dir / "custodian")).replace(
        "./var", str(tmp_path / "var")
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(bin_dir / "custodian"), "device", "list", "--data", str(tmp_path / "var")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "DSJ001" in listed.stdout and "010001" in listed.stdout


async def test_bad_input_is_a_clear_400_in_the_callers_language(client, users) -> None:  # type: ignore[no-untyped-def]
    admin = users["admin"]
    cases = [
        (
            "POST",
            "/api/v1/officers",
            {"code": "a b", "name": "x", "agency": "A1"},
            "bad_field",
            "code",
        ),
        ("POST", "/api/v1/officers", {"code": "010001", "agency": "A1"}, "bad_field", "name"),
        (
            "POST",
            "/api/v1/officers",
            {"code": "010001", "name": "x", "agency": "ZZ"},
            "bad_agency",
            None,
        ),
        (
            "POST",
            "/api/v1/devices",
            {"serial": "D1", "agency": "A1", "kind": "toaster"},
            "bad_kind",
            None,
        ),
        (
            "POST",
            "/api/v1/stations/heartbeat",
            {"station_id": "S1", "files_waiting": "many", "bytes_waiting": 0},
            "bad_field",
            "files_waiting",
        ),
    ]
    for method, url, body, code, field in cases:
        r = await client.request(
            method, url, json=body, headers={**bearer(admin), "Accept-Language": "zh-CN"}
        )
        got = await r.json()
        assert r.status == 400 and got["code"] == code, (url, got)
        assert not any(c.isascii() and c.isalpha() for c in got["message"].replace("SHA", "")), got
        if field:
            assert field in got["error"]
    await call(client, admin, "POST", "/api/v1/devices", {"serial": "D1", "agency": "A1"})
    r = await client.post(
        "/api/v1/devices/D1/assignments",
        headers=bearer(admin),
        json={"officer": "nobody", "from": "yesterday"},
    )
    assert r.status == 400 and (await r.json())["code"] == "bad_time"
    r = await client.post(
        "/api/v1/devices/D1/assignments",
        headers=bearer(admin),
        json={"officer": "nobody", "from": "2026-11-30 08:00"},
    )
    assert r.status == 404 and (await r.json())["message"] == "没有该执法人员"
