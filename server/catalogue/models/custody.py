"""The custody ledger, tree heads, manifests, signing keys, legal holds and disposals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.catalogue.models.base import Base, UTCDateTime, new_id, utcnow


class LedgerRow(Base):
    """One custody-ledger entry; rows are only ever inserted (integrity/ledger.py hashes them)."""

    __tablename__ = "ledger"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    time: Mapped[str] = mapped_column(String(40))  # RFC 3339 as hashed, not re-rendered
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON of the details
    details_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class TreeHeadRow(Base):
    """A signed Merkle tree head over the ledger's first `size` entries."""

    __tablename__ = "tree_heads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ManifestRow(Base):
    """One signed version of an evidence item's manifest; a new version supersedes, never edits."""

    __tablename__ = "item_manifests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the canonical bytes
    manifest: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical JSON bytes, as signed
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ux_manifest_item_version", "item_id", "version", unique=True),)


class LegalHold(Base):
    """A legal hold on an evidence item; released holds stay as history."""

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    release_reason: Mapped[str] = mapped_column(Text, default="")


class DisposalRequest(Base):
    """A request to dispose of an item after its retention; a second person decides."""

    __tablename__ = "disposal_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, approved
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


# -- signing keys with validity windows (issue 13) ------------------------------------------
class SigningKeyRow(Base):
    """A public signing key the server has used, with the window in which it signed
    (RFC 3339 text, compared with tree-head times); the private half lives only in the key
    file, and only for the current key."""

    __tablename__ = "signing_keys"
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_hex: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[str | None] = mapped_column(String(40), nullable=True)
    valid_to: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerThrottle(Base):
    """How many ledger entries of one noisy kind (failed logins, ...) were written in the
    current window, and how many were only counted; the next entry reports that count."""

    __tablename__ = "ledger_throttles"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    written: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)
