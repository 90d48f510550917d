"""Staging every server reaches: PATCHes of one upload alternate between two app instances on
one catalogue and store (S3 multipart staging on PostgreSQL; a shared local folder), locks
across processes, and the check that every server sees the same staging folder."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import boto3
import pytest
from ingest_support import (  # noqa: I001
    OFFSET_TYPE,
    TUS,
    chunk_checksum,
    make_users,
    random_bytes,
    sha256,
    tus_create,
)

from helpers import PASSWORD, app_db, app_store, bearer
from server.catalogue.models import EvidenceItem, Job, Upload
from server.http.appkeys import UPLOADS
from server.http.errors import CustodianError
from server.intake.locks import Busy, UploadLocks
from server.intake.tus import UploadManager
from server.store import open_store


async def _login(client: Any) -> str:
    r = await client.post("/api/v1/auth/login", json={"username": "station", "password": PASSWORD})
    assert r.status == 200, await r.text()
    return str((await r.json())["token"])


async def _alternate(clients: list[Any], data: bytes, chunk: int, checksum_every: int = 2) -> Any:
    """Create on the first server, then send PATCH n to server n % 2."""
    tokens = [await _login(c) for c in clients]
    r = await tus_create(clients[0], tokens[0], len(data), filename="clip.mp4", sha256=sha256(data))
    assert r.status == 201, await r.text()
    path = r.headers["Location"]
    offset, n = 0, 0
    while offset < len(data):
        c, tok = clients[n % 2], tokens[n % 2]
        part = data[offset : offset + chunk]
        headers = {**TUS, **bearer(tok), "Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE}
        if n % checksum_every == 0:
            headers["Upload-Checksum"] = chunk_checksum(part)
        r = await c.patch(path, data=part, headers=headers)
        assert r.status == 204, await r.text()
        offset = int(r.headers["Upload-Offset"])
        n += 1
    return r


def _rows(client: Any, model: Any) -> list[Any]:
    from sqlalchemy import select

    return app_db(client).call(lambda s: list(s.scalars(select(model))))


@pytest.mark.postgres
@pytest.mark.s3
async def test_s3_staging_patches_alternate_between_servers(
    pg_url, make_client, s3_settings
) -> None:  # type: ignore[no-untyped-def]
    settings = s3_settings(
        database_url=pg_url, upload_staging_part_bytes=5 * 1024 * 1024, worker_in_server=False
    )
    a = await make_client(settings)
    b = await make_client(settings)
    make_users(app_db(a))
    data = random_bytes(12 * 1024 * 1024 + 12345)
    # 700 KiB PATCHes: pieces wait in the bucket until a 5 MiB part is full.
    r = await _alternate([a, b], data, 700 * 1024)
    assert r.headers["Custodian-Sha256"] == sha256(data)
    (item,) = _rows(a, EvidenceItem)
    assert item.sha256 == sha256(data) and item.size == len(data)
    assert app_store(b).read_all(item.sha256) == data
    jobs = _rows(a, Job)
    assert [j.subject for j in jobs] == [item.id]
    (u,) = _rows(a, Upload)
    assert u.state == "committed" and u.received == len(data)
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    versions = s3.list_object_versions(Bucket=settings.s3_bucket, Prefix="staging/")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert not s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads")
    lock = app_store(a).retention(item.sha256)
    assert lock["mode"] == "COMPLIANCE" and lock["until"] is not None
    assert list(app_store(a).stray_files()) == []
    for c in (a, b):
        assert c.server.app[UPLOADS].locks.held == 0


@pytest.mark.postgres
@pytest.mark.s3
async def test_s3_staging_refuses_a_wrong_hash_and_leaves_nothing(
    pg_url, make_client, s3_settings
) -> None:  # type: ignore[no-untyped-def]
    settings = s3_settings(database_url=pg_url, worker_in_server=False)
    a = await make_client(settings)
    make_users(app_db(a))
    tok = await _login(a)
    data = random_bytes(300_000)
    r = await tus_create(a, tok, len(data), filename="x.mp4", sha256="0" * 64)
    path = r.headers["Location"]
    headers = {**TUS, **bearer(tok), "Upload-Offset": "0", "Content-Type": OFFSET_TYPE}
    r = await a.patch(path, data=data[:100_000], headers=headers)
    assert r.status == 204
    headers["Upload-Offset"] = "100000"
    r = await a.patch(path, data=data[100_000:], headers=headers)
    assert r.status == 460 and (await r.json())["code"] == "sha256_mismatch"
    s3 = app_store(a).client
    versions = s3.list_object_versions(Bucket=settings.s3_bucket)
    assert not versions.get("Versions")
    assert not s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads")


async def test_shared_local_staging_alternates_and_is_checked(
    make_client, make_settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared-staging"
    settings = make_settings(upload_staging_path=str(shared), worker_in_server=False)
    a = await make_client(settings)
    b = await make_client(settings)
    make_users(app_db(a))
    data = random_bytes(3 * 1024 * 1024 + 7)
    await _alternate([a, b], data, 256 * 1024)
    (item,) = _rows(a, EvidenceItem)
    assert item.sha256 == sha256(data)
    assert not list(shared.glob("upload-*.part"))
    # A server given another (unshared) folder refuses to start instead of losing PATCHes.
    other = make_settings(
        upload_staging_path=str(tmp_path / "elsewhere"),
        database_url=settings.database_url,
        data_dir=settings.data_dir,
    )
    with pytest.raises(CustodianError) as err:
        UploadManager(other, app_db(a), open_store(other))
    assert err.value.code == "staging_not_shared"


@pytest.mark.postgres
async def test_upload_locks_hold_across_processes_and_do_not_accumulate(
    make_settings, pg_url
) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.db import Database

    settings = make_settings(database_url=pg_url)
    one, two = Database(settings), Database(settings)  # two engines: two "processes"
    try:
        first, second = UploadLocks(one), UploadLocks(two)
        uid = uuid.uuid4().hex
        async with first.hold(uid, "busy"):
            with pytest.raises(Busy):
                async with second.hold(uid, "busy"):
                    pass
            with pytest.raises(Busy):  # the same process, too
                async with first.hold(uid, "busy"):
                    pass
        async with second.hold(uid, "busy"):
            pass
        for i in range(50):
            async with first.hold(f"{uid}{i}", "busy"):
                await asyncio.sleep(0)
        assert first.held == 0 and second.held == 0
        # A holder whose session dies (a server killed with -9) lets go of its locks.
        from sqlalchemy import text

        async with first.hold(uid, "busy"):
            pid = await asyncio.to_thread(
                lambda: first._conn.execute(text("SELECT pg_backend_pid()")).scalar()
            )
            with two.engine.connect() as c:
                c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await asyncio.sleep(0.2)
            async with second.hold(uid, "busy"):
                pass
        async with first.hold(uid, "busy"):  # a new session after the lost one
            pass
        first.close()
        second.close()
    finally:
        one.close()
        two.close()


def test_hash_state_continues_in_another_process() -> None:
    """The saved SHA-256 state is plain data: another interpreter continues it exactly."""
    import hashlib
    import subprocess
    import sys

    from server.intake.sha256state import ResumableSha256, available

    assert available(), "libcrypto's SHA256_* functions are missing"
    data = random_bytes(3 * 1024 * 1024 + 77)
    h = ResumableSha256()
    h.update(data[:1_000_003])
    state = h.state()
    code = (
        "import sys; from server.intake.sha256state import ResumableSha256 as R; "
        "h = R.from_state(bytes.fromhex(sys.argv[1])); h.update(sys.stdin.buffer.read()); "
        "print(h.hexdigest(), h.length)"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code, state.hex()],
            input=data[1_000_003:],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert out == [hashlib.sha256(data).hexdigest(), str(len(data))]
    with pytest.raises(ValueError):
        ResumableSha256.from_state(state[:-1])


@pytest.mark.s3
def test_s3_commit_interrupted_after_completing_is_finished_exactly(s3_settings) -> None:  # type: ignore[no-untyped-def]
    """A server died after completing the staging's multipart upload but before the copy:
    finishing the commit stores exactly the received bytes (size checked), once."""
    import json
    from datetime import UTC, datetime, timedelta

    settings = s3_settings(upload_staging_part_bytes=5 * 1024 * 1024)
    store = open_store(settings)
    staging = store.staging(settings)
    uid = uuid.uuid4().hex
    data = random_bytes(6 * 1024 * 1024 + 5)
    cut = 5 * 1024 * 1024 + 512 * 1024
    book = staging.create(uid)
    w = staging.writer(uid, 0, book)
    w.write([data[:1000]])  # a small PATCH waits as a piece
    book = w.keep()
    w = staging.writer(uid, 1000, book)
    w.write([data[1000:cut]])  # the piece and these bytes fill part 1
    book = w.keep()
    w.recorded()  # the catalogue holds the new book: the piece goes
    left = store.client.list_object_versions(  # type: ignore[attr-defined]
        Bucket=settings.s3_bucket, Prefix=f"staging/{uid}/piece-"
    )
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    w = staging.writer(uid, cut, book)
    w.write([data[cut:]])  # waits as a piece
    book = w.keep()
    b = json.loads(book)
    assert len(b["parts"]) == 1 and [p[:2] for p in b["pieces"]] == [[cut, len(data)]]
    # The crash state: the piece sent as the last part, the upload completed, not yet copied.
    etag, crc = staging.upload_part(uid, b["mpu"], 2, data[cut:])  # type: ignore[attr-defined]
    parts = [*b["parts"], [2, len(data) - cut, etag, crc]]
    store.client.complete_multipart_upload(  # type: ignore[attr-defined]
        Bucket=settings.s3_bucket,
        Key=f"staging/{uid}/data",
        UploadId=b["mpu"],
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e, "ChecksumCRC32": c} for n, _size, e, c in parts]
        },
    )
    until = datetime.now(UTC) + timedelta(days=200)
    digest = sha256(data)
    staging.commit(uid, book, digest, until)
    assert store.read_all(digest) == data
    staging.commit(uid, book, digest, until)  # again: already stored, nothing changes
    assert list(store.iter_keys()) == [digest]
    assert list(store.stray_files()) == []
    versions = store.client.list_object_versions(  # type: ignore[attr-defined]
        Bucket=settings.s3_bucket, Prefix="staging/"
    )
    assert not versions.get("Versions")
