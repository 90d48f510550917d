"""The ledger's newest entries cannot vanish unnoticed (issue 13 point 5) and keys rotate
(point 7): real catalogue (SQLite and PostgreSQL), real store, real keys."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from helpers import app_db
from integrity.ledger import INGEST, KEY_ROTATION, sign_tree_head
from integrity.signing import fingerprint, key_id
from server.catalogue.models import (
    EvidenceItem,
    LedgerRow,
    SigningKeyRow,
    StoredObject,
    TreeHeadRow,
)
from server.custody.keyring import keyring, rotate
from server.custody.ledger import append
from server.custody.manifests import write_manifest
from server.custody.signing import load_existing_key
from server.custody.treeheads import issue_tree_head
from server.custody.verification import LEDGER_MISSING, verify_all

ROOT = Path(__file__).resolve().parents[2]


def _new_item(inst, tmp: Path) -> str:  # type: ignore[no-untyped-def]
    """An item received after the newest signed head: its INGEST entry is in the unsigned tail."""
    sha = inst.put(b"received after the last head", tmp)

    def go(s):  # type: ignore[no-untyped-def]
        s.add(StoredObject(sha256=sha, size=28, role="original"))
        s.flush()
        item = EvidenceItem(sha256=sha, size=28, kind="video", original_filename="late.mp4")
        s.add(item)
        s.flush()
        append(
            s,
            actor="user:1:station",
            action=INGEST,
            subject=f"evidence:{item.id}",
            details={"sha256": sha},
        )
        write_manifest(s, item, key=inst.key)
        return item.id

    return inst.db.call(go)


def test_deleting_the_unsigned_tail_is_detected(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    item_id = _new_item(inst, tmp_path)
    assert verify_all(inst.db, inst.store, inst.key.public_keys()).ok
    # The forger deletes every row written since the last signed head (size 8): the chain and
    # every head still hold, but the item those rows recorded is still in the catalogue.
    inst.sql("DELETE FROM ledger WHERE seq > 8")
    report = verify_all(inst.db, inst.store, inst.key.public_keys())
    missing = [p for p in report.problems if p.kind == LEDGER_MISSING]
    assert [p.where for p in missing] == [f"evidence item {item_id}"], report.problems
    assert "has no 'ingest' entry" in missing[0].message
    assert "the ledger ends at entry 8" in missing[0].message


def test_deleting_one_rows_entry_is_detected(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    # Remove item 1's INGEST entry and re-chain nothing: the chain breaks AND the row is named.
    inst.sql(
        "DELETE FROM ledger WHERE action = 'ingest' AND subject = :s", s=f"evidence:{inst.items[1]}"
    )
    report = verify_all(inst.db, inst.store, inst.key.public_keys())
    assert any(
        p.kind == LEDGER_MISSING and p.where == f"evidence item {inst.items[1]}"
        for p in report.problems
    )


def test_witness_file_catches_a_rollback(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    witness = tmp_path / "witness.jsonl"
    object.__setattr__(inst.settings, "tree_head_witness_file", str(witness))
    inst.append(2)
    row = issue_tree_head(inst.db, inst.key, inst.settings)
    assert json.loads(witness.read_text().splitlines()[-1])["size"] == row.size == 10
    assert verify_all(inst.db, inst.store, inst.key.public_keys()).ok
    # Roll back ledger AND heads to the state at size 8: chain and heads agree again...
    inst.sql("DELETE FROM ledger WHERE seq > 8")
    inst.sql("DELETE FROM tree_heads WHERE size > 8")
    report = verify_all(inst.db, inst.store, inst.key.public_keys())
    # ...but the witness still has the head of size 10.
    assert any("witnessed tree head of size 10" in p.message for p in report.problems), (
        report.problems
    )


async def test_head_follows_writes_within_the_interval_and_on_shutdown(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(tree_head_interval_seconds=1)
    db = app_db(client)
    await db.run(lambda s: append(s, actor="system", action="view", subject="x", details={}))
    size = await db.run(lambda s: s.scalar(select(func.count()).select_from(LedgerRow)))
    for _ in range(40):
        heads = await db.run(lambda s: s.scalar(select(func.max(TreeHeadRow.size))))
        if heads == size:
            break
        await asyncio.sleep(0.1)
    assert heads == size
    # A write just before shutdown is covered by the head signed on shutdown.
    await db.run(lambda s: append(s, actor="system", action="view", subject="y", details={}))
    await client.close()
    from server.catalogue.db import Database

    db2 = Database(db.settings)
    try:
        total = db2.call(lambda s: s.scalar(select(func.count()).select_from(LedgerRow)))
        newest = db2.call(lambda s: s.scalar(select(func.max(TreeHeadRow.size))))
    finally:
        db2.close()
    assert newest == total == size + 1


def test_default_interval_is_at_most_a_minute() -> None:
    from server.settings import Settings

    assert 0 < Settings().tree_head_interval_seconds <= 60


def test_rotation_keeps_old_keys_and_windows(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    old = inst.key
    old_id = old.key_id
    details = rotate(inst.settings, inst.db, "cli:test")
    new = load_existing_key(inst.settings)
    assert new is not None and new.key_id != old_id and details["old_key_id"] == old_id
    # The running server's key object picks the new file up at its next signature.
    assert old.key_id == new.key_id
    records = inst.db.call(keyring, new)
    by_id = {r.key_id: r for r in records}
    assert by_id[old_id].valid_to == details["time"] == by_id[new.key_id].valid_from
    assert by_id[new.key_id].current and not by_id[old_id].current
    # The rotation is ledgered, its statement signed by both keys.
    row = inst.db.call(
        lambda s: s.scalar(select(LedgerRow).where(LedgerRow.action == KEY_ROTATION))
    )
    d = json.loads(row.details)
    from integrity import signing
    from server.custody.keyring import rotation_statement

    statement = rotation_statement(by_id[old_id].public, new.private, d["time"])
    assert signing.verify(by_id[old_id].public, statement, d["old_key_signature"])
    assert signing.verify(new.public, statement, d["new_key_signature"])
    # Heads by the old key (before) and the new key (after) all verify with the keyring.
    heads = inst.db.call(lambda s: list(s.scalars(select(TreeHeadRow).order_by(TreeHeadRow.id))))
    assert {h.key_id for h in heads} == {old_id, new.key_id}
    report = verify_all(inst.db, inst.store, new.public_keys())
    assert report.ok, report.problems


def test_old_key_signing_after_rotation_is_detected(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    stolen = inst.key.private  # a copy of the old key kept by someone
    rotate(inst.settings, inst.db, "cli:test")
    inst.append(1)

    def forge(s):  # type: ignore[no-untyped-def]
        from integrity import merkle
        from server.catalogue.models import utcnow
        from server.custody.treeheads import ledger_leaves

        leaves = ledger_leaves(s)
        head = sign_tree_head(len(leaves), merkle.root(leaves), utcnow(), stolen)
        s.add(
            TreeHeadRow(
                size=head.size,
                root=head.root_hex,
                time=head.time,
                key_id=head.key_id,
                signature=head.signature,
            )
        )

    inst.db.call(forge)
    report = verify_all(inst.db, inst.store, {})
    assert any(
        "valid only from" in p.message and key_id(stolen) in p.message for p in report.problems
    ), report.problems


def test_keys_cli_and_api(make_installation, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_installation()
    cfg = tmp_path / "custodian.toml"
    cfg.write_text(f"database_url = {json.dumps(db.settings.resolved_database_url)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    args = ["--data", str(db.settings.data_path), "--config", str(cfg)]

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server.cli", *a],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = run("keys", "--json", *args)
    assert first.returncode == 0, first.stderr
    (k1,) = json.loads(first.stdout)["keys"]
    assert k1["fingerprint"] == fingerprint(k1["public_key_hex"]) and k1["valid_to"] is None
    r = run("keys", "rotate", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = json.loads(run("keys", "--json", *args).stdout)["keys"]
    assert [k["key_id"] for k in keys][0] == k1["key_id"] and len(keys) == 2
    assert keys[0]["valid_to"] and keys[1]["valid_from"] == keys[0]["valid_to"]
    assert keys[1]["current"] and not keys[0]["current"]
    listing = run("keys", *args).stdout
    assert k1["fingerprint"] in listing and "retired" in listing and "current" in listing
    rows = db.call(lambda s: s.scalar(select(func.count()).select_from(SigningKeyRow)))
    assert rows == 2
    verify = run("verify", *args)
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_api_keys_lists_fingerprints_and_windows(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/keys")
    assert r.status == 200
    (item,) = (await r.json())["items"]
    assert item["fingerprint"] == fingerprint(item["public_key_hex"])
    assert item["current"] and item["valid_from"] and item["valid_to"] is None
