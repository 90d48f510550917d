"""Every signing key the server has used, with validity windows; `custodian keys` and rotation.

The private key lives only in the key file (the current key). Public keys stay in the catalogue
(table signing_keys) with the window in which each signed, so a tree head is checked against the
key valid at its time. A rotation is a ledger entry whose statement both the old and the new key
sign, between a last tree head by the old key and a first one by the new key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrity import signing
from integrity.canonical import canonical_json
from integrity.ledger import KEY_ROTATION
from integrity.timefmt import rfc3339
from server.catalogue.models import SigningKeyRow, TreeHeadRow, utcnow
from server.custody.ledger import append
from server.custody.signing import ALGORITHM, ServerKey

ROTATION_FORMAT = "custodian.key-rotation/1"


@dataclass(frozen=True)
class KeyRecord:
    """One public key and its window (None: open)."""

    key_id: str
    fingerprint: str
    public_key_hex: str
    valid_from: str | None
    valid_to: str | None
    current: bool

    @property
    def public(self) -> Ed25519PublicKey:
        return signing.public_key_of(self.public_key_hex)

    def to_json(self) -> dict[str, Any]:
        """The published form (GET /api/v1/keys, `custodian keys --json`, keys.json)."""
        return {
            "key_id": self.key_id,
            "fingerprint": self.fingerprint,
            "algorithm": ALGORITHM,
            "public_key_hex": self.public_key_hex,
            "public_key_pem": signing.public_key_pem(self.public_key_hex),
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "current": self.current,
        }


def _row_for(key: Any) -> SigningKeyRow:
    return SigningKeyRow(
        key_id=signing.key_id(key),
        fingerprint=signing.fingerprint(key),
        public_key_hex=signing.public_key_hex(key),
    )


def ensure_registered(s: Session, key: ServerKey) -> None:
    """Record the current key if the catalogue does not know it yet. Its window starts at the
    first tree head it signed (a key in use before keys were recorded), or now."""
    kid = key.key_id
    if s.get(SigningKeyRow, kid) is not None:
        return
    first = s.scalar(select(func.min(TreeHeadRow.time)).where(TreeHeadRow.key_id == kid))
    row = _row_for(key.private)
    row.valid_from = first or rfc3339(utcnow())
    s.add(row)
    s.flush()


def keyring(s: Session, current: ServerKey | None = None) -> list[KeyRecord]:
    """Every known key, oldest first; the current key file's key is included even when the
    catalogue does not list it yet."""
    rows = list(
        s.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at, SigningKeyRow.key_id))
    )
    current_id = current.key_id if current else None
    out = [
        KeyRecord(
            r.key_id,
            r.fingerprint,
            r.public_key_hex,
            r.valid_from,
            r.valid_to,
            r.key_id == current_id,
        )
        for r in rows
    ]
    if current is not None and current_id not in {r.key_id for r in rows}:
        out.append(
            KeyRecord(
                current_id or "",
                signing.fingerprint(current.private),
                signing.public_key_hex(current.private),
                None,
                None,
                True,
            )
        )
    return out


def public_keys(records: list[KeyRecord]) -> dict[str, Ed25519PublicKey]:
    """{key_id: public key} of every known key: what verification accepts signatures from."""
    return {r.key_id: r.public for r in records}


def windows(records: list[KeyRecord]) -> dict[str, tuple[str | None, str | None]]:
    """{key_id: (valid_from, valid_to)} for the package's keys.json."""
    return {r.key_id: (r.valid_from, r.valid_to) for r in records}


def rotation_statement(old: Any, new: Any, moment: str) -> bytes:
    """The canonical bytes both keys sign: 'from `moment` on, the new key replaces the old'."""
    return canonical_json(
        {
            "format": ROTATION_FORMAT,
            "old_key_id": signing.key_id(old),
            "old_fingerprint": signing.fingerprint(old),
            "new_key_id": signing.key_id(new),
            "new_fingerprint": signing.fingerprint(new),
            "new_public_key_hex": signing.public_key_hex(new),
            "time": moment,
        }
    )


def _record_rotation(s: Session, old: ServerKey, new_private: Any, actor: str) -> dict[str, Any]:
    moment = rfc3339(utcnow())
    statement = rotation_statement(old.private, new_private, moment)
    ensure_registered(s, old)
    row = s.get(SigningKeyRow, old.key_id)
    assert row is not None
    row.valid_to = moment
    new_row = _row_for(new_private)
    new_row.valid_from = moment
    s.add(new_row)
    details = {
        **json.loads(statement),
        "statement_sha256": hashlib.sha256(statement).hexdigest(),
        "old_key_signature": signing.sign(old.private, statement),
        "new_key_signature": signing.sign(new_private, statement),
    }
    append(s, actor=actor, action=KEY_ROTATION, subject="keys", details=details)
    return details


def rotate(settings: Any, db: Any, actor: str) -> dict[str, Any]:
    """Replace the signing key: a last head by the old key, the rotation entry signed by both,
    the new key file in place (the old private key is gone), a first head by the new key."""
    from server.custody.signing import load_existing_key
    from server.custody.treeheads import issue_tree_head

    old = load_existing_key(settings)
    if old is None:
        from server.errors import BadRequest

        raise BadRequest("no signing key to rotate yet (start the server once)", code="no_key")
    db.call(ensure_registered, old)
    issue_tree_head(db, old, settings, only_if_grown=True)
    new_private = signing.generate_key()
    fd, tmp = tempfile.mkstemp(prefix=".key-rotate-", dir=old.path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(signing.private_key_pem(new_private))
            out.flush()
            os.fsync(out.fileno())
        details = db.call(_record_rotation, old, new_private, actor)
        os.replace(tmp, old.path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    new = ServerKey(new_private, old.path)
    issue_tree_head(db, new, settings)
    return details
