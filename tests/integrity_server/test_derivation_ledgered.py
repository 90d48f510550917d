"""Derivation is a custody event (issue 13 point 6): a media job's manifest version and a
reviewer's re-process are ledger entries naming the derived hashes."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from helpers import add_evidence, app_db, app_store, bearer, make_clip
from server.catalogue.models import Job, LedgerRow, ManifestRow
from server.media.worker import WorkerPool


async def _drain(client, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    from server.http import appkeys as keys

    app = client.server.app
    pool = WorkerPool(app[keys.SETTINGS], app[keys.DB], app[keys.STORE], concurrency=1)
    task = asyncio.create_task(pool.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while await app_db(client).run(
            lambda s: s.scalar(select(Job).where(Job.state.in_(("queued", "running"))))
        ):
            assert asyncio.get_running_loop().time() < deadline, "jobs did not finish"
            await asyncio.sleep(0.2)
    finally:
        pool.stop()
        await task


async def test_media_job_and_reprocess_are_ledgered(client, users, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = app_db(client)
    item = add_evidence(db, app_store(client), make_clip(tmp_path / "a.mp4", seconds=2))
    h = bearer(users["reviewer"])
    r = await client.post(f"/api/v1/evidence/{item}/process", headers=h)
    assert r.status == 202
    await _drain(client)

    def entries(s):  # type: ignore[no-untyped-def]
        return [
            (r.actor, json.loads(r.details))
            for r in s.scalars(
                select(LedgerRow)
                .where(LedgerRow.action == "derivation", LedgerRow.subject == f"evidence:{item}")
                .order_by(LedgerRow.seq)
            )
        ]

    got = await db.run(entries)
    kinds = [d["what"] for _, d in got]
    assert kinds == ["reprocess_requested", "manifest_version"], got
    assert got[0][0].endswith(":reviewer")  # the person's act, under their name
    version = got[1][1]
    rows = await db.run(
        lambda s: list(
            s.scalars(
                select(ManifestRow).where(ManifestRow.item_id == item).order_by(ManifestRow.version)
            )
        )
    )
    assert version["version"] == rows[-1].version and version["manifest_sha256"] == rows[-1].sha256
    body = await (await client.get(f"/api/v1/evidence/{item}", headers=h)).json()
    assert {d["sha256"] for d in version["derived"]} == {r["sha256"] for r in body["renditions"]}
    assert version["derived_from"] == body["sha256"]
    # A reviewer's re-process: another request entry and another manifest version entry.
    await client.post(f"/api/v1/evidence/{item}/process", headers=h)
    await _drain(client)
    got = await db.run(entries)
    assert [d["what"] for _, d in got] == ["reprocess_requested", "manifest_version"] * 2
    assert got[3][1]["version"] == version["version"] + 1
