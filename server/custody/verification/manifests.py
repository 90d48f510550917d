"""Verification step: every manifest version (signature, version chain, the original as the
catalogue records it, RFC 3161 tokens when roots are configured)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity import tsa
from integrity.errors import (
    MANIFEST_INVALID,
    Problem,
)
from integrity.manifest import ItemManifest, check_versions, verify_manifest
from server.catalogue.db import Database
from server.catalogue.models import EvidenceItem, ManifestRow
from server.custody.manifests import signed_of
from server.custody.verification.report import (
    ProgressFn,
    Report,
)


def _manifest_data(s: Session) -> tuple[dict[str, tuple[str, int]], list[ManifestRow]]:
    items = {
        r[0]: (r[1], r[2])
        for r in s.execute(select(EvidenceItem.id, EvidenceItem.sha256, EvidenceItem.size))
    }
    rows = list(s.scalars(select(ManifestRow).order_by(ManifestRow.item_id, ManifestRow.version)))
    s.expunge_all()
    return items, rows


def check_manifests(
    db: Database,
    report: Report,
    public_keys: Mapping[str, Any],
    *,
    tsa_roots: bytes | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Every manifest version: signature, bytes, version chain, original vs the catalogue."""
    items, rows = db.call(_manifest_data)
    by_item: dict[str, list[ManifestRow]] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    report.items = len(items)
    report.manifests = len(rows)
    done = 0
    for item_id in sorted(set(items) | set(by_item)):
        versions = by_item.get(item_id, [])
        label = f"evidence item {item_id}"
        if item_id not in items:
            report.problems.append(
                Problem(
                    MANIFEST_INVALID,
                    label,
                    f"{label}: has {len(versions)} manifest version(s) but no catalogue entry "
                    "(item row deleted?)",
                )
            )
        elif not versions:
            report.problems.append(
                Problem(
                    MANIFEST_INVALID, label, f"{label}: has no signed manifest (manifest deleted?)"
                )
            )
        parsed: list[ItemManifest] = []
        for row in versions:
            where = f"{label} manifest v{row.version}"
            signed = signed_of(row)
            found = signed.sha256()
            if found != row.sha256:
                report.problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        where,
                        f"{where}: bytes hash to {found}, the catalogue records {row.sha256} "
                        "(manifest edited)",
                    )
                )
            problems = verify_manifest(signed, public_keys, where=where)
            report.problems.extend(problems)
            try:
                manifest = signed.manifest()
            except (ValueError, TypeError, KeyError):
                continue  # verify_manifest reported it
            if manifest.item_id != row.item_id or manifest.version != row.version:
                report.problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        where,
                        f"{where}: the signed bytes describe item {manifest.item_id} "
                        f"v{manifest.version} (manifest moved to another item or version)",
                    )
                )
            if item_id in items:
                sha, size = items[item_id]
                if manifest.original.sha256 != sha or manifest.original.size != size:
                    report.problems.append(
                        Problem(
                            MANIFEST_INVALID,
                            where,
                            f"{where}: the manifest's original is {manifest.original.sha256} "
                            f"({manifest.original.size} bytes), the catalogue's item is {sha} "
                            f"({size} bytes)",
                        )
                    )
            parsed.append(manifest)
            if row.tsa_token:
                if tsa_roots is None:
                    report.tokens_unchecked += 1
                else:
                    report.tokens_checked += 1
                    _, bad = tsa.check_token(
                        row.tsa_token,
                        signed.manifest_bytes,
                        tsa_roots,
                        where=f"{where}: RFC 3161 token",
                    )
                    report.problems.extend(bad)
        report.problems.extend(check_versions(parsed, where="evidence item"))
        done += 1
        if progress is not None:
            progress("manifests", done, len(items))
