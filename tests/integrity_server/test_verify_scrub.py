"""The scheduled fixity scrub (ledger entry + gauges), its I/O rate limit, scheduled tree heads,
and RFC 3161 tokens on tree heads and manifests from a real local TSA."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time

from sqlalchemy import select

from helpers import app_db, app_store, bearer
from integrity.ledger import FIXITY
from server.catalogue.models import LedgerRow, TreeHeadRow
from server.custody.ledger import append
from server.custody.manifests import latest_manifest, manifest_versions, write_manifest
from server.custody.treeheads import stamp_manifests
from server.custody.verification import Throttle, run_scrub, verify_all
from server.http import appkeys as keys
from server.http.appkeys import FIXITY_METRICS


def test_throttle_keeps_to_the_rate() -> None:
    throttle = Throttle(4 * 1024 * 1024)
    start = time.monotonic()
    for _ in range(8):
        throttle.consume(256 * 1024)  # 2 MiB at 4 MiB/s
    assert time.monotonic() - start >= 0.45
    fast = Throttle(0)
    start = time.monotonic()
    fast.consume(10**12)
    assert time.monotonic() - start < 0.05


def test_rate_limited_scrub_takes_its_time(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation(sizes=(600_000, 400_000))
    start = time.monotonic()
    report = verify_all(inst.db, inst.store, inst.key.public_keys(), max_bytes_per_second=2_000_000)
    assert report.ok and time.monotonic() - start >= 0.45  # ~1 MB at 2 MB/s


async def test_scheduled_scrub_and_tree_heads(make_client, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(
        database_url=database_url,
        fixity_interval_seconds=1,
        tree_head_interval_seconds=1,
        fixity_max_bytes_per_second=0,
    )
    db = app_db(client)
    await db.run(lambda s: append(s, actor="system", action="view", subject="x", details={}))
    for _ in range(100):
        rows = await db.run(
            lambda s: list(s.scalars(select(LedgerRow).where(LedgerRow.action == FIXITY)))
        )
        heads = await db.run(lambda s: list(s.scalars(select(TreeHeadRow))))
        if rows and heads:
            break
        await asyncio.sleep(0.1)
    assert rows and json.loads(rows[0].details)["ok"] is True
    assert heads and heads[0].size >= 1
    text = await (await client.get("/metrics")).text()
    assert "custodian_fixity_last_ok 1.0" in text
    assert 'custodian_fixity_problems{kind="all"} 0.0' in text
    # A second process would skip: a scrub was recorded within the interval.
    app = client.server.app
    settings = app[keys.SETTINGS]
    assert (
        await asyncio.to_thread(
            run_scrub, db, app_store(client), settings, app[keys.SIGNING_KEY].public_keys()
        )
        is None
    )
    # Damage shows in the gauges after the next (forced) scrub.
    planted = tmp_path / "p.bin"
    planted.write_bytes(b"planted")
    import hashlib

    app_store(client).put_file(planted, hashlib.sha256(b"planted").hexdigest())
    report = await asyncio.to_thread(
        run_scrub,
        db,
        app_store(client),
        settings,
        app[keys.SIGNING_KEY].public_keys(),
        metrics=app[FIXITY_METRICS],
        force=True,
    )
    assert report is not None and not report.ok
    text = await (await client.get("/metrics")).text()
    assert "custodian_fixity_last_ok 0.0" in text
    assert 'custodian_fixity_problems{kind="unexpected"} 1.0' in text


async def test_tsa_tokens_on_tree_heads_and_manifests(
    make_client, make_installation, database_url, db, local_tsa, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    settings = db.settings.__class__(
        **{
            **db.settings.__dict__,
            "tsa_url": local_tsa.url,
            "tsa_roots_file": str(local_tsa.root_pem),
        }
    )
    # Manifests get their tokens afterwards (outside the writer's transaction).
    assert stamp_manifests(db, settings) == 3
    assert stamp_manifests(db, settings) == 0
    client = await make_client(settings)
    from helpers import PASSWORD
    from server.people.accounts import add_user

    await app_db(client).run(add_user, "aud", PASSWORD, "auditor", None)
    r = await client.post("/api/v1/auth/login", json={"username": "aud", "password": PASSWORD})
    h = bearer((await r.json())["token"])
    r = await client.post("/api/v1/ledger/tree-heads", headers=h)
    head = await r.json()
    assert r.status == 201 and head["time_source"] == "rfc3161", head
    # The token is a real RFC 3161 reply over the head's signed bytes: openssl agrees.
    (tmp_path / "head.tsr").write_bytes(base64.b64decode(head["tsa_token"]))
    (tmp_path / "head.bin").write_bytes(base64.b64decode(head["signed_bytes_b64"]))
    check = subprocess.run(
        [
            "/usr/bin/openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "head.tsr"),
            "-data",
            str(tmp_path / "head.bin"),
            "-CAfile",
            str(local_tsa.root_pem),
        ],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in check.stdout, check.stderr
    report = verify_all(
        db, inst.store, inst.key.public_keys(), tsa_roots=local_tsa.root_pem.read_bytes()
    )
    assert report.ok, [p.message for p in report.problems]
    assert report.tokens_checked == 4  # 3 manifest versions + 1 tree head


def test_manifest_versions_supersede(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    item = inst.items[0]

    def versions(s):  # type: ignore[no-untyped-def]
        return [(r.version, r.sha256) for r in manifest_versions(s, item)]

    before = inst.db.call(versions)
    row = inst.db.call(lambda s: write_manifest(s, item, key=inst.key))  # derived kept
    assert row.version == 3
    from integrity.manifest import ItemManifest

    v3 = ItemManifest.from_bytes(row.manifest)
    assert v3.supersedes == before[-1][1] and len(v3.derived) == 1
    assert inst.db.call(lambda s: latest_manifest(s, item).version) == 3
    assert inst.db.call(versions)[:2] == before  # earlier versions untouched
    assert verify_all(inst.db, inst.store, inst.key.public_keys()).ok
