"""Signed tree heads over the custody ledger, and the inclusion and consistency proofs served
against them (RFC 6962 / RFC 9162 Merkle tree; leaf = H(0x00 || canonical entry))."""

from __future__ import annotations

import base64
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity import merkle
from integrity.ledger import FIRST_SEQ, TreeHead, entry_bytes, leaf_for, sign_tree_head
from integrity.tsa import TsaError, request_token
from server.catalogue.db import Database
from server.catalogue.models import LedgerRow, TreeHeadRow, utcnow
from server.custody.ledger import iter_rows, row_entry, row_json
from server.custody.signing import ServerKey
from server.errors import BadRequest, Conflict, NotFound
from server.settings import Settings

logger = logging.getLogger(__name__)

PAGE_MAX = 500
# How many manifest versions one scheduled round stamps (the TSA is a remote service).
STAMP_BATCH = 200


class LedgerAltered(Conflict):
    """The ledger no longer gives the root a signed tree head recorded: refuse to sign more."""

    code = "ledger_altered"


# -- reading ---------------------------------------------------------------------------------
def ledger_leaves(s: Session, upto: int | None = None) -> list[bytes]:
    """Merkle leaf hashes of entries 1..upto (the whole ledger when upto is None), recomputed
    from the rows' fields, never taken from a stored hash."""
    leaves: list[bytes] = []
    for row in iter_rows(s):
        if upto is not None and row.seq > upto:
            break
        leaves.append(leaf_for(row_entry(row)))
    return leaves


def head_of(row: TreeHeadRow) -> TreeHead:
    """The row as the integrity package's TreeHead."""
    return TreeHead(row.size, row.root, row.time, row.key_id, row.signature)


def head_json(row: TreeHeadRow) -> dict[str, Any]:
    """A signed tree head for the API. The RFC 3161 token (if any) covers the head's signed
    bytes: canonical JSON of {format, size, root, time, key_id}."""
    return {
        "id": row.id,
        "size": row.size,
        "root": row.root,
        "time": row.time,
        "key_id": row.key_id,
        "signature": row.signature,
        "signed_bytes_b64": base64.b64encode(head_of(row).signing_bytes()).decode("ascii"),
        "tsa_token": base64.b64encode(row.tsa_token).decode("ascii") if row.tsa_token else None,
        "time_source": "rfc3161" if row.tsa_token else "server clock",
    }


def latest_head(s: Session) -> TreeHeadRow | None:
    """The head covering the most entries (the newest among equals)."""
    return s.scalar(
        select(TreeHeadRow).order_by(TreeHeadRow.size.desc(), TreeHeadRow.id.desc()).limit(1)
    )


def head_of_size(s: Session, size: int) -> TreeHeadRow | None:
    """The newest signed head of exactly this size."""
    return s.scalar(
        select(TreeHeadRow).where(TreeHeadRow.size == size).order_by(TreeHeadRow.id.desc()).limit(1)
    )


