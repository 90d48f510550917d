"""Serving stored objects fast (issue 18): sendfile, Range, the media grant cache, X-Accel-Redirect
answers, and playback's own thread pool. Real app, real store, real catalogue."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playback_support import CONTENT_TYPES, Env, make_env
from sqlalchemy import func, select

from helpers import PASSWORD, app_store
from server.catalogue.models import LedgerRow, User
from server.errors import SettingsError
from server.http import appkeys as keys
from server.settings import load_settings

IMMUTABLE = "private, max-age=31536000, immutable"


@pytest.fixture(params=[True, False], ids=["sendfile", "threads"])
async def env(request: pytest.FixtureRequest, make_client) -> Env:  # type: ignore[no-untyped-def]
    return await make_env(make_client, stream_sendfile=request.param)


async def test_whole_objects_ranges_and_heads_are_exact(env: Env) -> None:
    url = f"/api/v1/evidence/{env.item}/original"
    r = await env.client.get(url, headers=env.h("reviewer"))
    assert r.status == 200 and await r.read() == env.original
    assert r.headers["Content-Length"] == str(len(env.original))
    assert r.headers["ETag"].strip('"') == (await _item_sha(env))
    assert r.headers["Accept-Ranges"] == "bytes"
    assert "attachment; filename*=UTF-8''DSJ001%20" in r.headers["Content-Disposition"]
    size = len(env.original)
    for header, (start, end) in {
        "bytes=0-0": (0, 1),
        "bytes=14-27": (14, 28),
        "bytes=-5": (size - 5, size),
        f"bytes={size - 10}-": (size - 10, size),
        "bytes=1000000-2999999": (1_000_000, 3_000_000),
        "bytes=100-99999999": (100, size),
        f"bytes=-{size + 50}": (0, size),
    }.items():
        r = await env.client.get(url, headers=env.h("reviewer", Range=header))
        body = await r.read()
        assert r.status == 206, header
        assert body == env.original[start:end], header
        assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/{size}", header
        assert r.headers["Content-Length"] == str(end - start)
    r = await env.client.get(url, headers=env.h("reviewer", Range=f"bytes={size}-"))
    assert r.status == 416 and (await r.json())["code"] == "bad_range"
    r = await env.client.get(url, headers=env.h("reviewer", Range="bytes=a-b"))  # ignored
    assert r.status == 200 and len(await r.read()) == size
    r = await env.client.head(url, headers=env.h("reviewer"))
    assert r.status == 200 and r.headers["Content-Length"] == str(size) and await r.read() == b""
    # The connection is still good for the next request after all of that.
    r = await env.client.get(url, headers=env.h("reviewer", Range="bytes=5-9"))
    assert await r.read() == env.original[5:10]


async def test_renditions_keep_their_types_and_caching(env: Env) -> None:
    base = f"/api/v1/evidence/{env.item}/"
    for name, data in env.files.items():
        r = await env.client.get(base + name, headers=env.h("reviewer"))
        assert r.status == 200 and await r.read() == data, name
        assert r.headers["Content-Type"] == CONTENT_TYPES[name]
        expected = "private, no-cache" if name.endswith(".m3u8") else IMMUTABLE
        assert r.headers["Cache-Control"] == expected
    r = await env.client.get(
        base + "hls/seg-00000.m4s", headers=env.h("reviewer", Range="bytes=2599990-")
    )
    assert r.status == 206 and await r.read() == env.files["hls/seg-00000.m4s"][2_599_990:]
    r = await env.client.get(base + "hls/seg-00009.m4s", headers=env.h("reviewer"))
    assert r.status == 404 and (await r.json())["code"] == "no_rendition"


async def test_many_concurrent_reviewers_get_exact_bytes(env: Env) -> None:
    seg = env.files["hls/seg-00000.m4s"]

    async def one(i: int) -> None:
        if i % 3 == 0:
            r = await env.client.get(
                f"/api/v1/evidence/{env.item}/hls/seg-00000.m4s", headers=env.h("reviewer")
            )
            assert await r.read() == seg
        else:
            start = i * 1000
            r = await env.client.get(
                f"/api/v1/evidence/{env.item}/original",
                headers=env.h("reviewer", Range=f"bytes={start}-"),
            )
            assert await r.read() == env.original[start:]

    await asyncio.gather(*(one(i) for i in range(24)))


async def test_a_viewer_leaving_mid_transfer_leaves_the_server_serving(env: Env) -> None:
    port = env.client.server.port
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"GET /api/v1/evidence/{env.item}/original HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {env.tokens['reviewer']}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        await reader.read(1000)
        writer.transport.abort()  # gone, with megabytes unsent
    r = await env.client.get(f"/api/v1/evidence/{env.item}/original", headers=env.h("reviewer"))
    assert await r.read() == env.original


async def test_missing_or_damaged_objects_fail_before_any_byte(make_client) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(make_client)
    store = app_store(env.client)
    sha = await _item_sha(env)
    path = store.path_for(sha)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:  # damage from outside: the file lost its tail
        f.truncate(1000)
    r = await env.client.get(f"/api/v1/evidence/{env.item}/original", headers=env.h("reviewer"))
    body = await r.json()
    assert r.status == 500 and body["code"] == "store_damaged"
    path.unlink()
    r = await env.client.get(f"/api/v1/evidence/{env.item}/original", headers=env.h("reviewer"))
    assert r.status == 404 and (await r.json())["code"] == "object_not_found"


async def test_x_accel_redirect_only_for_a_trusted_proxy_that_asks(make_client) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(
        make_client, accel_redirect_location="/_custodian_store/", trusted_proxies="127.0.0.1"
    )
    store = app_store(env.client)
    seg = f"/api/v1/evidence/{env.item}/hls/seg-00000.m4s"
    asks = {"X-Sendfile-Type": "X-Accel-Redirect"}
    r = await env.client.get(seg, headers=env.h("reviewer", **asks))
    assert r.status == 200 and await r.read() == b""
    key = store.path_for(_sha(env.files["hls/seg-00000.m4s"]))
    assert r.headers["X-Accel-Redirect"] == (
        f"/_custodian_store/{key.relative_to(store.root).as_posix()}"
    )
    assert r.headers["Content-Type"] == "video/iso.segment"
    assert r.headers["Cache-Control"] == IMMUTABLE
    assert len(env.views()) == 1  # checked and ledgered before the hand-off
    # The proxy answers the Range from the file: no Content-Range of ours.
    r = await env.client.get(
        f"/api/v1/evidence/{env.item}/original",
        headers=env.h("reviewer", Range="bytes=10-19", **asks),
    )
    assert r.status == 200 and "Content-Range" not in r.headers and await r.read() == b""
    assert r.headers["Content-Disposition"].startswith("attachment;")
    # Without the header (a direct client): the bytes.
    r = await env.client.get(seg, headers=env.h("reviewer"))
    assert "X-Accel-Redirect" not in r.headers
    assert await r.read() == env.files["hls/seg-00000.m4s"]
    # A refused fetch is refused, header or not.
    r = await env.client.get(seg, headers=env.h("reviewer2", **asks))
    assert r.status == 404 and "X-Accel-Redirect" not in r.headers


async def test_x_accel_header_from_an_untrusted_peer_is_ignored(make_client) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(
        make_client, accel_redirect_location="/_custodian_store/", trusted_proxies="10.0.0.0/8"
    )
    r = await env.client.get(
        f"/api/v1/evidence/{env.item}/hls/seg-00001.m4s",
        headers=env.h("reviewer", **{"X-Sendfile-Type": "X-Accel-Redirect"}),
    )
    assert "X-Accel-Redirect" not in r.headers
    assert await r.read() == env.files["hls/seg-00001.m4s"]


def test_accel_settings_are_checked_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def load(**o):  # type: ignore[no-untyped-def]
        return load_settings(None, env={}, overrides={"data_dir": str(tmp_path), **o})

    for bad in ("_custodian_store/", "/_custodian_store", "/", "/a/../b/"):
        with pytest.raises(SettingsError, match="accel_redirect_location"):
            load(accel_redirect_location=bad, trusted_proxies="127.0.0.1")
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load(accel_redirect_location="/_custodian_store/")
    for name in ("stream_threads", "upload_threads"):
        with pytest.raises(SettingsError, match=name):
            load(**{name: 0})
    with pytest.raises(SettingsError, match="media_access_cache_seconds"):
        load(media_access_cache_seconds=-1)
    assert (
        load(
            accel_redirect_location="/_custodian_store/", trusted_proxies="127.0.0.1"
        ).accel_redirect_location
        == "/_custodian_store/"
    )


async def test_a_remembered_grant_never_outlives_the_account_or_crosses_users(make_client) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(make_client, media_access_cache_seconds=300)
    base = f"/api/v1/evidence/{env.item}/hls/"
    assert (await env.client.get(base + "index.m3u8", headers=env.h("reviewer"))).status == 200
    for _ in range(3):
        r = await env.client.get(base + "seg-00000.m4s", headers=env.h("reviewer"))
        assert r.status == 200
        await r.read()
    assert len(env.views()) == 1  # one playback, one entry
    # Another agency's reviewer is refused (and that is a ledgered denial, not a grant).
    r = await env.client.get(base + "seg-00000.m4s", headers=env.h("reviewer2"))
    assert r.status == 404
    denials = env.db().call(
        lambda s: s.scalar(
            select(func.count()).select_from(LedgerRow).where(LedgerRow.action == "access_denied")
        )
    )
    assert denials == 1
    # Disabling the account takes effect on the next segment, grant or not.
    uid = env.db().call(lambda s: s.scalar(select(User.id).where(User.username == "reviewer")))
    r = await env.client.patch(
        f"/api/v1/users/{uid}", json={"active": False}, headers=env.h("admin")
    )
    assert r.status == 200, await r.text()
    r = await env.client.get(base + "seg-00000.m4s", headers=env.h("reviewer"))
    assert r.status == 401 and (await r.json())["code"] == "account_disabled"
    # A playlist fetch is always a new playback entry, grant or not.
    await env.client.patch(f"/api/v1/users/{uid}", json={"active": True}, headers=env.h("admin"))
    login = await env.client.post(
        "/api/v1/auth/login", json={"username": "reviewer", "password": PASSWORD}
    )
    token = (await login.json())["token"]
    for _ in range(2):
        r = await env.client.get(base + "index.m3u8", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200
    assert len(env.views()) == 3


async def test_playback_is_not_queued_behind_busy_jobs(make_client) -> None:  # type: ignore[no-untyped-def]
    """Every job thread and asyncio's default executor are taken: segments (a cold open on the
    streaming pool, then sendfile) and an S3-less original still come at once."""
    env = await make_env(make_client)
    app = env.client.server.app
    pools = [app[keys.STREAM_POOL], app[keys.UPLOAD_POOL], app[keys.JOB_POOL]]
    assert (
        all(isinstance(p, ThreadPoolExecutor) for p in pools) and len({id(p) for p in pools}) == 3
    )
    release = threading.Event()
    loop = asyncio.get_running_loop()
    hogs = [loop.run_in_executor(app[keys.JOB_POOL], release.wait, 30) for _ in range(8)]
    hogs += [loop.run_in_executor(None, release.wait, 30) for _ in range(64)]
    try:
        async with asyncio.timeout(10):
            for name in ("hls/index.m3u8", "hls/seg-00000.m4s", "hls/seg-00001.m4s", "original"):
                r = await env.client.get(
                    f"/api/v1/evidence/{env.item}/{name}", headers=env.h("reviewer")
                )
                assert r.status == 200
                await r.read()
    finally:
        release.set()
        await asyncio.gather(*hogs)


async def test_uploads_and_jobs_run_on_the_apps_pools(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(worker_in_server=True)
    app = client.server.app
    assert app[keys.UPLOADS]._pool is app[keys.UPLOAD_POOL]
    assert app[keys.WORKERS].executor is app[keys.JOB_POOL]
    pools = [app[keys.STREAM_POOL], app[keys.UPLOAD_POOL], app[keys.JOB_POOL]]
    await client.close()
    for pool in pools:  # shut down with the app
        with pytest.raises(RuntimeError):
            pool.submit(print)


@pytest.mark.s3
async def test_s3_objects_stream_with_ranges(make_client, moto_endpoint) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(
        make_client,
        original_bytes=1_500_000,
        store_backend="s3",
        s3_endpoint_url=moto_endpoint,
        s3_bucket=f"t-{uuid.uuid4().hex[:12]}",
        s3_access_key="testing",
        s3_secret_key="testing",
        s3_create_bucket=True,
        accel_redirect_location="/_custodian_store/",
        trusted_proxies="127.0.0.1",
    )
    url = f"/api/v1/evidence/{env.item}/original"
    asks = {"X-Sendfile-Type": "X-Accel-Redirect"}  # no hand-off for S3: the bytes come
    r = await env.client.get(url, headers=env.h("reviewer", **asks))
    assert r.status == 200 and await r.read() == env.original
    r = await env.client.get(url, headers=env.h("reviewer", Range="bytes=1048570-1048589"))
    assert r.status == 206 and await r.read() == env.original[1_048_570:1_048_590]
    r = await env.client.get(
        f"/api/v1/evidence/{env.item}/hls/seg-00000.m4s", headers=env.h("reviewer")
    )
    assert await r.read() == env.files["hls/seg-00000.m4s"]


# -- small helpers ------------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _item_sha(env: Env) -> str:
    return _sha(env.original)


def _tls_context(tmp_path):  # type: ignore[no-untyped-def]
    """A server TLS context with a throwaway self-signed certificate for 127.0.0.1."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "tls.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "tls.pem", tmp_path / "tls.key")
    return ctx


