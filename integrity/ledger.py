"""The custody ledger's pure half: entries, their hash chain, Merkle leaves and signed tree heads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from integrity import merkle
from integrity.canonical import canonical_hash, canonical_json
from integrity.errors import (
    CHAIN_BROKEN,
    DETAILS_MISMATCH,
    ENTRY_MISSING,
    ORDER_SWAPPED,
    SIGNATURE_INVALID,
    TREE_HEAD_MISMATCH,
    Problem,
)
from integrity.timefmt import as_rfc3339

if TYPE_CHECKING:  # signing (and cryptography) load only when a tree head is signed or checked
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from integrity import signing

# Actions: every act on evidence leaves one of these.
INGEST = "ingest"
DUPLICATE = "duplicate_received"
VIEW = "view"
LINK = "link"
UNLINK = "unlink"
ANNOTATION = "annotation"
EXPORT = "export"
RETENTION = "retention_change"
USER = "user_change"
VERIFY = "verification"
UPLOAD_REFUSED = "upload_refused"
FIXITY = "fixity_scrub"
# Case handling (issue 6): every write to a case leaves one of these.
CASE_CHANGE = "case_change"
RECORD = "record"
APPROVAL = "approval"
COMPLAINT = "complaint"
DISPOSAL_REQUEST = "disposal_request"
DISPOSAL_APPROVAL = "disposal_approval"
# Access (issue 12): a permission denial (403, or 404 for another agency's object).
ACCESS_DENIED = "access_denied"
# Supervision (issue 15): 抽查 drawn / scored, 责令限期整改 issued / answered.
SPOT_CHECK = "spot_check"
RECTIFICATION = "rectification"
ACTIONS = frozenset(
    {
        INGEST,
        DUPLICATE,
        VIEW,
        LINK,
        UNLINK,
        ANNOTATION,
        EXPORT,
        RETENTION,
        USER,
        VERIFY,
        UPLOAD_REFUSED,
        FIXITY,
        CASE_CHANGE,
        RECORD,
        APPROVAL,
        COMPLAINT,
        DISPOSAL_REQUEST,
        DISPOSAL_APPROVAL,
        ACCESS_DENIED,
        SPOT_CHECK,
        RECTIFICATION,
    }
)
# The officer / device / station registry (issue 16): its changes, and whose footage an item is.
OFFICER_ADD = "officer_add"
OFFICER_UPDATE = "officer_update"
OFFICER_LEAVE = "officer_leave"
DEVICE_ADD = "device_add"
DEVICE_UPDATE = "device_update"
DEVICE_ASSIGN = "device_assign"
DEVICE_RETIRE = "device_retire"
STATION_ADD = "station_add"
ATTRIBUTE = "attribute"  # at ingest: the officer who held the item's device at recorded_at
REATTRIBUTE = "reattribute"  # a person re-ran attribution after registering a device
ACTIONS = ACTIONS | {
    OFFICER_ADD,
    OFFICER_UPDATE,
    OFFICER_LEAVE,
    DEVICE_ADD,
    DEVICE_UPDATE,
    DEVICE_ASSIGN,
    DEVICE_RETIRE,
    STATION_ADD,
    ATTRIBUTE,
    REATTRIBUTE,
}

# Court-side custody events (issue 13): a signing-key rotation, and media derivation (a new
# manifest version naming derived files, or a re-process).
KEY_ROTATION = "key_rotation"
DERIVATION = "derivation"
ACTIONS = ACTIONS | {KEY_ROTATION, DERIVATION}
# Accounts (issue 12): logins and agency administration (user administration is USER).
LOGIN = "login"
LOGIN_FAILED = "login_failed"
AGENCY = "agency_change"
ACTIONS = ACTIONS | {LOGIN, LOGIN_FAILED, AGENCY}

GENESIS_PREV = "0" * 64
# The first entry has seq 1; Merkle leaf index = seq - FIRST_SEQ, so tree size n covers
# seq 1..n.
FIRST_SEQ = 1
TREE_HEAD_FORMAT = "custodian.tree-head/1"


@dataclass(frozen=True)
class LedgerEntry:
    """One custody act, chained to the entry before it by prev_hash."""

    seq: int
    time: str
    actor: str
    action: str
    subject: str
    details_hash: str
    prev_hash: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form (exactly the hashed fields)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Build from the dict form."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def entry_bytes(entry: LedgerEntry) -> bytes:
    """The canonical JSON bytes of an entry: what is hashed and what a Merkle leaf holds."""
    return canonical_json(entry.to_dict())


def entry_hash(entry: LedgerEntry) -> str:
    """SHA-256 hex of entry_bytes: the next entry's prev_hash."""
    return hashlib.sha256(entry_bytes(entry)).hexdigest()


