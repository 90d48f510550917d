"""A server that dies while committing an upload (every byte received, no evidence item yet)
heals by itself (issue 19, points 1 and 10): the next server process finishes the commit on
start, a HEAD finishes it, an empty last PATCH finishes it, and a station agent whose journal
names a server that is gone resumes through the server it is configured with now.

The crash is reproduced by stopping a real server with the upload's last byte unsent, then
leaving the catalogue and partial file exactly as `_commit` leaves them after
`_set_committing` and before the store adoption (what a kill -9 at that line leaves)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from ingest_support import TUS, fill_dock, random_bytes, sha256, tus_create, tus_patch
from sqlalchemy import select

from helpers import bearer, free_port
from ingest.agent import EXIT_OK, Agent
from ingest.journal import Journal
from server.catalogue.db import Database
from server.catalogue.models import EvidenceItem, Upload
from server.http import appkeys as keys
from server.http.appkeys import UPLOADS


class Remote:
    """Calls a live server over HTTP as the station user."""

    def __init__(self, base: str):
        self.base = base
        self.session = ClientSession(base)
        self.token = ""

    async def login(self) -> None:
        from helpers import PASSWORD

        r = await self.session.post(
            "/api/v1/auth/login", json={"username": "station", "password": PASSWORD}
        )
        self.token = (await r.json())["token"]

    async def close(self) -> None:
        await self.session.close()


async def _upload_all_but_last_byte(server: Any, data: bytes, name: str) -> str:
    remote = Remote(server.url)
    await remote.login()
    try:
        r = await tus_create(
            remote.session, remote.token, len(data), filename=name, sha256=sha256(data)
        )
        assert r.status == 201, await r.text()
        url = r.headers["Location"]
        r = await tus_patch(remote.session, remote.token, url, 0, data[:-1])
        assert r.status == 204, await r.text()
        return url.rsplit("/", 1)[1]
    finally:
        await remote.close()


def _crash_inside_commit(
    server: Any, upload_id: str, data: bytes, *, state: str, part: Path | None = None
) -> Path:
    """Leave what a process killed inside the commit leaves: all bytes in the partial file and
    the upload `committing` with its hash (or `receiving` at full length, killed just before
    `_set_committing`)."""
    part = part or server.app[UPLOADS].part_path(upload_id)
    with open(part, "ab") as f:
        f.write(data[-1:])
        f.flush()
        os.fsync(f.fileno())
    db = Database(server.settings)
    try:

        def leave(s: Any) -> None:
            u = s.get(Upload, upload_id)
            u.received = len(data)
            u.state = state
            if state == "committing":
                u.server_sha256 = hashlib.sha256(data).hexdigest()
                u.claimed_sha256 = u.claimed_sha256 or u.server_sha256

        db.call(leave)
    finally:
        db.close()
    return part


def _upload(server: Any, upload_id: str) -> Upload:
    return server.app[keys.DB].call(lambda s: s.get(Upload, upload_id))


def _items(server: Any) -> list[EvidenceItem]:
    return server.app[keys.DB].call(lambda s: list(s.scalars(select(EvidenceItem))))


async def _eventually(cond: Any, timeout: float = 20.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "not reached in time"
        await asyncio.sleep(0.1)


async def test_next_server_finishes_an_interrupted_commit_on_start(live) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    data = random_bytes(400_000)
    upload_id = await _upload_all_but_last_byte(server, data, "cut.mp4")
    part = server.app[UPLOADS].part_path(upload_id)
    await server.stop()  # the process is gone
    _crash_inside_commit(server, upload_id, data, state="committing", part=part)

    await server.start()
    await _eventually(lambda: _upload(server, upload_id).state == "committed")
    (item,) = _items(server)
    assert item.sha256 == sha256(data)
    assert server.app[keys.STORE].read_all(item.sha256) == data
    assert not part.exists()  # no full .part left in the store's temp folder


async def test_head_finishes_a_commit_killed_before_it_was_marked(live) -> None:  # type: ignore[no-untyped-def]
    server = await live(upload_cleanup_interval_seconds=3600)
    data = random_bytes(300_000)
    upload_id = await _upload_all_but_last_byte(server, data, "edge.mp4")
    _crash_inside_commit(server, upload_id, data, state="receiving")
    remote = Remote(server.url)
    await remote.login()
    try:
        h = await remote.session.head(
            f"/api/v1/uploads/{upload_id}", headers={**TUS, **bearer(remote.token)}
        )
        assert h.status == 200
        assert h.headers["Upload-Offset"] == str(len(data))
        assert h.headers["Custodian-Sha256"] == sha256(data)
        assert h.headers["Custodian-Evidence-Id"]
    finally:
        await remote.close()
    assert _upload(server, upload_id).state == "committed"


async def test_empty_last_patch_finishes_a_committing_upload(live) -> None:  # type: ignore[no-untyped-def]
    """What the agent sends when it finds offset = length and no evidence id."""
    server = await live(upload_cleanup_interval_seconds=3600)
    data = random_bytes(200_000)
    upload_id = await _upload_all_but_last_byte(server, data, "late.mp4")
    _crash_inside_commit(server, upload_id, data, state="committing")
    remote = Remote(server.url)
    await remote.login()
    try:
        r = await tus_patch(
            remote.session,
            remote.token,
            f"/api/v1/uploads/{upload_id}",
            len(data),
            b"",
            checksum=False,
            claim=sha256(data),
        )
        assert r.status == 204, await r.text()
        assert r.headers["Custodian-Evidence-Id"]
    finally:
        await remote.close()
    assert [i.sha256 for i in _items(server)] == [sha256(data)]


async def test_agent_resumes_through_the_configured_server_not_the_journal_host(
    live, agent_config, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Point 10: the journal's upload URL names a server that is gone; the agent resumes the
    same upload (same id, no second upload) through the server it is configured with."""
    server = await live(upload_cleanup_interval_seconds=3600)
    dock = tmp_path / "dock"
    sent = fill_dock(dock, {"moved.mp4": random_bytes(500_000)})
    data = sent["moved.mp4"]
    upload_id = await _upload_all_but_last_byte(server, data, "moved.mp4")
    path = dock / "moved.mp4"
    st = path.stat()
    state = tmp_path / "state"
    state.mkdir()
    journal = Journal(state / "journal.sqlite")
    e = journal.ensure(str(path), st.st_size, st.st_mtime_ns)
    dead = f"http://127.0.0.1:{free_port()}/api/v1/uploads/{upload_id}"
    journal.update(e.id, state="uploading", upload_url=dead)
    journal.close()

    agent = Agent(agent_config(server.url, [dock], state_dir=state, clear_mode="leave"))
    assert await agent.run() == EXIT_OK, agent.outcomes
    ups = server.app[keys.DB].call(lambda s: list(s.scalars(select(Upload))))
    assert [u.id for u in ups] == [upload_id]  # resumed, not uploaded again
    assert ups[0].state == "committed"
    assert [i.sha256 for i in _items(server)] == [sha256(data)]


