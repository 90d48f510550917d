"""Custody ledger: hash chain, Merkle leaves, signed tree heads, and tamper detection."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from integrity import ledger, merkle, signing
from integrity.errors import (
    CHAIN_BROKEN,
    DETAILS_MISMATCH,
    ENTRY_MISSING,
    ORDER_SWAPPED,
    SIGNATURE_INVALID,
    TREE_HEAD_MISMATCH,
    VerificationError,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
ACTIONS = [ledger.INGEST, ledger.VIEW, ledger.LINK, ledger.ANNOTATION, ledger.EXPORT]


def build(n: int):
    """A valid ledger of n entries and their stored details, as the single writer makes it."""
    entries, details = [], {}
    prev = ledger.GENESIS_PREV
    for seq in range(1, n + 1):
        info = {"item": f"item-{seq % 4}", "note": f"act number {seq}", "bytes": seq * 1000}
        entry = ledger.make_entry(
            seq=seq,
            time=T0 + timedelta(seconds=seq),
            actor=f"user:{seq % 3}",
            action=ACTIONS[seq % len(ACTIONS)],
            subject=f"item-{seq % 4}",
            details=info,
            prev_hash=prev,
        )
        entries.append(entry)
        details[seq] = info
        prev = ledger.entry_hash(entry)
    return entries, details


def test_valid_chain_has_no_problems() -> None:
    entries, details = build(20)
    assert ledger.check_chain(entries, details) == []
    assert entries[0].prev_hash == ledger.GENESIS_PREV
    assert entries[0].time == "2024-05-01T10:00:01.000000Z"
    assert ledger.leaf_for(entries[0]) == merkle.leaf_hash(ledger.entry_bytes(entries[0]))
    assert ledger.LedgerEntry.from_dict(entries[3].to_dict()) == entries[3]
    with pytest.raises(ValueError):
        ledger.make_entry(
            seq=1, time=T0, actor="a", action="teleport", subject="s", details={}, prev_hash="0"
        )


def test_one_byte_edited_in_details_is_detected() -> None:
    entries, details = build(20)
    details[7] = {**details[7], "note": "act number 8"}  # one byte changed
    problems = ledger.check_chain(entries, details)
    assert [p.kind for p in problems] == [DETAILS_MISMATCH]
    assert problems[0].where == "ledger entry 7"
    assert problems[0].message.startswith("ledger entry 7: details hash to ")
    assert problems[0].message.endswith("(details edited)")


def test_details_and_details_hash_both_edited_breaks_the_chain() -> None:
    entries, details = build(20)
    details[7] = {**details[7], "bytes": 1}
    entries[6] = replace(entries[6], details_hash=ledger.details_hash(details[7]))
    problems = ledger.check_chain(entries, details)
    assert [str(p) for p in problems] == [
        "ledger entry 8: prev_hash does not match entry 7 (chain broken)"
    ]
    assert problems[0].kind == CHAIN_BROKEN


def test_deleted_row_is_detected() -> None:
    entries, details = build(20)
    del entries[6]  # seq 7
    problems = ledger.check_chain(entries, details)
    assert [(p.kind, str(p)) for p in problems] == [
        (ENTRY_MISSING, "ledger entry 8 follows entry 6: entry 7 is missing (row deleted)")
    ]
    del entries[0:2]
    problems = ledger.check_chain(entries, details)
    assert str(problems[0]) == (
        "ledger entry 3 follows the start of the ledger: entries 1..2 are missing (row deleted)"
    )


def test_two_rows_swapped_is_detected() -> None:
    entries, details = build(20)
    # Content of rows 5 and 6 exchanged, seq column left in place (what ORDER BY seq shows).
    a, b = entries[4], entries[5]
    entries[4], entries[5] = replace(b, seq=5), replace(a, seq=6)
    details[5], details[6] = details[6], details[5]
    problems = ledger.check_chain(entries, details)
    assert [(p.kind, str(p)) for p in problems] == [
        (
            ORDER_SWAPPED,
            "ledger entries 5 and 6 have been swapped "
            "(each one's content links up only in the other's place)",
        )
    ]


def test_rows_read_out_of_order_are_detected() -> None:
    entries, _ = build(10)
    entries[4], entries[5] = entries[5], entries[4]
    problems = ledger.check_chain(entries)
    assert [(p.kind, str(p)) for p in problems] == [
        (ORDER_SWAPPED, "ledger entry 5 appears after entry 6 (order swapped)")
    ]


def test_edited_entry_field_breaks_chain_at_the_next_entry() -> None:
    entries, _ = build(20)
    entries[16] = replace(entries[16], actor="someone-else")
    problems = ledger.check_chain(entries)
    assert [str(p) for p in problems] == [
        "ledger entry 18: prev_hash does not match entry 17 (chain broken)"
    ]


def test_slice_of_ledger_checks_with_its_anchor() -> None:
    entries, details = build(20)
    anchor = ledger.entry_hash(entries[9])
    assert ledger.check_chain(entries[10:], details, start_seq=11, start_prev_hash=anchor) == []
    assert ledger.check_chain(entries[10:], details, start_seq=11)[0].kind == CHAIN_BROKEN


def heads_for(entries, key, sizes):
    leaves = [ledger.leaf_for(e) for e in entries]
    return [
        ledger.sign_tree_head(size, merkle.root(leaves[:size]), T0 + timedelta(hours=size), key)
        for size in sizes
    ]


def test_tree_heads_verify_and_detect_tampering() -> None:
    key = signing.generate_key()
    entries, _ = build(30)
    heads = heads_for(entries, key, [1, 7, 16, 30])
    assert ledger.check_tree_heads(entries, heads, key.public_key()) == []
    assert ledger.verify_tree_head(heads[0], signing.public_key_hex(key)) == []
    assert ledger.TreeHead.from_dict(heads[1].to_dict()) == heads[1]

    # A row deleted: every head covering it no longer matches, and the chain says where.
    tampered = entries[:10] + entries[11:]
    problems = ledger.check_tree_heads(tampered, heads, key.public_key())
    assert [p.kind for p in problems] == [TREE_HEAD_MISMATCH] * 2
    assert problems[0].message.startswith(
        "tree head of size 16 at 2024-05-02T02:00:00.000000Z: entries 1..16 give root "
    )
    assert "covers 30 entries but the ledger holds only 29" in problems[1].message


def test_forged_tree_head_signature_is_detected() -> None:
    key, attacker = signing.generate_key(), signing.generate_key()
    entries, _ = build(10)
    head = heads_for(entries, key, [10])[0]
    # The root rewritten to match an altered ledger, signature kept.
    altered = replace(head, root_hex="ab" * 32)
    problems = ledger.check_tree_heads(entries, [altered], key.public_key())
    assert [p.kind for p in problems] == [SIGNATURE_INVALID, TREE_HEAD_MISMATCH]
    assert str(problems[0]) == (
        f"tree head of size 10 at 2024-05-01T20:00:00.000000Z: signature invalid "
        f"(tree head forged or altered; key {head.key_id})"
    )
    # A signature made by another key but claiming our key id.
    forged_sig = signing.sign(attacker, head.signing_bytes())
    assert ledger.verify_tree_head(replace(head, signature=forged_sig), key)[0].kind == (
        SIGNATURE_INVALID
    )
    # Garbage signature: reported, not raised.
    garbage = base64.b64encode(b"\x00" * 64).decode()
    assert ledger.verify_tree_head(replace(head, signature=garbage), key)
    # Signed by an unknown key.
    unknown = ledger.sign_tree_head(10, head.root_hex, head.time, attacker)
    assert "unknown key" in str(ledger.verify_tree_head(unknown, key.public_key())[0])


def test_verification_error_lists_every_problem() -> None:
    entries, details = build(12)
    details[3] = {"edited": True}
    del entries[8]
    error = VerificationError(ledger.check_chain(entries, details))
    text = error.diagnosis()
    assert text.splitlines()[0] == "verification failed: 2 problems"
    assert "1. [details_mismatch] ledger entry 3: details hash to" in text
    assert "2. [entry_missing] ledger entry 10 follows entry 8: entry 9 is missing" in text
    assert len(error.problems) == 2