def details_hash(details: Mapping[str, Any]) -> str:
    """The canonical hash of an entry's details."""
    return canonical_hash(details)


def leaf_for(entry: LedgerEntry) -> bytes:
    """The entry's Merkle leaf hash, H(0x00 || entry_bytes)."""
    return merkle.leaf_hash(entry_bytes(entry))


def make_entry(
    *,
    seq: int,
    time: str | datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> LedgerEntry:
    """Build the next entry from its details; the caller (the single writer) supplies seq/prev."""
    if action not in ACTIONS:
        raise ValueError(f"unknown ledger action {action!r}")
    return LedgerEntry(
        seq=seq,
        time=as_rfc3339(time),
        actor=actor,
        action=action,
        subject=subject,
        details_hash=details_hash(details),
        prev_hash=prev_hash,
    )


@dataclass(frozen=True)
class TreeHead:
    """A signed statement: 'the ledger had `size` entries with this Merkle root at `time`'."""

    size: int
    root_hex: str
    time: str
    key_id: str
    signature: str

    def signing_bytes(self) -> bytes:
        """The canonical bytes the signature covers."""
        return tree_head_signing_bytes(self.size, self.root_hex, self.time, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeHead:
        """Build from the dict form."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def label(self) -> str:
        """How messages name this tree head."""
        return f"tree head of size {self.size} at {self.time}"


def tree_head_signing_bytes(size: int, root_hex: str, time: str, key_id: str) -> bytes:
    """Canonical bytes of a tree head's signed fields (with a format tag against reuse)."""
    return canonical_json(
        {"format": TREE_HEAD_FORMAT, "size": size, "root": root_hex, "time": time, "key_id": key_id}
    )


def sign_tree_head(
    size: int, root: bytes | str, time: str | datetime, key: Ed25519PrivateKey
) -> TreeHead:
    """Sign (size, root, time) with the server key."""
    from integrity import signing

    root_hex = root.hex() if isinstance(root, bytes) else root
    moment = as_rfc3339(time)
    kid = signing.key_id(key)
    signature = signing.sign(key, tree_head_signing_bytes(size, root_hex, moment, kid))
    return TreeHead(size, root_hex, moment, kid, signature)


def verify_tree_head(
    head: TreeHead, public_key: signing.PublicKeyLike | Mapping[str, signing.PublicKeyLike]
) -> list[Problem]:
    """Problems with a tree head's signature (empty list: the signature holds)."""
    from integrity import signing

    where = head.label()
    key = signing.select_key(public_key, head.key_id)
    if key is None:
        return [Problem(SIGNATURE_INVALID, where, f"{where}: signed by unknown key {head.key_id}")]
    if not signing.verify(key, head.signing_bytes(), head.signature):
        return [
            Problem(
                SIGNATURE_INVALID,
                where,
                f"{where}: signature invalid (tree head forged or altered; key {head.key_id})",
            )
        ]
    return []


def _swapped(a: LedgerEntry, b: LedgerEntry, expected_prev: str) -> bool:
    # Would a and b link up if their contents were put back in each other's seq slots?
    first = replace(b, seq=a.seq)
    second = replace(a, seq=b.seq)
    return first.prev_hash == expected_prev and second.prev_hash == entry_hash(first)


def check_chain(
    entries: Iterable[LedgerEntry],
    details: Mapping[int, Mapping[str, Any]] | None = None,
    *,
    start_seq: int = FIRST_SEQ,
    start_prev_hash: str = GENESIS_PREV,
) -> list[Problem]:
    """Every break in the hash chain: edited, deleted, duplicated or reordered entries.

    entries are in the order they were read (normally by seq). details maps seq to the stored
    details, checked against each entry's details_hash. For a slice of the ledger, pass the
    seq of its first entry and the hash of the entry before it.
    """
    problems: list[Problem] = []
    rows = list(entries)

    # Step 1: rows must come in seq order; a step back means rows were reordered.
    for before, entry in zip(rows, rows[1:], strict=False):
        if entry.seq < before.seq:
            problems.append(
                Problem(
                    ORDER_SWAPPED,
                    f"ledger entry {entry.seq}",
                    f"ledger entry {entry.seq} appears after entry {before.seq} (order swapped)",
                )
            )

    # The remaining steps follow seq order, so one misplaced row is reported once, above,
    # and not again as a gap plus a broken link.
    rows.sort(key=lambda e: e.seq)
    expected_seq = start_seq
    expected_prev = start_prev_hash
    previous: LedgerEntry | None = None
    # Positions already covered by a swap diagnosis, with the hash the chain continues from
    # (the swapped pair's original second entry), so the entry after the pair is not
    # reported as a second break.
    explained: dict[int, str] = {}
    for position, entry in enumerate(rows):
        where = f"ledger entry {entry.seq}"
        after = f"entry {previous.seq}" if previous is not None else "the start of the ledger"
        link_explained = position in explained
        # Step 2: sequence numbers run on with no gap and no repeat.
        if entry.seq < expected_seq:
            problems.append(
                Problem(
                    CHAIN_BROKEN,
                    where,
                    f"ledger entry {entry.seq} appears more than once (row duplicated or inserted)",
                )
            )
            link_explained = True
        elif entry.seq > expected_seq:
            missing = (
                f"entry {expected_seq} is"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq}..{entry.seq - 1} are"
            )
            problems.append(
                Problem(
                    ENTRY_MISSING,
                    where,
                    f"ledger entry {entry.seq} follows {after}: {missing} missing (row deleted)",
                )
            )
            # The gap already explains why prev_hash cannot match.
            link_explained = True
        # Step 3: prev_hash links to the entry before it.
        if not link_explained and entry.prev_hash != expected_prev:
            nxt = rows[position + 1] if position + 1 < len(rows) else None
            if nxt is not None and nxt.seq == entry.seq + 1 and _swapped(entry, nxt, expected_prev):
                problems.append(
                    Problem(
                        ORDER_SWAPPED,
                        where,
                        f"ledger entries {entry.seq} and {nxt.seq} have been swapped "
                        f"(each one's content links up only in the other's place)",
                    )
                )
                explained[position + 1] = entry_hash(replace(entry, seq=nxt.seq))
            else:
                problems.append(
                    Problem(
                        CHAIN_BROKEN,
                        where,
                        f"ledger entry {entry.seq}: prev_hash does not match {after} "
                        f"(chain broken)",
                    )
                )
        # Step 4: the stored details still hash to what the entry recorded.
        if details is not None and entry.seq in details:
            found = details_hash(details[entry.seq])
            if found != entry.details_hash:
                problems.append(
                    Problem(
                        DETAILS_MISMATCH,
                        where,
                        f"ledger entry {entry.seq}: details hash to {found}, but the entry "
                        f"records {entry.details_hash} (details edited)",
                    )
                )
        expected_seq = max(expected_seq, entry.seq + 1)
        expected_prev = explained.get(position) or entry_hash(entry)
        previous = entry
    return problems


def check_tree_heads(
    entries: Sequence[LedgerEntry] | Iterable[LedgerEntry],
    heads: Iterable[TreeHead],
    public_key: signing.PublicKeyLike | Mapping[str, signing.PublicKeyLike],
) -> list[Problem]:
    """Every signed tree head whose signature fails or whose root the entries no longer give.

    entries must be the whole ledger from seq 1, in seq order.
    """
    leaves = [leaf_for(e) for e in entries]
    problems: list[Problem] = []
    # One pass over the leaves, taking the root at each head's size: O(n + heads·log n).
    ordered = sorted(heads, key=lambda h: h.size)
    acc = merkle.CompactRange()
    for head in ordered:
        where = head.label()
        problems.extend(verify_tree_head(head, public_key))
        if head.size > len(leaves):
            problems.append(
                Problem(
                    TREE_HEAD_MISMATCH,
                    where,
                    f"{where}: covers {head.size} entries but the ledger holds only "
                    f"{len(leaves)} (entries deleted from the end)",
                )
            )
            continue
        while acc.size < head.size:
            acc.append(leaves[acc.size])
        found = acc.root().hex()
        if found != head.root_hex:
            problems.append(
                Problem(
                    TREE_HEAD_MISMATCH,
                    where,
                    f"{where}: entries 1..{head.size} give root {found}, the signed head says "
                    f"{head.root_hex} (ledger altered since it was signed)",
                )
            )
    return problems
