"""The tus 1.0 endpoint against the real app: creation, checksum, termination, expiration,
commit into the store and catalogue, refusals, duplicates, space, roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ingest_support import (
    OFFSET_TYPE,
    TUS,
    random_bytes,
    sha256,
    tus_create,
    tus_metadata,
    tus_patch,
    upload_bytes,
)
from sqlalchemy import select

from helpers import app_db, app_store, bearer
from server.catalogue.models import EvidenceItem, LedgerRow, ManifestRow, StoredObject, Upload
from server.http.appkeys import UPLOADS
from server.intake.tus_headers import safe_filename


def ledger(client) -> list[LedgerRow]:  # type: ignore[no-untyped-def]
    """Custody entries about evidence (logins are ledgered too; tests/server/test_trust_accounts.py)."""
    return app_db(client).call(
        lambda s: list(
            s.scalars(
                select(LedgerRow)
                .where(LedgerRow.action.not_in(("login", "login_failed")))
                .order_by(LedgerRow.seq)
            )
        )
    )


def rows(client, model) -> list:  # type: ignore[no-untyped-def]
    return app_db(client).call(lambda s: list(s.scalars(select(model))))


async def test_options_advertises_tus_without_auth(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.options("/api/v1/uploads/")
    assert r.status == 204
    assert r.headers["Tus-Resumable"] == "1.0.0" and r.headers["Tus-Version"] == "1.0.0"
    ext = r.headers["Tus-Extension"].split(",")
    assert {"creation", "checksum", "termination", "expiration"} <= set(ext)
    assert "sha256" in r.headers["Tus-Checksum-Algorithm"].split(",")
    assert int(r.headers["Tus-Max-Size"]) > 0


async def test_upload_commits_item_object_and_ledger(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(300_000)
    r = await tus_create(
        client,
        users["station"],
        len(data),
        filename="BWC01_P123_20240305143000.mp4",
        sha256=sha256(data),
        device_id="BWC01",
        officer_id="P123",
        recorded_at="2024-03-05T06:30:00Z",
        station_id="ST1",
        case="ZF-2024-1",
        stage="investigation",
    )
    assert r.status == 201, await r.text()
    url = r.headers["Location"]
    assert url.startswith("/api/v1/uploads/") and "Upload-Expires" in r.headers
    h = await client.head(url, headers={**TUS, **bearer(users["station"])})
    assert h.status == 200 and h.headers["Upload-Offset"] == "0"
    assert h.headers["Upload-Length"] == str(len(data)) and h.headers["Upload-Metadata"]
    offset = 0
    for size in (100_000, 150_000, 50_000):
        r = await tus_patch(client, users["station"], url, offset, data[offset : offset + size])
        assert r.status == 204, await r.text()
        offset += size
        assert r.headers["Upload-Offset"] == str(offset)
    assert r.headers["Custodian-Sha256"] == sha256(data)
    item_id = r.headers["Custodian-Evidence-Id"]
    assert r.headers["Custodian-Duplicate"] == "false"
    status = await (await client.get(url, headers=bearer(users["station"]))).json()
    assert status["state"] == "committed" and status["sha256"] == sha256(data)
    assert status["evidence_id"] == item_id and status["case"] == "ZF-2024-1"

    item = await (
        await client.get(f"/api/v1/evidence/{item_id}", headers=bearer(users["reviewer"]))
    ).json()
    assert item["sha256"] == sha256(data) and item["size"] == len(data) and item["kind"] == "video"
    assert (
        item["device_id"] == "BWC01"
        and item["officer_id"] == "P123"
        and item["station_id"] == "ST1"
    )
    assert item["recorded_at"] == "2024-03-05T06:30:00Z"
    assert item["status"] in ("received", "processing")  # the in-process worker may have begun
    assert item["retention_until"] > item["received_at"]
    assert app_store(client).read_all(sha256(data)) == data
    (entry,) = [e for e in ledger(client) if e.action == "ingest"]
    assert entry.subject == f"evidence:{item_id}"
    details = json.loads(entry.details)
    assert details["sha256"] == sha256(data) and details["stage"] == "investigation"
    # One moment, one signed text: the ledger entry and the manifest say recorded_at alike.
    (manifest,) = rows(client, ManifestRow)
    signed = json.loads(bytes(manifest.manifest))["original"]["recorded_at"]
    assert details["recorded_at"] == signed == "2024-03-05T06:30:00.000000Z"
    # The partial file is gone once committed.
    assert not list(client.server.app[UPLOADS].dir.glob("upload-*.part"))
    # A later HEAD still says complete.
    h = await client.head(url, headers={**TUS, **bearer(users["station"])})
    assert (
        h.headers["Upload-Offset"] == str(len(data))
        and h.headers["Custodian-Evidence-Id"] == item_id
    )


async def test_claim_may_come_with_the_last_patch(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(10_000)
    r = await tus_create(client, users["station"], len(data), filename="a.mp4")
    url = r.headers["Location"]
    r = await tus_patch(client, users["station"], url, 0, data[:4000])
    assert r.status == 204
    r = await tus_patch(client, users["station"], url, 4000, data[4000:], claim=sha256(data))
    assert r.status == 204 and r.headers["Custodian-Sha256"] == sha256(data)


async def test_whole_file_mismatch_is_refused_and_nothing_committed(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(50_000)
    r = await tus_create(
        client, users["station"], len(data), filename="x.mp4", sha256=sha256(b"other")
    )
    url = r.headers["Location"]
    r = await tus_patch(client, users["station"], url, 0, data)
    assert r.status == 460
    body = await r.json()
    assert body["code"] == "sha256_mismatch" and sha256(data) in body["error"]
    assert "nothing was stored" in body["error"]
    assert rows(client, EvidenceItem) == [] and rows(client, StoredObject) == []
    assert not app_store(client).exists(sha256(data))
    (entry,) = ledger(client)
    assert entry.action == "upload_refused" and json.loads(entry.details)[
        "received_sha256"
    ] == sha256(data)
    h = await client.head(url, headers={**TUS, **bearer(users["station"])})
    assert h.status == 410
    status = await (await client.get(url, headers=bearer(users["station"]))).json()
    assert status["state"] == "refused" and "does not match" in status["error"]


async def test_chunk_checksum_mismatch_discards_only_that_chunk(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(20_000)
    r = await tus_create(client, users["station"], len(data), filename="x.mp4", sha256=sha256(data))
    url = r.headers["Location"]
    assert (await tus_patch(client, users["station"], url, 0, data[:10_000])).status == 204
    bad = bytearray(data[10_000:])
    bad[5] ^= 0xFF
    headers = {
        **TUS,
        **bearer(users["station"]),
        "Upload-Offset": "10000",
        "Content-Type": OFFSET_TYPE,
        "Upload-Checksum": f"sha256 {__import__('base64').b64encode(__import__('hashlib').sha256(data[10_000:]).digest()).decode()}",
    }
    r = await client.patch(url, data=bytes(bad), headers=headers)
    assert r.status == 460 and (await r.json())["code"] == "checksum_mismatch"
    h = await client.head(url, headers={**TUS, **bearer(users["station"])})
    assert h.headers["Upload-Offset"] == "10000"
    r = await tus_patch(client, users["station"], url, 10_000, data[10_000:])
    assert r.status == 204 and r.headers["Custodian-Sha256"] == sha256(data)


async def test_same_bytes_again_is_a_duplicate(client, users) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(30_000)
    first = await upload_bytes(client, users["station"], data, filename="one.mp4")
    second = await upload_bytes(client, users["station"], data, filename="again.mp4")
    assert second.headers["Custodian-Evidence-Id"] == first.headers["Custodian-Evidence-Id"]
    assert second.headers["Custodian-Duplicate"] == "true"
    assert len(rows(client, EvidenceItem)) == 1 and len(rows(client, StoredObject)) == 1
    actions = [e.action for e in ledger(client)]
    assert actions == ["ingest", "duplicate_received"]


async def test_quota_exceeded_is_507_before_any_byte(make_client, make_settings) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(store_quota_bytes=100_000)
    from ingest_support import make_users

    make_users(app_db(client))
    r = await client.post(
        "/api/v1/auth/login",
        json={"username": "station", "password": __import__("helpers").PASSWORD},
    )
    token = (await r.json())["token"]
    ok = await tus_create(client, token, 60_000, filename="a.mp4", sha256="0" * 64)
    assert ok.status == 201
    # 60 000 bytes are now promised to the first upload: another 60 000 do not fit.
    r = await tus_create(client, token, 60_000, filename="b.mp4", sha256="1" * 64)
    assert r.status == 507
    body = await r.json()
    assert body["code"] == "insufficient_storage" and "quota" in body["error"]
    assert "promised to unfinished uploads" in body["error"]
    assert r.headers["Tus-Resumable"] == "1.0.0"


async def test_roles_and_auth(client, users) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/uploads/", headers={**TUS, "Upload-Length": "10"})
    assert r.status == 401
    r = await tus_create(client, users["auditor"], 10, filename="a.mp4")
    assert r.status == 403 and (await r.json())["code"] == "forbidden"
    # Reviewers upload one file at a time too (a phone video handed in).
    r = await tus_create(client, users["reviewer"], 10, filename="a.mp4")
    assert r.status == 201
    assert (await tus_create(client, users["reviewer"], 10, filename="b.mp4")).status == 409
    # Officers upload single files: one unfinished upload at a time.
    r = await tus_create(client, users["officer"], 10, filename="a.mp4")
    assert r.status == 201
    r2 = await tus_create(client, users["officer"], 10, filename="b.mp4")
    assert r2.status == 409 and (await r2.json())["code"] == "one_at_a_time"
    # Another user's upload does not exist for you.
    h = await client.head(r.headers["Location"], headers={**TUS, **bearer(users["station"])})
    assert h.status == 404


async def test_protocol_errors(client, users) -> None:  # type: ignore[no-untyped-def]
    tok = users["station"]
    r = await client.post("/api/v1/uploads/", headers={**bearer(tok), "Upload-Length": "10"})
    assert r.status == 412 and r.headers["Tus-Version"] == "1.0.0"
    assert (await tus_create(client, tok, 0, filename="empty.mp4")).status == 400
    r = await client.post("/api/v1/uploads/", headers={**TUS, **bearer(tok)})
    assert r.status == 400 and (await r.json())["code"] == "length_required"
    r = await client.post(
        "/api/v1/uploads/",
        headers={
            **TUS,
            **bearer(tok),
            "Upload-Length": "5",
            "Upload-Metadata": "filename !!notbase64",
        },
    )
    assert r.status == 400 and (await r.json())["code"] == "bad_metadata"
    r = await tus_create(client, tok, 10, filename="a.mp4", sha256="nothex")
    assert r.status == 400 and (await r.json())["code"] == "bad_hash"
    r = await tus_create(client, tok, 10**15, filename="huge.mp4")
    assert r.status == 413
    r = await tus_create(client, tok, 10, filename="a.mp4", sha256=sha256(b"0123456789"))
    url = r.headers["Location"]
    r = await tus_patch(client, tok, url, 3, b"0123456")
    assert r.status == 409 and (await r.json())["code"] == "offset_mismatch"
    r = await client.patch(
        url,
        data=b"01",
        headers={
            **TUS,
            **bearer(tok),
            "Upload-Offset": "0",
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status == 415
    r = await tus_patch(client, tok, url, 0, b"0123456789abc")
    assert r.status == 413
    r = await client.patch(
        url,
        data=b"01",
        headers={
            **TUS,
            **bearer(tok),
            "Upload-Offset": "0",
            "Content-Type": OFFSET_TYPE,
            "Upload-Checksum": "crc99 AAAA",
        },
    )
    assert r.status == 400 and (await r.json())["code"] == "bad_checksum_algorithm"
    r = await tus_patch(client, tok, url, 0, b"0123456789")
    assert r.status == 204


async def test_termination_deletes_partial_bytes(client, users) -> None:  # type: ignore[no-untyped-def]
    tok = users["station"]
    r = await tus_create(client, tok, 1000, filename="a.mp4", sha256="0" * 64)
    url = r.headers["Location"]
    await tus_patch(client, tok, url, 0, b"x" * 500)
    manager = client.server.app[UPLOADS]
    assert len(list(manager.dir.glob("upload-*.part"))) == 1
    r = await client.delete(url, headers={**TUS, **bearer(tok)})
    assert r.status == 204
    assert not list(manager.dir.glob("upload-*.part"))
    assert (await client.head(url, headers={**TUS, **bearer(tok)})).status == 410
    assert (await tus_patch(client, tok, url, 500, b"x" * 500)).status == 410


async def test_abandoned_uploads_expire(make_client, make_settings) -> None:  # type: ignore[no-untyped-def]
    from ingest_support import make_users

    from helpers import PASSWORD

    client = await make_client(upload_expiry_seconds=60)
    make_users(app_db(client))
    token = (
        await (
            await client.post(
                "/api/v1/auth/login", json={"username": "station", "password": PASSWORD}
            )
        ).json()
    )["token"]
    r = await tus_create(client, token, 1000, filename="a.mp4", sha256="0" * 64)
    url = r.headers["Location"]
    await tus_patch(client, token, url, 0, b"x" * 100)
    manager = client.server.app[UPLOADS]
    assert await manager.expire() == 0
    # A frozen clock a minute on instead of a sleep (the event loop's monotonic clock runs on).
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=False):
        assert await manager.expire() == 1
    assert not list(manager.dir.glob("upload-*.part"))
    assert (await client.head(url, headers={**TUS, **bearer(token)})).status == 410
    (u,) = rows(client, Upload)
    assert u.state == "expired"


async def test_creation_with_upload(client, users) -> None:  # type: ignore[no-untyped-def]
    data = b"hello evidence"
    r = await client.post(
        "/api/v1/uploads/",
        data=data,
        headers={
            **TUS,
            **bearer(users["station"]),
            "Upload-Length": str(len(data)),
            "Content-Type": OFFSET_TYPE,
            "Upload-Metadata": tus_metadata(filename="note.txt", sha256=sha256(data)),
        },
    )
    assert r.status == 201 and r.headers["Upload-Offset"] == str(len(data))
    assert r.headers["Custodian-Sha256"] == sha256(data)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..", "upload.bin"),
        ("a\x00b\x1f\nc.mp4", "abc.mp4"),
        ("C:\\evil\\..\\x.mp4", "x.mp4"),
        ("执法记录 2024.mp4", "执法记录 2024.mp4"),
        (".hidden", "hidden"),
        ("", "upload.bin"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_byte_budget_keeps_extension() -> None:
    name = safe_filename("视" * 1000 + ".mp4")
    assert len(name.encode()) <= 255 and name.endswith(".mp4") and name.startswith("视")


async def test_hostile_names_are_kept_safely(client, users) -> None:  # type: ignore[no-untyped-def]
    for i, name in enumerate(["../../../x.mp4", "执法 记录\x07.mp4", "a" * 1000 + ".mp4"]):
        r = await upload_bytes(client, users["station"], random_bytes(1000 + i), filename=name)
        item = await (
            await client.get(
                f"/api/v1/evidence/{r.headers['Custodian-Evidence-Id']}",
                headers=bearer(users["reviewer"]),
            )
        ).json()
        got = item["original_filename"]
        assert "/" not in got and ".." not in got and len(got.encode()) <= 255
        assert all(ord(c) >= 32 for c in got)
    names = {i.original_filename for i in rows(client, EvidenceItem)}
    assert "x.mp4" in names and "执法 记录.mp4" in names


async def test_server_restart_mid_upload_resumes(make_client, make_settings) -> None:  # type: ignore[no-untyped-def]
    from ingest_support import make_users

    from helpers import PASSWORD

    settings = make_settings()
    data = random_bytes(2_000_000)
    client = await make_client(settings)
    make_users(app_db(client))

    async def login(c) -> str:  # type: ignore[no-untyped-def]
        r = await c.post("/api/v1/auth/login", json={"username": "station", "password": PASSWORD})
        return (await r.json())["token"]

    token = await login(client)
    r = await tus_create(client, token, len(data), filename="long.mp4", sha256=sha256(data))
    url = r.headers["Location"]
    assert (await tus_patch(client, token, url, 0, data[:1_200_000])).status == 204
    await client.close()  # the server goes away; the partial upload stays on disk

    client = await make_client(settings)
    token = await login(client)
    h = await client.head(url, headers={**TUS, **bearer(token)})
    assert h.status == 200 and h.headers["Upload-Offset"] == "1200000"
    r = await tus_patch(client, token, url, 1_200_000, data[1_200_000:])
    assert r.status == 204 and r.headers["Custodian-Sha256"] == sha256(data)
    assert app_store(client).read_all(sha256(data)) == data


async def test_committed_upload_is_signed_and_becomes_playable(
    make_client, users, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The commit signs manifest v1 and queues the media job; the in-server worker makes the
    renditions and signs v2 naming them; `custodian verify`'s checks all hold."""
    import asyncio

    from helpers import PASSWORD, app_db, make_clip
    from server.catalogue.models import EvidenceItem
    from server.custody.manifests import manifest_versions

    client = await make_client(job_poll_seconds=0.2)
    from server.people.accounts import add_agency, add_user

    await app_db(client).run(
        lambda s: (add_agency(s, "A9", "a"), add_user(s, "st9", PASSWORD, "station", "A9"))
    )
    r = await client.post("/api/v1/auth/login", json={"username": "st9", "password": PASSWORD})
    token = (await r.json())["token"]
    data = make_clip(tmp_path / "DSJ9_0001_20260301090000.mp4", seconds=2).read_bytes()
    done = await upload_bytes(client, token, data, filename="DSJ9_0001_20260301090000.mp4")
    item_id = done.headers["Custodian-Evidence-Id"]
    for _ in range(300):
        item = await app_db(client).run(lambda s: s.get(EvidenceItem, item_id))
        if item.status in ("ready", "damaged", "unplayable", "stored"):
            break
        await asyncio.sleep(0.1)
    assert item.status == "ready"
    versions = await app_db(client).run(manifest_versions, item_id)
    assert [v.version for v in versions] == [1, 2]
    from server.custody.verification import verify_all
    from server.http import appkeys as keys

    app = client.server.app
    report = await asyncio.get_running_loop().run_in_executor(
        None, lambda: verify_all(app[keys.DB], app[keys.STORE], app[keys.SIGNING_KEY].public_keys())
    )
    assert report.ok, [str(p) for p in report.problems]
    assert report.manifests == 2 and report.objects > 3