def list_heads(s: Session, *, before: int | None = None, limit: int = 100) -> dict[str, Any]:
    """Signed heads, newest first, keyset-paginated by id."""
    limit = max(1, min(limit, PAGE_MAX))
    q = select(TreeHeadRow)
    if before is not None:
        q = q.where(TreeHeadRow.id < before)
    rows = list(s.scalars(q.order_by(TreeHeadRow.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [head_json(r) for r in rows], "next": str(rows[-1].id) if more else None}


# -- issuing ---------------------------------------------------------------------------------
def _snapshot(s: Session) -> tuple[list[bytes], list[tuple[int, str, str]]]:
    leaves = ledger_leaves(s)
    heads = [
        (r.size, r.root, r.time)
        for r in s.execute(select(TreeHeadRow.size, TreeHeadRow.root, TreeHeadRow.time))
    ]
    return leaves, heads


def _check_against_heads(leaves: list[bytes], heads: list[tuple[int, str, str]]) -> None:
    """Refuse to sign over a ledger that no longer gives the roots it was signed with."""
    acc = merkle.CompactRange()
    for size, root, moment in sorted(heads):
        if size > len(leaves):
            raise LedgerAltered(
                f"the tree head of size {size} at {moment} covers more entries than the ledger "
                f"holds ({len(leaves)}): entries were removed; run `custodian verify`"
            )
        while acc.size < size:
            acc.append(leaves[acc.size])
        if acc.root().hex() != root:
            raise LedgerAltered(
                f"entries 1..{size} no longer give the root signed at {moment}: the ledger was "
                "altered; no new tree head is signed over it; run `custodian verify`"
            )


def _insert(s: Session, head: TreeHead, token: bytes | None) -> TreeHeadRow:
    row = TreeHeadRow(
        size=head.size,
        root=head.root_hex,
        time=head.time,
        key_id=head.key_id,
        signature=head.signature,
        tsa_token=token,
    )
    s.add(row)
    s.flush()
    return row


def timestamp(settings: Settings, data: bytes, what: str) -> bytes | None:
    """An RFC 3161 token over data from the configured TSA; None without one or on failure
    (logged: the signed statement stands without trusted time, and says so)."""
    if not settings.tsa_url:
        return None
    try:
        return request_token(settings.tsa_url, data, timeout=settings.tsa_timeout_s)
    except TsaError as exc:
        logger.warning("no RFC 3161 token for %s: %s", what, exc)
        return None


def issue_tree_head(
    db: Database,
    key: ServerKey,
    settings: Settings,
    *,
    only_if_grown: bool = False,
    now: datetime | None = None,
) -> TreeHeadRow | None:
    """Sign a tree head over the whole ledger as it is now (blocking; run it off the loop).

    Checks first that the ledger still gives every earlier head's root, so a tampered ledger
    is never signed. only_if_grown: return None when the newest head already covers it all."""
    leaves, heads = db.call(_snapshot)
    _check_against_heads(leaves, heads)
    if only_if_grown and max((h[0] for h in heads), default=0) >= len(leaves):
        return None
    head = sign_tree_head(len(leaves), merkle.root(leaves), now or utcnow(), key.private)
    token = timestamp(settings, head.signing_bytes(), head.label())
    row = db.call(_insert, head, token)
    publish_witness(settings, row)
    logger.info(
        "signed %s (root %s)%s",
        head.label(),
        head.root_hex,
        " with an RFC 3161 token" if token else "",
    )
    return row


def publish_witness(settings: Settings, row: TreeHeadRow) -> None:
    """Append the head to the witness file (if configured), so the server alone cannot roll
    its ledger back unnoticed. A failure is logged, never fatal to signing."""
    if not settings.tree_head_witness_file:
        return
    line = json.dumps(head_json(row), sort_keys=True, separators=(",", ":")) + "\n"
    try:
        with open(Path(settings.tree_head_witness_file).expanduser(), "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        logger.error("cannot publish %s to the witness file: %s", head_of(row).label(), exc)


def read_witness(settings: Settings) -> list[dict[str, Any]]:
    """Heads published to the witness file (unreadable lines are skipped with a warning)."""
    if not settings.tree_head_witness_file:
        return []
    path = Path(settings.tree_head_witness_file).expanduser()
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        try:
            item = json.loads(line)
        except ValueError:
            logger.warning("witness file %s line %d is not JSON", path, number)
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def stamp_manifests(db: Database, settings: Settings, limit: int = STAMP_BATCH) -> int:
    """Fetch RFC 3161 tokens for manifest versions that have none; how many were stamped."""
    from server.custody.manifests import set_token, unstamped

    if not settings.tsa_url:
        return 0
    done = 0
    for row_id, data in db.call(unstamped, limit):
        token = timestamp(settings, data, f"manifest row {row_id}")
        if token is None:
            break  # the TSA is failing; try again next round
        db.call(set_token, row_id, token)
        done += 1
    return done


# -- proofs ----------------------------------------------------------------------------------
def inclusion(s: Session, seq: int, tree_size: int | None = None) -> dict[str, Any] | None:
    """The inclusion proof of entry seq against a signed head (the newest one by default, or
    the one of tree_size). None when no signed head covers seq yet (the caller may sign one)."""
    if seq < FIRST_SEQ:
        raise BadRequest(f"ledger entries start at {FIRST_SEQ}", code="bad_seq")
    row = s.get(LedgerRow, seq)
    if row is None:
        raise NotFound(f"no ledger entry {seq}")
    if tree_size is not None:
        head = head_of_size(s, tree_size)
        if head is None:
            raise NotFound(f"no signed tree head of size {tree_size}")
        if tree_size < seq:
            raise BadRequest(
                f"tree head of size {tree_size} does not cover entry {seq}", code="bad_tree_size"
            )
    else:
        head = latest_head(s)
        if head is None or head.size < seq:
            return None
    leaves = ledger_leaves(s, head.size)
    if len(leaves) != head.size or merkle.root(leaves).hex() != head.root:
        raise LedgerAltered(
            f"the ledger no longer gives the root of {head_of(head).label()}; run `custodian verify`"
        )
    index = seq - FIRST_SEQ
    proof = merkle.inclusion_proof(leaves, index)
    entry = row_entry(row)
    return {
        "seq": seq,
        "leaf_index": index,
        "tree_size": head.size,
        "entry": row_json(row),
        "entry_canonical": entry_bytes(entry).decode("utf-8"),
        "leaf_hash": leaves[index].hex(),
        "proof": [p.hex() for p in proof],
        "tree_head": head_json(head),
        "algorithm": "RFC 9162 §2.1.3; leaf = SHA-256(0x00 || entry_canonical)",
    }


def consistency(s: Session, first: int, second: int | None = None) -> dict[str, Any]:
    """The consistency proof that the ledger's first `first` entries are a prefix of its first
    `second` entries (second: the newest signed head's size by default)."""
    if second is None:
        head = latest_head(s)
        if head is None:
            raise NotFound("no signed tree head yet: POST /api/v1/ledger/tree-heads")
        second = head.size
    if not 0 <= first <= second:
        raise BadRequest(
            f"need 0 <= first <= second, got first={first} second={second}", code="bad_tree_size"
        )
    leaves = ledger_leaves(s, second)
    if len(leaves) < second:
        raise NotFound(f"the ledger holds only {len(leaves)} entries, not {second}")
    first_head, second_head = head_of_size(s, first), head_of_size(s, second)
    return {
        "first": first,
        "second": second,
        "first_root": merkle.root(leaves[:first]).hex(),
        "second_root": merkle.root(leaves).hex(),
        "proof": [p.hex() for p in merkle.consistency_proof(leaves, first)],
        "first_head": head_json(first_head) if first_head else None,
        "second_head": head_json(second_head) if second_head else None,
        "algorithm": "RFC 9162 §2.1.4",
    }


# -- schedule --------------------------------------------------------------------------------
