"""An app with accounts and an item whose original and renditions are real stored objects."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from helpers import PASSWORD, app_db, app_store, bearer

USERS = {
    "reviewer": ("reviewer", "A1"),
    "reviewer2": ("reviewer", "A2"),
    "admin": ("admin", None),
    "station": ("station", "A1"),
}
PLAYLIST = (
    b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    b'#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.0,\nseg-00000.m4s\n#EXTINF:4.0,\n'
    b"seg-00001.m4s\n#EXT-X-ENDLIST\n"
)
CONTENT_TYPES = {
    "hls/index.m3u8": "application/vnd.apple.mpegurl",
    "hls/init.mp4": "video/mp4",
    "hls/seg-00000.m4s": "video/iso.segment",
    "hls/seg-00001.m4s": "video/iso.segment",
}


@dataclass
class Env:
    client: Any
    tokens: dict[str, str]
    item: str = ""
    original: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)  # rendition name -> bytes

    def h(self, who: str, **more: str) -> dict[str, str]:
        return {**bearer(self.tokens[who]), **more}

    def db(self) -> Any:
        return app_db(self.client)

    def views(self) -> list[Any]:
        from server.catalogue.models import LedgerRow

        return self.db().call(
            lambda s: list(
                s.scalars(
                    select(LedgerRow).where(
                        LedgerRow.action == "view", LedgerRow.subject == f"evidence:{self.item}"
                    )
                )
            )
        )


def _put(store: Any, data: bytes) -> str:
    key = hashlib.sha256(data).hexdigest()
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        store.put_file(Path(f.name), key)
    finally:
        os.unlink(f.name)
    return key


async def make_env(make_client: Any, original_bytes: int = 3_000_000, **settings: Any) -> Env:
    """A started app (no in-process worker), four accounts logged in, one item of A1 whose
    original (random bytes, a few MB: several sendfile rounds) and HLS files are stored."""
    from server.catalogue.models import Agency, EvidenceItem, Rendition, StoredObject
    from server.people.accounts import add_agency, add_user

    settings.setdefault("worker_in_server", False)
    client = await make_client(**settings)

    def setup(s):  # type: ignore[no-untyped-def]
        add_agency(s, "A1", "Agency one")
        add_agency(s, "A2", "Agency two")
        for name, (role, agency) in USERS.items():
            add_user(s, name, PASSWORD, role, agency)

    await app_db(client).run(setup)
    tokens = {}
    for name in USERS:
        r = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, await r.text()
        tokens[name] = (await r.json())["token"]
    env = Env(client, tokens)
    store = app_store(client)
    env.original = os.urandom(original_bytes)
    env.files = {
        "hls/index.m3u8": PLAYLIST,
        "hls/init.mp4": os.urandom(1500),
        "hls/seg-00000.m4s": os.urandom(2_600_000),
        "hls/seg-00001.m4s": os.urandom(700_001),
    }
    keys = {name: _put(store, data) for name, data in env.files.items()}
    original = _put(store, env.original)

    def add(s):  # type: ignore[no-untyped-def]
        agency = s.scalar(select(Agency).where(Agency.code == "A1"))
        for name, key in [*keys.items(), ("original", original)]:
            if s.get(StoredObject, key) is None:
                size = len(env.original if name == "original" else env.files[name])
                s.add(
                    StoredObject(
                        sha256=key, size=size, role="original" if name == "original" else "derived"
                    )
                )
        s.flush()
        it = EvidenceItem(
            sha256=original,
            size=len(env.original),
            kind="video",
            original_filename="DSJ001 现场.mp4",
            agency_id=agency.id,
            retention_until=datetime.now(UTC) + timedelta(days=200),
        )
        s.add(it)
        s.flush()
        for name, key in keys.items():
            s.add(
                Rendition(
                    item_id=it.id,
                    name=name,
                    role="rendition",
                    sha256=key,
                    size=len(env.files[name]),
                    content_type=CONTENT_TYPES[name],
                )
            )
        return it.id

    env.item = str(await env.db().run(add))
    return env
