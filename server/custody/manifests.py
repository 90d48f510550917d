"""Item manifests in the catalogue: signed versions, each superseding the one before it.

The upload commit and the media pipeline call `write_manifest` in their own transaction; a
manifest row is never updated except to add the RFC 3161 token that stamps it afterwards
(the token covers the unchanged signed bytes, so adding it edits nothing that is signed)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.canonical import loads
from integrity.manifest import (
    DerivedFile,
    ItemManifest,
    OriginalInfo,
    SignedManifest,
    sign_manifest,
)
from integrity.timefmt import rfc3339
from server.catalogue.models import EvidenceItem, ManifestRow, User, utcnow
from server.custody.signing import ServerKey
from server.errors import NotFound

logger = logging.getLogger(__name__)

DerivedLike = DerivedFile | Mapping[str, Any]


def _delivered_by(s: Session, item: EvidenceItem) -> str:
    if item.delivered_by is None:
        return "system"
    user = s.get(User, item.delivered_by)
    return f"user:{item.delivered_by}:{user.username if user else '?'}"


def original_info(s: Session, item: EvidenceItem) -> OriginalInfo:
    """The manifest's description of the original, from the catalogue's evidence item."""
    return OriginalInfo(
        sha256=item.sha256,
        size=item.size,
        original_name=item.original_filename,
        delivered_by=_delivered_by(s, item),
        station_id=item.station_id,
        claimed_sha256=item.claimed_sha256,
        received_at=rfc3339(item.received_at),
        device_id=item.device_id,
        officer_id=item.officer_id,
        recorded_at=rfc3339(item.recorded_at) if item.recorded_at is not None else None,
    )


def _derived(value: DerivedLike) -> DerivedFile:
    return value if isinstance(value, DerivedFile) else DerivedFile.from_dict(value)


def latest_manifest(s: Session, item_id: str) -> ManifestRow | None:
    """The newest manifest version of an item, or None when it has none yet."""
    return s.scalar(
        select(ManifestRow)
        .where(ManifestRow.item_id == item_id)
        .order_by(ManifestRow.version.desc())
        .limit(1)
    )


def manifest_versions(s: Session, item_id: str) -> list[ManifestRow]:
    """Every manifest version of an item, oldest first."""
    return list(
        s.scalars(
            select(ManifestRow).where(ManifestRow.item_id == item_id).order_by(ManifestRow.version)
        )
    )


def write_manifest(
    s: Session,
    item: EvidenceItem | str,
    *,
    key: ServerKey | Ed25519PrivateKey,
    derived: Iterable[DerivedLike] | None = None,
    now: datetime | None = None,
    tsa_token: bytes | None = None,
) -> ManifestRow:
    """Sign and store version N+1 of the item's manifest (version 1 when it has none).

    derived: the item's complete list of derived files in this version; None keeps the
    previous version's list. Runs in the caller's transaction. On PostgreSQL the item row is
    locked first so two writers of one item queue instead of both claiming version N+1."""
    item_id = item if isinstance(item, str) else item.id
    row = s.scalar(select(EvidenceItem).where(EvidenceItem.id == item_id).with_for_update())
    if row is None:
        raise NotFound(f"no evidence item {item_id}")
    private = key.private if isinstance(key, ServerKey) else key
    moment = now or utcnow()
    original = original_info(s, row)
    previous = latest_manifest(s, item_id)
    if previous is None:
        manifest = ItemManifest(
            item_id=item_id,
            version=1,
            supersedes=None,
            original=original,
            derived=tuple(_derived(d) for d in derived or ()),
            created_at=rfc3339(moment),
        )
    else:
        before = ItemManifest.from_bytes(previous.manifest)
        manifest = before.next_version(
            derived=None if derived is None else [_derived(d) for d in derived],
            created_at=moment,
            original=original,
        )
    signed = sign_manifest(manifest, private)
    out = ManifestRow(
        item_id=item_id,
        version=manifest.version,
        sha256=signed.sha256(),
        manifest=signed.manifest_bytes,
        key_id=signed.key_id,
        signature=signed.signature,
        tsa_token=tsa_token,
        created_at=moment,
    )
    s.add(out)
    s.flush()
    logger.info("manifest v%d of evidence %s (%s)", manifest.version, item_id, out.sha256)
    return out


def signed_of(row: ManifestRow) -> SignedManifest:
    """The row as the integrity package's SignedManifest."""
    return SignedManifest(bytes(row.manifest), row.key_id, row.signature)


def manifest_json(row: ManifestRow) -> dict[str, Any]:
    """A manifest version for the API: the manifest itself plus how it is signed and stamped."""
    return {
        "item_id": row.item_id,
        "version": row.version,
        "sha256": row.sha256,
        "manifest": loads(bytes(row.manifest)),
        "manifest_b64": base64.b64encode(bytes(row.manifest)).decode("ascii"),
        "key_id": row.key_id,
        "signature": row.signature,
        "tsa_token": base64.b64encode(row.tsa_token).decode("ascii") if row.tsa_token else None,
    }


def unstamped(s: Session, limit: int = 100) -> list[tuple[int, bytes]]:
    """(row id, signed bytes) of manifest versions that have no RFC 3161 token yet."""
    rows = s.execute(
        select(ManifestRow.id, ManifestRow.manifest)
        .where(ManifestRow.tsa_token.is_(None))
        .order_by(ManifestRow.id)
        .limit(limit)
    )
    return [(r[0], bytes(r[1])) for r in rows]


def set_token(s: Session, row_id: int, token: bytes) -> None:
    """Attach a token to a manifest version that has none (never replaces one)."""
    row = s.get(ManifestRow, row_id)
    if row is not None and row.tsa_token is None:
        row.tsa_token = token
