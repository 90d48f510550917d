"""A real Custodian server on a loopback port (in a thread) with generated footage, for the
browser tests and bench/player.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from helpers import PASSWORD, add_evidence, free_port
from server.http import appkeys as keys
from server.settings import Settings, load_settings

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
CHROMIUM = "/usr/bin/chromium"


def live_settings(data: Path, **overrides: Any) -> Settings:
    overrides.setdefault("data_dir", str(data))
    overrides.setdefault("jwt_secret", "player-test-secret-" + "x" * 32)
    overrides.setdefault("store_min_free_bytes", 0)
    return load_settings(None, env={}, overrides=overrides)


class LiveServer:
    """create_app served by an AppRunner on its own event loop in a thread."""

    def __init__(self, settings: Settings) -> None:
        from server.http.app import create_app

        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self.runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.runner = web.AppRunner(self.app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        try:
            self.loop.run_until_complete(start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        assert self.runner is not None
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def start(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise RuntimeError(f"server did not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(60)

    @property
    def db(self) -> Any:
        return self.app[keys.DB]

    @property
    def store(self) -> Any:
        return self.app[keys.STORE]

    # -- HTTP ------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, token: str | None = None, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def login(self, username: str, password: str = PASSWORD) -> str:
        status, body = self.request(
            "POST", "/api/v1/auth/login", body={"username": username, "password": password}
        )
        assert status == 200, body
        return str(body["token"])

    # -- seeding ---------------------------------------------------------------------------
    def add_users(self) -> None:
        from server.people.accounts import add_agency, add_user

        def setup(s: Any) -> None:
            add_agency(s, "A1", "丽水市综合行政执法局")
            add_agency(s, "A2", "Agency two")
            add_user(s, "reviewer", PASSWORD, "reviewer", "A1", display_name="审核员")
            add_user(s, "officer", PASSWORD, "officer", "A1", display_name="执法员")
            add_user(s, "legal", PASSWORD, "legal", "A1")
            add_user(s, "admin", PASSWORD, "admin", None)

        self.db.call(setup)

    def add_item(
        self,
        path: Path,
        recorded_at: datetime | None,
        *,
        device_id: str | None = None,
        officer_id: str | None = None,
    ) -> str:
        from server.catalogue.models import EvidenceItem

        item_id = add_evidence(self.db, self.store, path)

        def stamp(s: Any) -> None:
            item = s.get(EvidenceItem, item_id)
            item.recorded_at = recorded_at
            item.device_id = device_id
            item.officer_id = officer_id

        self.db.call(stamp)
        return item_id

    def process(self, token: str, *item_ids: str, timeout: float = 180) -> dict[str, Any]:
        """Queue media processing and wait until every item reached a final status."""
        for item_id in item_ids:
            status, body = self.request("POST", f"/api/v1/evidence/{item_id}/process", token)
            assert status == 202, body
        deadline = time.monotonic() + timeout
        out: dict[str, Any] = {}
        for item_id in item_ids:
            while True:
                _, d = self.request("GET", f"/api/v1/evidence/{item_id}", token)
                job = d.get("job") or {}
                if d["status"] not in ("received", "processing") and job.get("state") in (
                    "done",
                    "failed",
                ):
                    out[item_id] = d
                    break
                assert time.monotonic() < deadline, f"item {item_id} not processed: {d}"
                time.sleep(0.2)
        return out


def login_page(page: Any, url: str, username: str = "reviewer") -> None:
    """Log in through the page's own form."""
    page.goto(url + "/")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#whoami")
