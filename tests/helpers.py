"""Small helpers tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
from typing import Any

PASSWORD = "correct horse battery"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_db(client: Any) -> Any:
    """The Database of a running test app."""
    from server.http import appkeys as keys

    return client.server.app[keys.DB]


def app_store(client: Any) -> Any:
    from server.http import appkeys as keys

    return client.server.app[keys.STORE]


def make_clip(
    path: Any,
    seconds: float = 2.0,
    *,
    size: str = "320x240",
    fps: int = 25,
    audio: bool = True,
    codec: str = "libx264",
    extra: tuple[str, ...] = (),
) -> Any:
    """A small real H.264/AAC MP4 (testsrc2 + sine), keyframe every 2 s."""
    import subprocess
    from pathlib import Path

    import imageio_ffmpeg

    path = Path(path)
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={fps}:duration={seconds}",
    ]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    argv += [
        "-c:v",
        codec,
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(2 * fps),
        "-preset",
        "ultrafast",
        *extra,
        "-shortest",
        str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True)
    return path


def add_evidence(
    db: Any, store: Any, path: Any, *, agency_code: str = "A1", filename: str | None = None
) -> str:
    """Put a file into the store and catalogue it as an item of an agency (as an upload would)."""
    from pathlib import Path

    from sqlalchemy import select

    from integrity.hashing import sha256_file
    from server.catalogue.models import Agency, EvidenceItem, StoredObject

    path = Path(path)
    key = sha256_file(path)
    store.put_file(path, key)

    def add(s: Any) -> str:
        agency = s.scalar(select(Agency).where(Agency.code == agency_code))
        if s.get(StoredObject, key) is None:
            s.add(StoredObject(sha256=key, size=path.stat().st_size, role="original"))
            s.flush()
        item = EvidenceItem(
            sha256=key,
            size=path.stat().st_size,
            kind="video",
            original_filename=filename or path.name,
            agency_id=agency.id if agency else None,
        )
        s.add(item)
        s.flush()
        return str(item.id)

    return str(db.call(add))


ROLE_USERS = {
    "station": "A1",
    "officer": "A1",
    "reviewer": "A1",
    "legal": "A1",
    "supervisor": None,
    "auditor": None,
    "admin": None,
}


async def role_users(client: Any) -> dict[str, str]:
    """One user per role (agency A1 where the role belongs to one), plus an officer and a
    reviewer of A2, in the app of `client`. Returns username -> bearer token."""
    import asyncio

    from sqlalchemy import select

    from server.catalogue.models import User
    from server.http import appkeys as keys
    from server.people.accounts import add_agency, add_user
    from server.people.passwords import hash_password

    db = app_db(client)
    # One scrypt hash for all nine (each is checked against the same test password).
    password_hash = await asyncio.get_running_loop().run_in_executor(None, hash_password, PASSWORD)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "Agency one")
        add_agency(s, "A2", "Agency two")
        for role, agency in ROLE_USERS.items():
            add_user(s, role, PASSWORD, role, agency, password_hash=password_hash)
        add_user(s, "officer2", PASSWORD, "officer", "A2", password_hash=password_hash)
        add_user(s, "reviewer2", PASSWORD, "reviewer", "A2", password_hash=password_hash)

    await db.run(setup)
    # Tokens are issued directly (as a login would): logins are ledgered, and tests counting
    # ledger entries should not count nine logins. Login itself is tested in tests/server.
    issuer = client.server.app[keys.TOKENS]
    tokens = {}
    for u in await db.run(lambda s: list(s.scalars(select(User)))):
        tokens[u.username] = issuer.issue(
            u.id, u.username, u.role, u.agency_id, version=u.token_version
        )[0]
    return tokens
