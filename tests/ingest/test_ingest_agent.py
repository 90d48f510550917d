"""The station agent end to end against a real server on a loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from ingest_support import fill_dock, random_bytes, sha256, write_credentials
from sqlalchemy import select

from ingest.agent import EXIT_FATAL, EXIT_OK, EXIT_PROBLEMS, Agent
from ingest.journal import Journal
from server.catalogue.models import EvidenceItem, LedgerRow, Upload
from server.http import appkeys as keys
from server.intake.upload_rows import intake_for

ROOT = Path(__file__).resolve().parents[2]


def catalogue(server: Any, model: Any) -> list[Any]:
    return server.app[keys.DB].call(lambda s: list(s.scalars(select(model))))


def actions(server: Any) -> list[str]:
    return [
        r.action
        for r in sorted(catalogue(server, LedgerRow), key=lambda r: r.seq)
        if r.action not in ("login", "login_failed")
    ]  # the agent's logins are ledgered too


async def run_once(cfg: Any) -> tuple[int, Agent]:
    agent = Agent(cfg)
    return await agent.run(), agent


async def wait_for(cond: Any, timeout: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_agent_uploads_a_dock_confirms_and_clears(
    live, agent_config, clips, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    sent = fill_dock(
        dock,
        {
            "DSJ001_P12345_20240305143000.mp4": clips[0],
            "VID_20240305_150000.mp4": clips[1],
            "sub/执法 记录 ..x.mp4": clips[2],
        },
    )
    (dock / "sub" / "执法 记录 ..x.mp4.json").write_text(
        json.dumps({"case": "ZF-2024-7", "stage": "inspection", "officer_id": "P777"})
    )
    rc, agent = await run_once(agent_config(server.url, [dock]))
    assert rc == EXIT_OK, agent.outcomes

    items = {i.original_filename: i for i in catalogue(server, EvidenceItem)}
    assert len(items) == 3
    for name, data in sent.items():
        item = items[Path(name).name]
        assert item.sha256 == sha256(data)  # the station's hash is the server's hash
        assert server.app[keys.STORE].read_all(item.sha256) == data
        assert item.station_id == "ST-TEST"
    cam = items["DSJ001_P12345_20240305143000.mp4"]
    assert (cam.device_id, cam.officer_id) == ("DSJ001", "P12345")
    assert cam.recorded_at.isoformat() == "2024-03-05T06:30:00+00:00"  # Asia/Shanghai -> UTC
    assert items["VID_20240305_150000.mp4"].recorded_at.isoformat() == "2024-03-05T07:00:00+00:00"
    side = items["执法 记录 ..x.mp4"]
    assert side.officer_id == "P777"
    intake = server.app[keys.DB].call(intake_for, side.id)
    assert intake["case"] == "ZF-2024-7" and intake["stage"] == "inspection"
    assert actions(server).count("ingest") == 3

    # Cleared: moved under cleared/ with the same relative path, sidecar along; dock empty.
    assert sorted(p.name for p in dock.rglob("*") if p.is_file() and "cleared" not in p.parts) == []
    assert (dock / "cleared" / "sub" / "执法 记录 ..x.mp4").read_bytes() == sent[
        "sub/执法 记录 ..x.mp4"
    ]
    assert (dock / "cleared" / "sub" / "执法 记录 ..x.mp4.json").exists()
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    entries = journal.all()
    journal.close()
    assert {e.state for e in entries} == {"cleared"} and len(entries) == 3
    assert {e.sha256 for e in entries} == {sha256(d) for d in sent.values()}

    # A second run finds nothing to do and uploads nothing twice.
    rc, _ = await run_once(agent_config(server.url, [dock]))
    assert rc == EXIT_OK and len(catalogue(server, EvidenceItem)) == 3


async def test_zero_byte_reported_not_uploaded(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    fill_dock(dock, {"empty.mp4": b"", "ok.mp4": random_bytes(5000)})
    rc, agent = await run_once(agent_config(server.url, [dock]))
    assert rc == EXIT_PROBLEMS
    assert agent.outcomes[str(dock / "empty.mp4")].state == "empty"
    assert (dock / "empty.mp4").exists() and not (dock / "ok.mp4").exists()
    assert [i.original_filename for i in catalogue(server, EvidenceItem)] == ["ok.mp4"]


async def test_file_being_written_waits_until_complete(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    dock.mkdir()
    agent = Agent(agent_config(server.url, [dock], once=False, quiet_seconds=0.5))
    task = asyncio.create_task(agent.run())
    data = random_bytes(200_000)
    with open(dock / "recording.mp4", "wb") as f:  # held open for writing, like a camera
        f.write(data[:100_000])
        f.flush()
        await asyncio.sleep(1.5)  # longer than the quiet period: only the open handle holds it
        assert catalogue(server, Upload) == []
        f.write(data[100_000:])
    await wait_for(lambda: len(catalogue(server, EvidenceItem)) == 1, what="upload after close")
    await wait_for(lambda: not (dock / "recording.mp4").exists(), what="clearing")
    agent.stop()
    assert await task == EXIT_OK
    (item,) = catalogue(server, EvidenceItem)
    assert item.sha256 == sha256(data)


class CorruptingProxy:
    """Forwards to the server; flips one byte in the body of the first `corrupt` PATCHes."""

    def __init__(self, target: str, corrupt: int = 1):
        self.target = target
        self.corrupt = corrupt
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "PATCH" and body and self.corrupt > 0:
            self.corrupt -= 1
            b = bytearray(body)
            b[len(b) // 2] ^= 0x01
            body = bytes(b)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with (
            ClientSession() as s,
            s.request(
                request.method, self.target + request.path_qs, data=body, headers=headers
            ) as r,
        ):
            payload = await r.read()
            out = {
                k: v
                for k, v in r.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
            return web.Response(status=r.status, body=payload, headers=out)

    async def start(self) -> CorruptingProxy:
        from ingest_support import free_port

        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


async def test_byte_changed_in_transit_chunk_checksum(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    proxy = await CorruptingProxy(server.url, corrupt=1).start()
    dock = tmp_path / "dock"
    sent = fill_dock(dock, {"a.mp4": random_bytes(600_000)})
    try:
        rc, agent = await run_once(agent_config(proxy.url, [dock], chunk_checksum=True))
    finally:
        await proxy.stop()
    assert rc == EXIT_OK, agent.outcomes
    (item,) = catalogue(server, EvidenceItem)
    assert item.sha256 == sha256(sent["a.mp4"])
    assert server.app[keys.STORE].read_all(item.sha256) == sent["a.mp4"]
    # The altered chunk was caught by its Upload-Checksum and resent alone: nothing refused.
    assert actions(server) == ["ingest"]


async def test_byte_changed_in_transit_whole_file_refused_then_retried(
    live, agent_config, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    proxy = await CorruptingProxy(server.url, corrupt=1).start()
    dock = tmp_path / "dock"
    sent = fill_dock(dock, {"a.mp4": random_bytes(600_000)})
    try:
        # Without per-chunk checksums the change is only caught by the whole-file SHA-256; with
        # one attempt allowed the file is refused and must stay on the dock.
        rc, agent = await run_once(
            agent_config(proxy.url, [dock], chunk_checksum=False, max_attempts=1)
        )
        assert rc == EXIT_PROBLEMS
        assert agent.outcomes[str(dock / "a.mp4")].state == "failed"
        assert (dock / "a.mp4").read_bytes() == sent["a.mp4"]
        assert catalogue(server, EvidenceItem) == [] and actions(server) == ["upload_refused"]
        # The next run retries and succeeds with the right bytes.
        rc, agent = await run_once(agent_config(proxy.url, [dock], chunk_checksum=False))
    finally:
        await proxy.stop()
    assert rc == EXIT_OK, agent.outcomes
    (item,) = catalogue(server, EvidenceItem)
    assert item.sha256 == sha256(sent["a.mp4"]) and not (dock / "a.mp4").exists()
    assert actions(server) == ["upload_refused", "ingest"]


async def test_quota_exceeded_file_stays(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live(store_quota_bytes=10_000)
    dock = tmp_path / "dock"
    fill_dock(dock, {"big.mp4": random_bytes(50_000)})
    rc, agent = await run_once(agent_config(server.url, [dock]))
    assert rc == EXIT_PROBLEMS
    out = agent.outcomes[str(dock / "big.mp4")]
    assert out.state == "waiting" and "507" in out.detail and "quota" in out.detail
    assert (dock / "big.mp4").exists() and catalogue(server, EvidenceItem) == []


async def test_wrong_credentials_and_forbidden_role(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    fill_dock(dock, {"a.mp4": random_bytes(1000)})
    rc, _ = await run_once(agent_config(server.url, [dock], password="wrong password!"))
    assert rc == EXIT_FATAL
    # Reviewers may upload one file from the page now; a supervisor never uploads.
    rc, agent = await run_once(agent_config(server.url, [dock], username="supervisor"))
    assert rc == EXIT_PROBLEMS and "403" in agent.outcomes[str(dock / "a.mp4")].detail
    assert (dock / "a.mp4").exists()


async def test_token_expiry_logs_in_again(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ingest.client import CustodianClient

    server = await live()
    client = CustodianClient(server.url, "station", agent_config(server.url, []).password)
    try:
        await client.login()
        client._token = "expired.or.revoked"  # as if it ran out while the agent was idle
        status, _, body = await client.request("GET", client.url("/api/v1/uploads"))
        assert status == 200 and body["items"] == []
    finally:
        await client.close()


async def test_dock_disappears_and_comes_back(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "usb"
    agent = Agent(agent_config(server.url, [dock], once=False))
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(0.5)  # not plugged in yet
    fill_dock(dock, {"one.mp4": random_bytes(3000)})
    await wait_for(lambda: len(catalogue(server, EvidenceItem)) == 1, what="first file")
    await wait_for(lambda: not (dock / "one.mp4").exists(), what="clearing")
    os.rename(dock, tmp_path / "unplugged")  # USB pulled
    await asyncio.sleep(0.6)
    (tmp_path / "unplugged").rename(dock)  # and plugged back with a new clip
    fill_dock(dock, {"two.mp4": random_bytes(4000)})
    await wait_for(lambda: len(catalogue(server, EvidenceItem)) == 2, what="second file")
    agent.stop()
    assert await task == EXIT_OK


async def _agent_process(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingest",
        *args,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_kill_9_mid_upload_then_restart(live, clips, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    sent = fill_dock(dock, {"big.mp4": random_bytes(6_000_000), "clip.mp4": clips[0]})
    creds = write_credentials(tmp_path / "creds.toml")
    common = [
        "--server",
        server.url,
        "--dock",
        str(dock),
        "--credentials",
        str(creds),
        "--state",
        str(tmp_path / "state"),
        "--once",
        "--service",
        "--quiet-seconds",
        "0.2",
        "--chunk-mb",
        "0.25",
        "--concurrency",
        "1",
    ]
    proc = await _agent_process(*common, "--limit-rate", "1500000")

    def big_upload() -> list[Upload]:
        return [u for u in catalogue(server, Upload) if u.filename == "big.mp4"]

    await wait_for(lambda: any(u.received > 1_000_000 for u in big_upload()), what="half an upload")
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    (u,) = big_upload()
    assert u.state == "receiving" and 0 < u.received < len(sent["big.mp4"])

    # Restart through the real console entry point.
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("custodian")),
        "ingest",
        *common,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    assert "resuming at" in out.decode()

    items = catalogue(server, EvidenceItem)
    assert sorted(i.sha256 for i in items) == sorted(
        sha256(d) for d in sent.values()
    )  # no duplicate
    assert len(big_upload()) == 1 and big_upload()[0].state == "committed"  # resumed, not restarted
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    entries = journal.all()
    journal.close()
    assert len(entries) == 2 and {e.state for e in entries} == {"cleared"}
    assert all(e.sha256 == e.server_sha256 for e in entries)
    assert "duplicate_received" not in actions(server)


async def test_server_restart_mid_upload_agent_resumes(live, agent_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = await live()
    dock = tmp_path / "dock"
    sent = fill_dock(dock, {"long.mp4": random_bytes(3_000_000)})
    agent = Agent(agent_config(server.url, [dock], limit_rate=1_500_000))
    task = asyncio.create_task(agent.run())
    await wait_for(
        lambda: any(u.received > 500_000 for u in catalogue(server, Upload)), what="progress"
    )
    await server.stop()
    await asyncio.sleep(1.0)  # the agent meets a dead server and backs off
    await server.start()
    assert await asyncio.wait_for(task, 60) == EXIT_OK, agent.outcomes
    (item,) = catalogue(server, EvidenceItem)
    assert item.sha256 == sha256(sent["long.mp4"])
    assert len(catalogue(server, Upload)) == 1
