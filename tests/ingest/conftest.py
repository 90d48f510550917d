"""Fixtures of the ingest tests: a live server on a loopback port, generated clips, agent configs."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from ingest_support import LiveServer, free_port, make_users, write_credentials

from ingest.agent import AgentConfig
from ingest.naming import load_naming


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small real clips (H.264 + AAC, 1 s, keyframe every 2 s), made once per session."""
    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("clips")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    paths = []
    for i, freq in enumerate((440, 660, 880)):
        p = out / f"clip{i}.mp4"
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=15:duration=1",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={freq}:duration=1",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
                "-c:a",
                "aac",
                "-shortest",
                str(p),
            ],
            check=True,
            timeout=60,
        )
        paths.append(p)
    return paths


@pytest.fixture
async def live(make_settings: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """Start a real server on a free loopback port: `await live(**settings_overrides)`."""
    servers: list[LiveServer] = []

    async def start(**overrides: Any) -> LiveServer:
        server = LiveServer(make_settings(**overrides), free_port())
        await server.start()
        from server.http import appkeys as keys

        make_users(server.app[keys.DB])
        servers.append(server)
        return server

    yield start
    for s in servers:
        await s.stop()


@pytest.fixture
def agent_config(tmp_path: Path) -> Callable[..., AgentConfig]:
    """An AgentConfig for a test: fast quiet period and scans, small chunks, no progress bars."""
    creds = write_credentials(tmp_path / "station.toml")

    def make(server: str, docks: list[Path], **kw: Any) -> AgentConfig:
        import tomllib

        c = tomllib.loads(creds.read_text())
        kw.setdefault("username", c["username"])
        kw.setdefault("password", c["password"])
        base: dict[str, Any] = dict(
            server=server,
            docks=docks,
            station_id="ST-TEST",
            state_dir=tmp_path / "state",
            once=True,
            quiet_seconds=0.3,
            scan_interval=0.2,
            chunk_bytes=256 * 1024,
            backoff_max=0.5,
            naming=load_naming(),
            progress=False,
        )
        base.update(kw)
        return AgentConfig(**base)

    return make
