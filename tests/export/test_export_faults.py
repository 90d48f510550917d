"""An export killed after it ledgered its files and run again writes its entry once (issue 19,
point 7): one entry pinning the files, one when the package is sealed, not three."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from test_export_server import _case_with_items, _users

from helpers import app_db, app_store, bearer
from integrity.ledger import EXPORT as EXPORT_ACTION
from server.catalogue.models import Export, LedgerRow


class Killed(Exception):
    """Stands for the process dying at this point (its entry is already committed)."""


async def test_rerun_of_a_killed_export_ledgers_once(
    make_client, make_settings, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(worker_in_server=False)
    client = await make_client(settings)
    users = await _users(client)
    case, _ids = await _case_with_items(client, users, tmp_path)
    r = await client.post(
        f"/api/v1/cases/{case['id']}/exports",
        headers=bearer(users["legal"]),
        json={"recipient": "丽水市莲都区人民法院", "purpose": "行政诉讼举证"},
    )
    assert r.status in (201, 202), await r.text()
    export_id = (await r.json())["id"]
    db, store = app_db(client), app_store(client)

    import server.custody.treeheads as treeheads
    from server.exports.job import export_job

    real = treeheads.issue_tree_head

    def dies(*a, **kw):  # type: ignore[no-untyped-def]
        raise Killed("the export process died after step 3")

    monkeypatch.setattr(treeheads, "issue_tree_head", dies)
    with pytest.raises(Killed):
        await asyncio.to_thread(export_job, settings, db, store, export_id, lambda _f: None)
    monkeypatch.setattr(treeheads, "issue_tree_head", real)
    await asyncio.to_thread(export_job, settings, db, store, export_id, lambda _f: None)

    def entries(s):  # type: ignore[no-untyped-def]
        rows = s.scalars(
            select(LedgerRow).where(LedgerRow.action == EXPORT_ACTION).order_by(LedgerRow.seq)
        )
        return [
            json.loads(r.details)
            for r in rows
            if json.loads(r.details).get("export_id") == export_id
        ]

    found = await db.run(entries)
    assert len(found) == 2, found  # the files pinned once, the seal once
    assert "package_sha256" in found[1] and "package_sha256" not in found[0]
    e = await db.run(lambda s: s.get(Export, export_id))
    assert e.state == "done"
