"""Derivation as a custody event: each media job's new manifest version, and each re-process a
person asks for, is a ledger entry naming the derived files' hashes (issue 13 point 6)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from integrity.ledger import DERIVATION
from integrity.manifest import DerivedFile, ItemManifest
from server.access import Principal
from server.catalogue.models import ManifestRow
from server.custody.ledger import actor_of, append


def record_derivation(
    s: Session,
    item_id: str,
    manifest: ManifestRow,
    source_sha256: str,
    outputs: Iterable[DerivedFile],
    *,
    who: Principal | None = None,
) -> None:
    """Ledger a manifest version that names derived files (in the caller's transaction)."""
    append(
        s,
        actor=actor_of(who),
        action=DERIVATION,
        subject=f"evidence:{item_id}",
        details={
            "what": "manifest_version",
            "version": manifest.version,
            "manifest_sha256": manifest.sha256,
            "derived_from": source_sha256,
            "derived": [
                {
                    "name": o.name,
                    "role": o.role,
                    "sha256": o.sha256,
                    "size": o.size,
                    "tool": o.tool,
                    "tool_version": o.tool_version,
                }
                for o in outputs
            ],
        },
    )


def record_reprocess(s: Session, item_id: str, job_id: int, who: Principal) -> None:
    """Ledger a person's request to re-process an item (its outputs follow as a derivation)."""
    from server.custody.manifests import latest_manifest

    current = latest_manifest(s, item_id)
    append(
        s,
        actor=actor_of(who),
        action=DERIVATION,
        subject=f"evidence:{item_id}",
        details={
            "what": "reprocess_requested",
            "job_id": job_id,
            "current_manifest_version": current.version if current else None,
            "current_manifest_sha256": current.sha256 if current else None,
        },
    )


def derived_files(s: Session, item_id: str) -> tuple[DerivedFile, ...]:
    """The derived files of an item as its newest signed manifest names them (none without one)."""
    from server.custody.manifests import latest_manifest

    row = latest_manifest(s, item_id)
    return ItemManifest.from_bytes(bytes(row.manifest)).derived if row is not None else ()
