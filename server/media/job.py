"""The media job: make an item's renditions and record them beside the original."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from integrity.manifest import DerivedFile
from integrity.timefmt import parse_rfc3339
from server.catalogue.db import Database
from server.catalogue.models import EvidenceItem, Rendition, StoredObject
from server.catalogue.objects import ensure_stored_object
from server.custody.derivation import record_derivation
from server.custody.manifests import write_manifest
from server.custody.signing import ServerKey, load_or_create_key
from server.errors import NotFound
from server.media.child import MediaOutcome, run_media
from server.settings import Settings
from server.store.base import ObjectStore
from transcode.kinds import AV_KINDS

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
}
MEDIA_JOB = "media"


def media_limits(settings: Settings) -> dict[str, Any]:
    return {
        "max_width": settings.media_max_width,
        "max_height": settings.media_max_height,
        "max_pixels": settings.media_max_width * settings.media_max_height,
        "max_duration_s": float(settings.media_max_duration_seconds),
    }


def _source_path(store: ObjectStore, sha256: str, work: Path) -> Path:
    """A readable path of the original: the local object itself (read only), or a download."""
    local = store.local_path(sha256)
    if local is not None:
        return local
    dst = work / "original"
    with open(dst, "wb") as f:
        for chunk in store.open_range(sha256):
            f.write(chunk)
    return dst


def process_item(
    settings: Settings,
    db: Database,
    store: ObjectStore,
    item_id: str,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run the media pipeline on one item and store every output content-addressed. Running it
    twice yields the same objects (same hashes) and replaces the rendition rows."""
    item = db.call(lambda s: s.get(EvidenceItem, item_id))
    if item is None:
        raise NotFound(f"no evidence item {item_id}")
    db.call(set_status, item_id, "processing", "")
    work_root = settings.data_path / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"media-{item_id}-", dir=work_root))
    try:
        src = _source_path(store, item.sha256, work)
        result = run_media(
            str(src),
            str(work / "out"),
            media_limits(settings),
            float(settings.job_time_limit_seconds),
            progress,
            source_sha256=item.sha256,
        )
        outputs = result.outputs
        # Catalogue the objects before they reach the store (role "pending" until the
        # renditions are recorded): a job that dies between the two never leaves an object the
        # catalogue does not know, which verification would report as planted.
        db.call(_reserve, item.sha256, outputs, item.retention_until)
        for out in outputs:
            store.put_file(
                work / "out" / out.name, out.sha256, retention_until=item.retention_until
            )
        key = load_or_create_key(settings)
        db.call(_record, item_id, result, key)
        logger.info("item %s: %s, %d derived files", item_id, result.status, len(outputs))
        return {"status": result.status, "outputs": len(outputs)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


PENDING = "pending"  # a derived object catalogued before it is stored (see process_item)


def _reserve(
    s: Session, source_sha: str, outputs: Sequence[DerivedFile], retention_until: datetime | None
) -> None:
    for out in outputs:
        ensure_stored_object(
            s,
            sha256=out.sha256,
            size=out.size,
            role=PENDING,
            derived_from=source_sha,
            retention_until=retention_until,
        )


def set_status(s: Session, item_id: str, status: str, reason: str) -> None:
    """Set an item's status (processing only while it is not final yet)."""
    item = s.get(EvidenceItem, item_id)
    if item is not None and (status != "processing" or item.status in ("received", "processing")):
        item.status, item.status_reason = status, reason


def _record(s: Session, item_id: str, result: MediaOutcome, key: ServerKey) -> None:
    """Renditions, status and a new signed manifest version naming every derived file, in one
    transaction (so a manifest never names files the catalogue lacks, nor the reverse)."""
    item = s.get(EvidenceItem, item_id)
    assert item is not None
    outputs = result.outputs
    for out in outputs:
        # Insert-if-absent: another process may record the same derived bytes at this moment.
        ensure_stored_object(
            s,
            sha256=out.sha256,
            size=out.size,
            role="derived",
            derived_from=out.derived_from,
            retention_until=item.retention_until,
        )
    s.execute(
        update(StoredObject)
        .where(StoredObject.sha256.in_([o.sha256 for o in outputs]), StoredObject.role == PENDING)
        .values(role="derived")
    )
    s.flush()
    s.execute(delete(Rendition).where(Rendition.item_id == item_id))
    for out in outputs:
        s.add(
            Rendition(
                item_id=item_id,
                name=out.name,
                role=out.role,
                sha256=out.sha256,
                size=out.size,
                content_type=content_type(out.name),
            )
        )
    probe = result.probe
    item.status = result.status
    # A media file too damaged to probe keeps the kind it arrived as (a cut .mp4 stays a video,
    # shown as unplayable), instead of becoming a "document" because nothing could be read.
    if not (
        result.status == "unplayable" and result.kind not in AV_KINDS and item.kind in AV_KINDS
    ):
        item.kind = result.kind
    item.status_reason = "" if result.status == "ready" else result.reason
    text = result.text_track
    duration = (probe or {}).get("duration_s")
    item.duration_s = float(duration) if isinstance(duration, int | float) else None
    item.media_info = {
        **(item.media_info or {}),
        "probe": probe,
        "reason_zh": result.reason_zh,
        "problems": list(result.problems),
        # The fallback chain as it went: each step with the self-check's verdict.
        "attempts": list(result.attempts),
        "photo": result.photo,
        "text_track": None
        if text is None
        else {k: text.get(k) for k in ("stream_index", "codec", "cues", "gps_points")},
        "streams_other": [
            {"index": st.get("index"), "codec": st.get("codec"), "media_type": st.get("media_type")}
            for st in (probe or {}).get("streams", [])
            if st.get("type") == "other"
        ],
    }
    # The derived files are named once, by the signed manifest (see derived_files); an older
    # item may still carry a copy of that list here, which nothing reads any more.
    item.media_info.pop("derivation", None)
    if result.photo and item.recorded_at is None:
        item.recorded_at = _photo_time(result.photo.get("taken_at"))
    row = write_manifest(s, item, key=key, derived=outputs)
    record_derivation(s, item_id, row, item.sha256, outputs)  # a custody event (issue 13)


def content_type(name: str) -> str:
    """The Content-Type a rendition is served with, from its name."""
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _photo_time(text: str | None) -> datetime | None:
    """EXIF time taken as UTC, only when the camera wrote its offset (else the zone is unknown)."""
    if not text:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None


def renditions(s: Session, item_id: str) -> list[Rendition]:
    return list(
        s.scalars(select(Rendition).where(Rendition.item_id == item_id).order_by(Rendition.name))
    )


def rendition(s: Session, item_id: str, name: str) -> Rendition:
    r = s.scalar(select(Rendition).where(Rendition.item_id == item_id, Rendition.name == name))
    if r is None:
        raise NotFound(
            f"item {item_id} has no rendition {name!r} (not processed yet, or not media)",
            code="no_rendition",
        )
    return r