async def test_leave_mode_delivers_changed_content_with_same_name_size_and_mtime(
    live, agent_config, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Point 8: in --clear leave mode a file rewritten in place with other bytes of the same
    size, its mtime put back, is delivered again; an untouched file is not re-sent."""
    server = await live()
    dock = tmp_path / "dock"
    first = fill_dock(dock, {"same.mp4": random_bytes(120_000), "other.mp4": random_bytes(50_000)})
    cfg = agent_config(server.url, [dock], clear_mode="leave")
    agent = Agent(cfg)
    assert await agent.run() == EXIT_OK, agent.outcomes
    assert len(_items(server)) == 2

    path = dock / "same.mp4"
    st = path.stat()
    changed = random_bytes(len(first["same.mp4"]))
    path.write_bytes(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # name, size and mtime as before
    assert path.stat().st_mtime_ns == st.st_mtime_ns

    agent = Agent(cfg)
    assert await agent.run() == EXIT_OK, agent.outcomes
    assert sorted(i.sha256 for i in _items(server)) == sorted(
        [sha256(first["same.mp4"]), sha256(first["other.mp4"]), sha256(changed)]
    )

    agent = Agent(cfg)  # a third pass re-sends nothing
    assert await agent.run() == EXIT_OK, agent.outcomes
    assert len(_items(server)) == 3
