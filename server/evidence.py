"""Evidence items in the catalogue: queries the routes and the ingest path share."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from server.access import CROSS_AGENCY, READ_EVIDENCE, Principal, require
from server.errors import BadRequest, NotFound
from server.models import EvidenceItem
from server.web import iso

PAGE_MAX = 200


def item_json(item: EvidenceItem) -> dict[str, Any]:
    """The public listing fields of API.md plus what a reviewer needs."""
    return {
        "id": item.id, "sha256": item.sha256, "size": item.size, "kind": item.kind,
        "status": item.status, "status_reason": item.status_reason,
        "recorded_at": iso(item.recorded_at), "received_at": iso(item.received_at),
        "device_id": item.device_id, "officer_id": item.officer_id, "station_id": item.station_id,
        "original_filename": item.original_filename, "agency_id": item.agency_id,
        "retention_until": iso(item.retention_until),
    }


def item_detail(s: Session, item: EvidenceItem) -> dict[str, Any]:
    """One item with its renditions, probe results, jobs and playback links."""
    from server.jobs import job_json
    from server.media import renditions
    from server.models import Job

    base = f"/api/v1/evidence/{item.id}"
    rends = renditions(s, item.id)
    names = {r.name for r in rends}
    links = {"original": f"{base}/original"}
    if "hls/index.m3u8" in names:
        links["hls"] = f"{base}/hls/index.m3u8"
    if "trickplay/thumbnails.vtt" in names:
        links["thumbnails"] = f"{base}/thumbnails.vtt"
    if "waveform.json" in names:
        links["waveform"] = f"{base}/waveform.json"
    if "preview.jpg" in names:
        links["preview"] = f"{base}/preview.jpg"
    info = item.media_info or {}
    job = s.scalar(select(Job).where(Job.subject == item.id).order_by(Job.id.desc()).limit(1))
    return {
        **item_json(item),
        "renditions": [{"name": r.name, "role": r.role, "sha256": r.sha256, "size": r.size}
                       for r in rends],
        "probe": _public_probe(info.get("probe")),
        "status_reason_zh": info.get("reason_zh", ""),
        "derivation": info.get("derivation", []),
        "intake_link_error": info.get("intake_link_error"),
        "job": job_json(job) if job else None,
        "links": links,
        "cases": _case_links(s, item.id),
    }


def _public_probe(probe: Any) -> Any:
    """The probe result without the server's file path of the original."""
    if isinstance(probe, dict):
        return {k: v for k, v in probe.items() if k != "path"}
    return probe


def _case_links(s: Session, item_id: str) -> list[dict[str, Any]]:
    """The case stages the item is (or was) linked to."""
    from server.cases import item_links

    return item_links(s, item_id)


def get_item(s: Session, item_id: str, who: Principal) -> EvidenceItem:
    """One item the caller may read; 404 when absent, 403 when another agency's."""
    item = s.get(EvidenceItem, item_id) if isinstance(item_id, str) and len(item_id) <= 64 else None
    if item is None:
        raise NotFound(f"no evidence item {item_id}")
    require(who, READ_EVIDENCE, item.agency_id)
    return item


def _encode_cursor(item: EvidenceItem) -> str:
    raw = f"{iso(item.received_at)}|{item.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at.replace("Z", "+00:00")), item_id
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("bad cursor", code="bad_cursor") from None


def list_items(s: Session, who: Principal, *, sha256: str | None = None, cursor: str | None = None,
               limit: int = 50, case: str | None = None) -> dict[str, Any]:
    """Items visible to the caller, newest first, keyset-paginated."""
    require(who, READ_EVIDENCE)
    limit = max(1, min(limit, PAGE_MAX))
    q = select(EvidenceItem)
    if who.role not in CROSS_AGENCY:
        q = q.where(EvidenceItem.agency_id == who.agency_id)
    if sha256:
        q = q.where(EvidenceItem.sha256 == sha256.lower())
    if case:  # a case id or case number: the items linked to it now
        from server.cases import case_item_filter

        q = q.where(case_item_filter(s, case, who))
    if cursor:
        at, item_id = _decode_cursor(cursor)
        q = q.where(or_(EvidenceItem.received_at < at,
                        and_(EvidenceItem.received_at == at, EvidenceItem.id < item_id)))
    rows = list(s.scalars(q.order_by(EvidenceItem.received_at.desc(), EvidenceItem.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [item_json(r) for r in rows], "next": _encode_cursor(rows[-1]) if more else None}
