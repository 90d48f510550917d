"""Every kind of tampering is found by the full check, with a precise message; on SQLite and
PostgreSQL (the `db` fixture runs each test on both)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from sqlalchemy import select

from integrity import signing, tsa
from integrity.errors import (
    CHAIN_BROKEN,
    CHECKSUM_MISMATCH,
    DETAILS_MISMATCH,
    ENTRY_MISSING,
    MANIFEST_INVALID,
    MISSING,
    ORDER_SWAPPED,
    SIGNATURE_INVALID,
    TOKEN_INVALID,
    TREE_HEAD_MISMATCH,
    UNEXPECTED,
)
from server.catalogue.models import LedgerRow, ManifestRow
from server.custody.verification import Report, verify_all


def run(inst, roots: bytes | None = None) -> Report:  # type: ignore[no-untyped-def]
    return verify_all(inst.db, inst.store, inst.key.public_keys(), tsa_roots=roots)


def kinds(report: Report) -> list[str]:
    return [p.kind for p in report.problems]


def test_clean_installation_verifies(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    report = run(inst)
    assert report.ok, [p.message for p in report.problems]
    assert report.objects == 3 and report.bytes_hashed == 150_000 + 70_000 + 5_000
    assert (report.items, report.manifests, report.entries, report.tree_heads) == (2, 3, 8, 2)


def test_flipped_byte_in_original(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    sha = inst.originals[0]
    path = inst.store.path_for(sha)
    os.chmod(path, 0o644)  # the store keeps it read-only; an attacker would not care
    with open(path, "r+b") as f:
        f.seek(12_345)
        byte = f.read(1)
        f.seek(12_345)
        f.write(bytes([byte[0] ^ 0x01]))
    report = run(inst)
    assert kinds(report) == [CHECKSUM_MISMATCH]
    msg = report.problems[0].message
    assert msg.startswith(f"object {sha} at {path}: sha256 is ")
    assert msg.endswith(f"expected {sha} (bytes changed)")


def test_deleted_object(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    sha = inst.originals[1]
    inst.store.path_for(sha).unlink()
    report = run(inst)
    assert kinds(report) == [MISSING]
    assert report.problems[0].message == (
        f"object {sha} (original, 70000 bytes) is in the catalogue but missing from the store "
        f"(expected at {inst.store.path_for(sha)}; deleted?)"
    )


def test_planted_object(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    planted = inst.put(b"not evidence, slipped in later", tmp_path)
    report = run(inst)
    assert kinds(report) == [UNEXPECTED]
    assert report.problems[0].message == (
        f"object {planted} at {inst.store.path_for(planted)} is in the store but not in the "
        "catalogue (unknown or planted object)"
    )


def test_stray_files_anywhere_in_the_store(make_installation) -> None:  # type: ignore[no-untyped-def]
    """Files outside the ab/cd/<sha256> layout (dropped at the top, misplaced, misnamed)."""
    inst = make_installation()
    root = inst.store.root
    key = next(iter(inst.store.iter_keys()))
    dropped = root / "readme.txt"
    dropped.write_bytes(b"dropped at the top")
    misplaced = root / "ff" / "ee" / key  # a real object's name in the wrong folder
    misplaced.parent.mkdir(parents=True)
    misplaced.write_bytes(b"copy")
    report = run(inst)
    assert kinds(report) == [UNEXPECTED, UNEXPECTED]
    messages = sorted(p.message for p in report.problems)
    assert messages == sorted(
        f"{p} is in the store but is not an object at its key's place (planted or misplaced file)"
        for p in (dropped, misplaced)
    )


def test_ledger_details_edited(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("UPDATE ledger SET details = :d WHERE seq = 3", d='{"case":"C-2","stage":"hearing"}')
    report = run(inst)
    assert kinds(report) == [DETAILS_MISMATCH]
    msg = report.problems[0].message
    assert msg.startswith("ledger entry 3: details hash to ") and msg.endswith("(details edited)")


def test_ledger_entry_field_edited(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("UPDATE ledger SET actor = 'user:3:someone-else' WHERE seq = 2")
    report = run(inst)
    assert CHAIN_BROKEN in kinds(report)
    assert "ledger entry 3: prev_hash does not match entry 2 (chain broken)" in [
        p.message for p in report.problems
    ]
    # Both signed heads cover entry 2 and no longer match.
    assert kinds(report).count(TREE_HEAD_MISMATCH) == 2


def test_ledger_row_deleted(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("DELETE FROM ledger WHERE seq = 6")
    report = run(inst)
    messages = [p.message for p in report.problems]
    assert ENTRY_MISSING in kinds(report)
    assert "ledger entry 7 follows entry 5: entry 6 is missing (row deleted)" in messages
    # The head over 8 entries no longer matches (7 remain); the head over 4 still holds.
    heads = [p for p in report.problems if p.kind == TREE_HEAD_MISMATCH]
    assert len(heads) == 1 and "covers 8 entries but the ledger holds only 7" in heads[0].message


def test_ledger_rows_swapped(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("UPDATE ledger SET seq = 1000 WHERE seq = 5")
    inst.sql("UPDATE ledger SET seq = 5 WHERE seq = 6")
    inst.sql("UPDATE ledger SET seq = 6 WHERE seq = 1000")
    report = run(inst)
    messages = [p.message for p in report.problems]
    assert ORDER_SWAPPED in kinds(report)
    assert (
        "ledger entries 5 and 6 have been swapped (each one's content links up only in the "
        "other's place)"
    ) in messages
    assert CHAIN_BROKEN not in kinds(report)  # one diagnosis, not a cascade
    heads = [p for p in report.problems if p.kind == TREE_HEAD_MISMATCH]
    assert len(heads) == 1 and "entries 1..8 give root" in heads[0].message


def test_manifest_edited(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    item = inst.items[1]
    row = inst.db.call(lambda s: s.scalar(select(ManifestRow).where(ManifestRow.item_id == item)))
    edited = bytes(row.manifest).replace("clip-1_王.mp4".encode(), "clip-9_王.mp4".encode())
    assert edited != row.manifest
    inst.sql("UPDATE item_manifests SET manifest = :m WHERE id = :i", m=edited, i=row.id)
    report = run(inst)
    where = f"evidence item {item} manifest v1"
    assert sorted(kinds(report)) == [MANIFEST_INVALID, SIGNATURE_INVALID]
    messages = [p.message for p in report.problems]
    assert any(
        m.startswith(f"{where}: bytes hash to ") and m.endswith("(manifest edited)")
        for m in messages
    )
    assert (
        f"{where}: signature does not match the manifest bytes (manifest edited or signature "
        f"forged; key {inst.key.key_id})"
    ) in messages


def test_manifest_version_deleted(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    item = inst.items[0]
    inst.sql("DELETE FROM item_manifests WHERE item_id = :i AND version = 1", i=item)
    report = run(inst)
    assert kinds(report) == [MANIFEST_INVALID]
    assert report.problems[0].message == f"evidence item {item} manifest v2: first version is not 1"


def test_tree_head_signature_forged(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    # A forger without our key signs the same statement with their own key, naming ours.
    forged = signing.sign(signing.generate_key(), b"whatever the forger signs")
    inst.sql("UPDATE tree_heads SET signature = :s WHERE size = 4", s=forged)
    report = run(inst)
    assert kinds(report) == [SIGNATURE_INVALID]
    msg = report.problems[0].message
    assert msg.startswith("tree head of size 4 at ")
    assert msg.endswith(f"signature invalid (tree head forged or altered; key {inst.key.key_id})")


def test_tree_head_root_rewritten(make_installation) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("UPDATE tree_heads SET root = :r WHERE size = 8", r="ab" * 32)
    report = run(inst)
    assert sorted(kinds(report)) == [SIGNATURE_INVALID, TREE_HEAD_MISMATCH]


def test_tsa_tokens_verify_and_token_for_other_data_is_caught(
    make_installation, db, local_tsa
) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    roots = local_tsa.root_pem.read_bytes()
    rows = db.call(lambda s: list(s.scalars(select(LedgerRow.seq))))
    assert rows == list(range(1, 9))
    # Stamp both heads for real, then swap in a token over other data for one of them.
    heads = db.call(
        lambda s: s.execute(
            __import__("sqlalchemy").text(
                "SELECT id, size, root, time, key_id FROM tree_heads ORDER BY size"
            )
        ).all()
    )
    from integrity.ledger import tree_head_signing_bytes

    for hid, size, root, moment, kid in heads:
        token = tsa.request_token(local_tsa.url, tree_head_signing_bytes(size, root, moment, kid))
        inst.sql("UPDATE tree_heads SET tsa_token = :t WHERE id = :i", t=token, i=hid)
    report = run(inst, roots)
    assert report.ok and report.tokens_checked == 2, [p.message for p in report.problems]
    other = tsa.request_token(local_tsa.url, b"some other statement")
    inst.sql("UPDATE tree_heads SET tsa_token = :t WHERE size = 8", t=other)
    report = run(inst, roots)
    assert kinds(report) == [TOKEN_INVALID]
    msg = report.problems[0].message
    assert msg.startswith("tree head of size 8 at ")
    assert msg.endswith(": RFC 3161 token: covers other data (message imprint does not match)")
    # Without configured roots the token is kept but reported as unchecked, not as valid.
    report = run(inst)
    assert report.ok and report.tokens_unchecked == 2 and report.tokens_checked == 0


def test_every_problem_is_collected_at_once(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.store.path_for(inst.originals[1]).unlink()
    planted = inst.put(b"planted", tmp_path)
    inst.sql("UPDATE ledger SET details = '{}' WHERE seq = 2")
    inst.sql(
        "UPDATE tree_heads SET signature = :s WHERE size = 8",
        s=base64.b64encode(b"\0" * 64).decode(),
    )
    report = run(inst)
    assert sorted(kinds(report)) == sorted(
        [MISSING, UNEXPECTED, DETAILS_MISMATCH, SIGNATURE_INVALID]
    )
    assert any(planted in p.message for p in report.problems)


def test_verification_never_writes(make_installation, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    inst.sql("UPDATE ledger SET details = '{}' WHERE seq = 2")
    before = inst.db.call(lambda s: [(r.seq, r.details) for r in s.scalars(select(LedgerRow))])
    run(inst)
    run(inst)
    after = inst.db.call(lambda s: [(r.seq, r.details) for r in s.scalars(select(LedgerRow))])
    assert before == after