async def test_tls_served_by_python_falls_back_to_streaming(
    aiohttp_client, make_settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """No sendfile through TLS: the same bytes come from the streaming pool instead."""
    from server.http.app import create_app

    ctx = _tls_context(tmp_path)

    async def make_client(**overrides):  # type: ignore[no-untyped-def]
        from aiohttp.test_utils import TestServer

        server = TestServer(create_app(make_settings(**overrides)))
        await server.start_server(ssl=ctx)  # started here: aiohttp_client would not pass ssl
        import ssl

        import aiohttp

        trust = ssl.create_default_context(cafile=str(tmp_path / "tls.pem"))
        return await aiohttp_client(server, connector=aiohttp.TCPConnector(ssl=trust))

    env = await make_env(make_client)
    assert env.client.server.scheme == "https"
    url = f"/api/v1/evidence/{env.item}/original"
    r = await env.client.get(url, headers=env.h("reviewer"))
    assert r.status == 200 and await r.read() == env.original
    r = await env.client.get(url, headers=env.h("reviewer", Range="bytes=1048570-2097160"))
    assert r.status == 206 and await r.read() == env.original[1_048_570:2_097_161]
    r = await env.client.get(
        f"/api/v1/evidence/{env.item}/hls/seg-00000.m4s", headers=env.h("reviewer")
    )
    assert await r.read() == env.files["hls/seg-00000.m4s"]


async def test_playbacks_starting_together_share_commits_and_keep_the_chain(make_client) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    env = await make_env(make_client)
    commits = []  # transactions that wrote ledger entries, and how many each
    engine = env.db().engine
    wrote: dict[int, int] = {}

    def statement(conn, cursor, sql, *args):  # type: ignore[no-untyped-def]
        if sql.lstrip().upper().startswith("INSERT INTO LEDGER"):
            wrote[id(conn)] = wrote.get(id(conn), 0) + 1

    def commit(conn):  # type: ignore[no-untyped-def]
        if id(conn) in wrote:
            commits.append(wrote.pop(id(conn)))

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        rs = await asyncio.gather(
            *(
                env.client.get(
                    f"/api/v1/evidence/{env.item}/hls/index.m3u8",
                    headers=env.h("reviewer" if i % 2 else "admin"),
                )
                for i in range(30)
            )
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert [r.status for r in rs] == [200] * 30
    views = env.views()
    assert len(views) == 30  # every playback its own entry, each committed before its bytes
    assert sum(commits) == 30 and len(commits) < 30, commits  # not one transaction each
    rows = env.db().call(lambda s: list(s.scalars(select(LedgerRow).order_by(LedgerRow.seq))))
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.seq == before.seq + 1 and after.prev_hash == before.entry_hash
