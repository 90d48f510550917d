"""Fixtures for the server's integrity tests: a populated installation (catalogue on SQLite or
PostgreSQL, a real local store, signed manifests, a ledger with signed tree heads) and the
real local RFC 3161 TSA of tests/integrity."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from integrity.ledger import INGEST, LINK, VIEW
from integrity.manifest import DerivedFile
from server.catalogue.db import Database
from server.catalogue.models import EvidenceItem, StoredObject
from server.custody.ledger import append
from server.custody.manifests import write_manifest
from server.custody.signing import ServerKey, load_or_create_key
from server.custody.treeheads import issue_tree_head
from server.settings import Settings
from server.store.local import LocalStore

# Reuse the real TSA fixture (openssl ts -reply behind http.server) without moving it: the
# `integrity` name on sys.path is the package, so load that conftest by its path.
_spec = importlib.util.spec_from_file_location(
    "_custodian_tsa_fixtures", Path(__file__).resolve().parent.parent / "integrity" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_tsa = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tsa  # dataclasses look their module up there
_spec.loader.exec_module(_tsa)
local_tsa = _tsa.local_tsa
LocalTsa = _tsa.LocalTsa

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class Installation:
    """A populated catalogue + store, and handles to tamper with it."""

    settings: Settings
    db: Database
    store: LocalStore
    key: ServerKey
    originals: list[str] = field(default_factory=list)  # sha256 of each item's original
    derived: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # evidence item ids

    def put(self, data: bytes, tmp: Path) -> str:
        sha = hashlib.sha256(data).hexdigest()
        src = tmp / f"{sha}.bin"
        src.write_bytes(data)
        self.store.put_file(src, sha)
        return sha

    def sql(self, statement: str, **params: Any) -> None:
        """Raw SQL, as someone with database access would tamper."""
        with self.db.engine.begin() as conn:
            conn.execute(text(statement), params)

    def append(self, n: int, action: str = VIEW) -> None:
        def go(s):  # type: ignore[no-untyped-def]
            for i in range(n):
                append(
                    s,
                    actor="user:9:tester",
                    action=action,
                    subject=f"evidence:{self.items[0]}",
                    details={"n": i, "note": "viewed ✓"},
                )

        self.db.call(go)

    def head(self) -> Any:
        return issue_tree_head(self.db, self.key, self.settings)


def build_installation(
    settings: Settings,
    db: Database,
    tmp: Path,
    *,
    sizes: tuple[int, ...] = (150_000, 70_000),
    derived_size: int = 5_000,
) -> Installation:
    """Two items with originals in the store (item 0 also has a derived file and two manifest
    versions), eight ledger entries with tree heads at sizes 4 and 8."""
    store = LocalStore(settings.resolved_store_path)
    inst = Installation(settings, db, store, load_or_create_key(settings))
    tmp.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        data = (f"original {i} ".encode() * (size // 11 + 1))[:size]
        inst.originals.append(inst.put(data, tmp))
    inst.derived.append(inst.put(b"#EXTM3U\n" * (derived_size // 8), tmp))

    def catalogue(s):  # type: ignore[no-untyped-def]
        ids = []
        for i, sha in enumerate(inst.originals):
            s.add(StoredObject(sha256=sha, size=sizes[i], role="original"))
            s.flush()
            item = EvidenceItem(
                sha256=sha,
                size=sizes[i],
                kind="video",
                original_filename=f"clip-{i}_王.mp4",
                received_at=T0,
                device_id="DSJ-01",
                officer_id="A1-007",
                station_id="dock-1",
            )
            s.add(item)
            s.flush()
            append(
                s,
                actor="user:1:station",
                action=INGEST,
                subject=f"evidence:{item.id}",
                details={"sha256": sha, "size": sizes[i]},
            )
            write_manifest(s, item, key=inst.key, now=T0)
            ids.append(item.id)
        s.add(
            StoredObject(
                sha256=inst.derived[0],
                size=derived_size // 8 * 8,
                role="derived",
                derived_from=inst.originals[0],
            )
        )
        s.flush()
        write_manifest(
            s,
            ids[0],
            key=inst.key,
            now=T0,
            derived=[
                DerivedFile(
                    name="hls/index.m3u8",
                    sha256=inst.derived[0],
                    size=derived_size // 8 * 8,
                    role="hls_playlist",
                    derived_from=inst.originals[0],
                    tool="custodian-test",
                    tool_version="1",
                    parameters={"copy": True},
                )
            ],
        )
        append(
            s,
            actor="user:2:reviewer",
            action=LINK,
            subject=f"evidence:{ids[0]}",
            details={"case": "C-1", "stage": "investigation"},
        )
        return ids

    inst.items = db.call(catalogue)
    inst.append(1)  # 4 entries
    inst.head()
    inst.append(4)  # 8 entries
    inst.head()
    return inst


@pytest.fixture
def make_installation(db, tmp_path) -> Callable[..., Installation]:  # type: ignore[no-untyped-def]
    """Build an installation on the `db` fixture's catalogue (SQLite and PostgreSQL)."""

    def make(**kw: Any) -> Installation:
        return build_installation(db.settings, db, tmp_path / "src", **kw)

    return make


@pytest.fixture
async def client(make_client, database_url):  # type: ignore[no-untyped-def]
    """The app on SQLite and on PostgreSQL (overrides the SQLite-only client here)."""
    return await make_client(database_url=database_url)
