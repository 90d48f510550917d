"""One contract, two backends: the local folder and S3 (moto server) with Object Lock."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers import free_port
from server.errors import (
    BadRequest,
    ObjectMismatch,
    ObjectNotFound,
    StoreFull,
    StoreUnavailable,
)
from server.store import open_store
from server.store.base import ObjectStore


def write(path: Path, data: bytes) -> tuple[Path, str]:
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, make_settings, tmp_path: Path) -> ObjectStore:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return open_store(make_settings())
    return open_store(
        request.getfixturevalue("s3_settings")(
            s3_multipart_threshold_bytes=6 * 1024 * 1024, s3_part_size_bytes=5 * 1024 * 1024
        )
    )


def test_put_then_read_back_exact_bytes(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path, key = write(tmp_path / "a.bin", data)
    result = store.put_file(path, key)
    assert result.created and result.size == len(data)
    assert store.exists(key) and store.size(key) == len(data)
    assert store.read_all(key) == data
    assert path.read_bytes() == data  # the source is left alone
    assert key in set(store.iter_keys())


def test_second_put_of_same_bytes_is_a_noop(store: ObjectStore, tmp_path: Path) -> None:
    path, key = write(tmp_path / "a.bin", b"same bytes" * 100)
    assert store.put_file(path, key).created
    again = store.put_file(path, key)
    assert not again.created
    assert list(store.iter_keys()).count(key) == 1


def test_put_with_mismatching_bytes_is_refused_and_leaves_nothing(
    store: ObjectStore, tmp_path: Path
) -> None:
    path, _ = write(tmp_path / "a.bin", b"the real bytes")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(ObjectMismatch):
        store.put_file(path, wrong)
    assert not store.exists(wrong)
    assert wrong not in set(store.iter_keys())


def test_existing_object_is_never_overwritten(store: ObjectStore, tmp_path: Path) -> None:
    path, key = write(tmp_path / "a.bin", b"original evidence")
    store.put_file(path, key)
    forged, _ = write(tmp_path / "b.bin", b"forged evidence, longer")
    with pytest.raises(ObjectMismatch):
        store.put_file(forged, key)
    assert store.read_all(key) == b"original evidence"


def test_ranged_reads(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    path, key = write(tmp_path / "a.bin", data)
    store.put_file(path, key)
    assert b"".join(store.open_range(key, 10, 20)) == data[10:20]
    assert b"".join(store.open_range(key, 1_000_000)) == data[1_000_000:]
    assert b"".join(store.open_range(key, 2_499_990, 2_500_000)) == data[-10:]


def test_missing_object(store: ObjectStore) -> None:
    key = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.size(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABC", "0" * 63, "g" * 64, "/" + "0" * 63])
def test_hostile_keys_refused(store: ObjectStore, tmp_path: Path, key: str) -> None:
    path, _ = write(tmp_path / "a.bin", b"x")
    with pytest.raises(BadRequest):
        store.put_file(path, key)


def test_large_object_streams_in_parts(store: ObjectStore, tmp_path: Path) -> None:
    """12 MiB: multipart on S3 (threshold 6 MiB), block copy locally."""
    data = os.urandom(12 * 1024 * 1024)
    path, key = write(tmp_path / "big.bin", data)
    assert store.put_file(path, key).created
    assert hashlib.sha256(b"".join(store.open_range(key))).hexdigest() == key


def test_adopt_moves_an_already_hashed_file(store: ObjectStore, tmp_path: Path) -> None:
    path, key = write(tmp_path / "upload.part", b"uploaded and hashed on the way in")
    assert store.adopt(path, key).created
    assert not path.exists()
    assert store.read_all(key) == b"uploaded and hashed on the way in"


# -- local specifics --------------------------------------------------------------------------
def test_local_objects_are_read_only_and_no_temp_left(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(make_settings())
    path, key = write(tmp_path / "a.bin", b"evidence")
    store.put_file(path, key)
    mode = store.path_for(key).stat().st_mode  # type: ignore[attr-defined]
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with pytest.raises(ObjectMismatch):
        store.put_file(write(tmp_path / "b.bin", b"nope")[0], key)
    assert list(store.tmp.iterdir()) == []  # type: ignore[attr-defined]


def test_local_quota_refuses_with_507_and_keeps_nothing(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(make_settings(store_quota_bytes=1000))
    small, k1 = write(tmp_path / "a.bin", b"a" * 600)
    store.put_file(small, k1)
    big, k2 = write(tmp_path / "b.bin", b"b" * 600)
    with pytest.raises(StoreFull) as info:
        store.put_file(big, k2)
    assert info.value.status == 507 and "quota" in info.value.message
    assert not store.exists(k2)
    assert list(store.tmp.iterdir()) == []  # type: ignore[attr-defined]


def test_local_disk_full_leaves_nothing_half_written(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real full filesystem: a 1 MiB tmpfs holding the store."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.system(f"mount -t tmpfs -o size=1m tmpfs {mnt} 2>/dev/null") != 0:
        pytest.fail(
            "cannot mount a tmpfs here (tests run as root in CI); the disk-full test needs one"
        )
    try:
        store = open_store(make_settings(store_path=str(mnt / "store"), store_min_free_bytes=0))
        path, key = write(tmp_path / "big.bin", os.urandom(1_500_000))
        with pytest.raises(StoreFull) as info:
            store.put_file(path, key)
        assert "full" in info.value.message
        assert not store.exists(key)
        assert list((mnt / "store" / ".tmp").iterdir()) == []
    finally:
        os.system(f"umount {mnt}")


def test_local_min_free_reserve(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(make_settings(store_min_free_bytes=10**18))
    path, key = write(tmp_path / "a.bin", b"x")
    with pytest.raises(StoreFull, match="free"):
        store.put_file(path, key)


# -- S3 specifics -----------------------------------------------------------------------------
@pytest.mark.s3
def test_s3_originals_are_locked_in_compliance_mode(s3_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(s3_settings())
    path, key = write(tmp_path / "a.bin", b"locked evidence")
    until = datetime.now(UTC) + timedelta(days=200)
    store.put_file(path, key, retention_until=until)
    info = store.retention(key)  # type: ignore[attr-defined]
    assert info["mode"] == "COMPLIANCE"
    assert abs((info["until"] - until).total_seconds()) < 2
    # A delete inside retention is refused by S3 itself (Object Lock), not by our code.
    client = store.client  # type: ignore[attr-defined]
    versions = client.list_object_versions(Bucket=store.bucket, Prefix=store.key(key))["Versions"]  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="AccessDenied|locked|retention|WORM"):
        client.delete_object(
            Bucket=store.bucket, Key=store.key(key), VersionId=versions[0]["VersionId"]
        )  # type: ignore[attr-defined]
    assert store.read_all(key) == b"locked evidence"


@pytest.mark.s3
def test_s3_endpoint_down_is_a_clear_error(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"
    store = open_store(
        make_settings(
            store_backend="s3",
            s3_endpoint_url=dead,
            s3_access_key="k",
            s3_secret_key="s",
            s3_connect_timeout_s=1.0,
            s3_retries=1,
        )
    )
    path, key = write(tmp_path / "a.bin", b"evidence")
    with pytest.raises(StoreUnavailable, match="unreachable") as info:
        store.put_file(path, key)
    assert info.value.status == 503 and dead in info.value.message
    with pytest.raises(StoreUnavailable):
        store.health()
    assert path.read_bytes() == b"evidence"


def test_store_answers_local_path_location_retention_and_hold(
    store: ObjectStore, tmp_path: Path
) -> None:
    """The whole store interface, so nobody outside server/store asks which backend it is."""
    path, key = write(tmp_path / "a.bin", b"held evidence")
    until = datetime.now(UTC) + timedelta(days=200)
    store.put_file(path, key, retention_until=until)
    local = store.local_path(key)
    if store.name == "local":
        assert local is not None and local.read_bytes() == b"held evidence"
        assert store.location(key) == str(local)
    else:
        assert local is None and store.location(key) == f"s3:objects/{key}"
    store.set_retention(key, until + timedelta(days=30))
    store.set_retention(key, until - timedelta(days=30))  # never shortened, never an error
    store.legal_hold(key, True)
    store.legal_hold(key, False)
    if store.name == "s3":
        info = store.retention(key)  # type: ignore[attr-defined]
        assert abs((info["until"] - (until + timedelta(days=30))).total_seconds()) < 2
    assert store.read_all(key) == b"held evidence"