async def test_station_case_and_stage_link_the_item(client, users) -> None:  # type: ignore[no-untyped-def]
    """Upload metadata `case` and `stage` link the new item to that case stage (ledgered);
    an unknown case never loses the delivery, it is noted on the item."""
    from server.catalogue.models import Agency, Case, CaseLink

    def add_case(s):  # type: ignore[no-untyped-def]
        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        s.add(
            Case(
                agency_id=a1.id,
                number="A1-2026-009",
                title="t",
                enforcement_type="inspection",
                procedure="general",
            )
        )

    await app_db(client).run(add_case)
    done = await upload_bytes(
        client,
        users["station"],
        random_bytes(5000),
        filename="a.mp4",
        case="A1-2026-009",
        stage="investigation",
    )
    item_id = done.headers["Custodian-Evidence-Id"]
    links = await app_db(client).run(
        lambda s: list(s.scalars(select(CaseLink).where(CaseLink.item_id == item_id)))
    )
    assert [(lk.stage, lk.source) for lk in links] == [("investigation", "upload")]
    actions = await app_db(client).run(
        lambda s: [r.action for r in s.scalars(select(LedgerRow).order_by(LedgerRow.seq))]
    )
    assert actions[-3:] == ["ingest", "link", "retention_change"]  # kept with the case now

    done = await upload_bytes(
        client,
        users["station"],
        random_bytes(6000),
        filename="b.mp4",
        case="NO-SUCH-CASE",
        stage="investigation",
    )
    item2 = await app_db(client).run(
        lambda s: s.get(EvidenceItem, done.headers["Custodian-Evidence-Id"])
    )
    assert "no case 'NO-SUCH-CASE'" in item2.media_info["intake_link_error"]
    detail = await (
        await client.get(f"/api/v1/evidence/{item2.id}", headers=bearer(users["reviewer"]))
    ).json()
    assert "NO-SUCH-CASE" in detail["intake_link_error"]
