"""Evidence is born: the one transaction that turns a fully received, hash-checked upload into
a stored object, an evidence item, its signed manifest v1, the INGEST ledger entry, a queued
media job and (when the station named one) a link to a case stage; or into DUPLICATE when the
agency already holds the same bytes. Its refusal (the hash did not match) is here too.

Typed in and out: `CommitRequest` -> `Committed`. It runs inside a catalogue session (the
caller's transaction); the bytes must already be in the store under `sha256`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import DUPLICATE, INGEST, UPLOAD_REFUSED
from integrity.timefmt import rfc3339
from server.access import Principal
from server.cases.links import link_from_intake
from server.catalogue.models import EvidenceDelivery, EvidenceItem, StoredObject, Upload, utcnow
from server.custody.ledger import actor_of, append
from server.custody.manifests import write_manifest
from server.custody.signing import ServerKey
from server.intake.upload_rows import upload_json
from server.media.job import MEDIA_JOB
from server.media.jobs import enqueue
from server.settings import Settings
from server.store.base import ObjectStore
from transcode.kinds import kind_from_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitRequest:
    """A received upload whose bytes are in the store as `sha256`, kept until `retention`."""

    upload_id: str
    who: Principal
    sha256: str
    retention: datetime
    key: ServerKey
    settings: Settings
    store: ObjectStore


@dataclass(frozen=True)
class Committed:
    """What the upload became: its item (new, or the agency's existing one for a duplicate)."""

    evidence_id: str
    sha256: str
    duplicate: bool
    shared_object: bool  # the stored object already served another item
    upload: dict[str, Any]  # the upload as GET /api/v1/uploads/{id} answers it


def kind_of(filename: str) -> str:
    """The kind an upload's file name suggests (the media job then reads the content)."""
    return kind_from_name(filename)


def refuse(
    s: Session, upload_id: str, who: Principal, found: str, claimed: str | None, reason: str
) -> None:
    """The received bytes do not hash to the station's claim: nothing is stored, the upload is
    refused and an UPLOAD_REFUSED entry says why."""
    u = s.get(Upload, upload_id)
    assert u is not None
    u.state, u.server_sha256, u.error, u.updated_at = "refused", found, reason, utcnow()
    append(
        s,
        actor=actor_of(who),
        action=UPLOAD_REFUSED,
        subject=f"upload:{u.id}",
        details={
            "upload_id": u.id,
            "filename": u.filename,
            "size": u.length,
            "claimed_sha256": claimed,
            "received_sha256": found,
            "station_id": u.station_id,
            "reason": reason,
        },
    )
    logger.warning("upload %s refused: %s", u.id, reason)


def commit_upload(s: Session, req: CommitRequest) -> Committed:
    """Stored object + evidence item + signed manifest v1 + INGEST entry + a queued media job,
    all in one transaction; or DUPLICATE for bytes already held. Idempotent: an upload already
    committed answers what it became."""
    upload_id, who, sha256, retention = req.upload_id, req.who, req.sha256, req.retention
    u = s.get(Upload, upload_id)
    assert u is not None
    if u.state == "committed":
        assert u.evidence_id is not None
        return Committed(
            u.evidence_id, u.server_sha256 or sha256, u.duplicate, False, upload_json(u)
        )
    now = utcnow()
    shared = s.get(StoredObject, sha256) is not None
    if not shared:
        s.add(
            StoredObject(
                sha256=sha256,
                size=u.length,
                role="original",
                retention_until=retention,
                created_at=now,
            )
        )
        s.flush()
    details = {
        "upload_id": u.id,
        "sha256": sha256,
        "size": u.length,
        "filename": u.filename,
        "claimed_sha256": u.claimed_sha256,
        "station_id": u.station_id,
        "device_id": u.device_id,
        "officer_id": u.officer_id,
        # The manifest's textual form: one moment is signed as one text.
        "recorded_at": rfc3339(u.recorded_at) if u.recorded_at else None,
        "case": u.case_ref,
        "stage": u.stage,
    }
    # Bytes are deduplicated in the store only: each agency gets its own item (never another
    # agency's id), and the same agency delivering the bytes again adds a delivery record.
    # (An upload begun before agencies were required may have none: its item is then seen by
    # the roles that see every agency only, never by an agency's people.)
    same_agency = (
        EvidenceItem.agency_id.is_(None)
        if u.agency_id is None
        else EvidenceItem.agency_id == u.agency_id
    )
    item = s.scalar(select(EvidenceItem).where(EvidenceItem.sha256 == sha256, same_agency))
    if item is not None:
        u.duplicate = True
        append(
            s, actor=actor_of(who), action=DUPLICATE, subject=f"evidence:{item.id}", details=details
        )
        logger.info("upload %s: same bytes as evidence %s; no second copy", u.id, item.id)
    else:
        item = EvidenceItem(
            sha256=sha256,
            size=u.length,
            kind=kind_of(u.filename),
            status="received",
            original_filename=u.filename,
            agency_id=u.agency_id,
            device_id=u.device_id,
            officer_id=u.officer_id,
            station_id=u.station_id,
            delivered_by=u.user_id,
            claimed_sha256=u.claimed_sha256,
            recorded_at=u.recorded_at,
            received_at=now,
            retention_until=retention,
        )
        s.add(item)
        s.flush()
        if shared:
            details["shared_object"] = True  # the stored object already served another item
        append(
            s, actor=actor_of(who), action=INGEST, subject=f"evidence:{item.id}", details=details
        )
        from server.people.registry_attribution import (
            on_catalogued,  # device -> officer at recorded_at (issue 16)
        )

        on_catalogued(s, item, who)
        write_manifest(s, item, key=req.key, now=now)
        enqueue(s, MEDIA_JOB, item.id)
        if u.case_ref and u.stage:
            problem = link_from_intake(s, item, u.case_ref, u.stage, who, req.settings, req.store)
            if problem:
                item.media_info = {**(item.media_info or {}), "intake_link_error": problem}
                logger.warning(
                    "upload %s: not linked to case %r stage %r: %s",
                    u.id,
                    u.case_ref,
                    u.stage,
                    problem,
                )
        logger.info("upload %s committed as evidence %s (%s)", u.id, item.id, sha256)
    s.add(
        EvidenceDelivery(
            item_id=item.id,
            upload_id=u.id,
            agency_id=u.agency_id,
            delivered_by=u.user_id,
            filename=u.filename,
            device_id=u.device_id,
            officer_id=u.officer_id,
            station_id=u.station_id,
            recorded_at=u.recorded_at,
            case_ref=u.case_ref,
            stage=u.stage,
            claimed_sha256=u.claimed_sha256,
            first=not u.duplicate,
            received_at=now,
        )
    )
    u.state, u.evidence_id, u.server_sha256, u.updated_at = "committed", item.id, sha256, now
    return Committed(item.id, sha256, u.duplicate, shared, upload_json(u))
