"""Behind a real nginx (Debian's /usr/sbin/nginx, its own master process on a loopback port) with
deploy/nginx/accel.conf: Custodian checks and ledgers, nginx sends the bytes (X-Accel-Redirect)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from playback_support import CONTENT_TYPES, make_env

from helpers import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
IMMUTABLE = "private, max-age=31536000, immutable"


class Nginx:
    """nginx proxying 127.0.0.1:port to an upstream, with accel.conf pointed at a store."""

    def __init__(self, prefix: Path, upstream_port: int, store: Path):
        self.prefix, self.port = prefix, free_port()
        (prefix / "logs").mkdir(parents=True)
        accel = (ROOT / "deploy" / "nginx" / "accel.conf").read_text()
        assert "alias /var/lib/custodian-store/;" in accel
        accel = accel.replace("alias /var/lib/custodian-store/;", f"alias {store}/;")
        user = "user root;" if os.geteuid() == 0 else ""  # pytest's tmp folders are 0700
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    # what nginx sent, and what it got from Custodian for it
    log_format handoff '$request_uri $status $body_bytes_sent upstream=$upstream_response_length';
    access_log {prefix}/logs/access.log handoff;
    client_body_temp_path {prefix}/tmp_body;
    proxy_temp_path {prefix}/tmp_proxy;
    fastcgi_temp_path {prefix}/tmp_fcgi;
    uwsgi_temp_path {prefix}/tmp_uwsgi;
    scgi_temp_path {prefix}/tmp_scgi;
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Sendfile-Type X-Accel-Redirect;
        }}
        {accel}
    }}
}}
""")
        subprocess.run(
            [
                NGINX,
                "-t",
                "-p",
                str(prefix),
                "-c",
                str(self.conf),
                "-e",
                str(prefix / "logs" / "error.log"),
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                NGINX,
                "-p",
                str(prefix),
                "-c",
                str(self.conf),
                "-e",
                str(prefix / "logs" / "error.log"),
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                # nginx's own 404 (the internal location): the app shares the test's loop
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/_custodian_store/x", timeout=1
                )
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-s", "stop"], capture_output=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def nginx_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    assert shutil.which(NGINX) or Path(NGINX).exists(), f"{NGINX} is not installed"
    started: list[Nginx] = []

    def make(upstream_port: int, store: Path) -> Nginx:
        n = Nginx(tmp_path / f"nginx{len(started)}", upstream_port, store)
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


async def test_nginx_sends_the_bytes_custodian_authorises_and_ledgers(
    make_client, nginx_factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(
        make_client,
        store_path=str(tmp_path / "store"),
        accel_redirect_location="/_custodian_store/",
        trusted_proxies="127.0.0.1",
    )
    nginx = nginx_factory(env.client.server.port, tmp_path / "store")
    base = f"/api/v1/evidence/{env.item}"
    async with aiohttp.ClientSession() as http:
        # Playback through the proxy: exact bytes, Custodian's types and caching, one entry.
        for name, data in env.files.items():
            async with http.get(nginx.url(f"{base}/{name}"), headers=env.h("reviewer")) as r:
                assert r.status == 200, (name, r.status, await r.text())
                assert await r.read() == data, name
                assert r.headers["Content-Type"].startswith(CONTENT_TYPES[name]), r.headers
                expected = "private, no-cache" if name.endswith(".m3u8") else IMMUTABLE
                assert r.headers["Cache-Control"] == expected
                assert r.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
                assert "X-Accel-Redirect" not in r.headers  # nginx consumed it
        assert len(env.views()) == 1
        # The original with Range, answered by nginx from the file, named as Custodian said.
        async with http.get(
            nginx.url(f"{base}/original"), headers=env.h("reviewer", Range="bytes=1000000-1000099")
        ) as r:
            assert r.status == 206
            assert await r.read() == env.original[1_000_000:1_000_100]
            assert r.headers["Content-Range"] == f"bytes 1000000-1000099/{len(env.original)}"
            assert r.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
        async with http.get(nginx.url(f"{base}/original"), headers=env.h("reviewer")) as r:
            assert r.status == 200 and await r.read() == env.original
        assert len(env.views()) == 3  # each original download is its own entry
        # Refused callers get Custodian's refusal, never bytes.
        async with http.get(nginx.url(f"{base}/hls/seg-00000.m4s")) as r:
            assert r.status == 401 and (await r.json())["code"]
        async with http.get(
            nginx.url(f"{base}/hls/seg-00000.m4s"), headers=env.h("reviewer2")
        ) as r:
            assert r.status == 404 and len(await r.read()) < 1000
        # The internal location cannot be asked for directly, even with a token.
        store = tmp_path / "store"
        seg = hashlib.sha256(env.files["hls/seg-00000.m4s"]).hexdigest()
        internal = f"/_custodian_store/{seg[:2]}/{seg[2:4]}/{seg}"
        assert (store / internal.removeprefix("/_custodian_store/")).exists()
        async with http.get(nginx.url(internal), headers=env.h("reviewer")) as r:
            assert r.status == 404 and len(await r.read()) < 1000
        # A client cannot make Custodian hand off to a path of its choosing or skip the check:
        # the header it sends is replaced by the proxy's, and the path comes from the catalogue.
        async with http.get(
            nginx.url(f"{base}/hls/seg-00001.m4s"),
            headers=env.h("reviewer", **{"X-Sendfile-Type": "none"}),
        ) as r:
            assert await r.read() == env.files["hls/seg-00001.m4s"]
    # Custodian sent no bytes of any of those: nginx sent them, from the file.
    log = (nginx.prefix / "logs" / "access.log").read_text().splitlines()
    seg0 = [line for line in log if line.startswith(f"{base}/hls/seg-00000.m4s 200 ")]
    assert seg0 == [
        f"{base}/hls/seg-00000.m4s 200 {len(env.files['hls/seg-00000.m4s'])} upstream=0"
    ]
    original = [line for line in log if line.startswith(f"{base}/original 20")]
    assert [line.rsplit(" ", 1)[1] for line in original] == ["upstream=0", "upstream=0"]


async def test_direct_clients_still_get_bytes_when_the_proxy_is_configured(
    make_client, nginx_factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env = await make_env(
        make_client,
        store_path=str(tmp_path / "store"),
        accel_redirect_location="/_custodian_store/",
        trusted_proxies="127.0.0.1",
    )
    nginx_factory(env.client.server.port, tmp_path / "store")
    r = await env.client.get(
        f"/api/v1/evidence/{env.item}/hls/seg-00000.m4s", headers=env.h("reviewer")
    )
    assert r.status == 200 and await r.read() == env.files["hls/seg-00000.m4s"]
