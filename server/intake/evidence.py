"""Evidence items in the catalogue: queries the routes and the ingest path share."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from integrity.timefmt import MissingOffset, parse_rfc3339
from server.access import (
    READ_EVIDENCE,
    Principal,
    Sealed,
    require,
    require_seen,
    sees,
    sees_all,
)
from server.catalogue.models import EVIDENCE_KINDS, EVIDENCE_STATUSES, EvidenceItem
from server.custody.retention import (
    DISPOSED,  # the class of an item disposed of after its retention
)
from server.errors import BadRequest, CustodianError, NotFound
from server.isotime import iso

PAGE_MAX = 200
FILTER_MAX_LEN = 100


def _filter_error(field: str, problem: str, text: str) -> BadRequest:
    return BadRequest(
        f"query parameter {field!r} {text}",
        code="bad_query",
        params={"field": field, "problem": problem},
    )


def _query_time(field: str, raw: str, end_of_day: bool) -> datetime:
    """An RFC 3339 time with an offset, or a date (that whole day, UTC)."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
        return parse_rfc3339(raw)
    except MissingOffset:
        raise _filter_error(field, "not_time", "needs a UTC offset (e.g. Z or +08:00)") from None
    except ValueError:
        raise _filter_error(field, "not_time", "must be an RFC 3339 time or a date") from None


@dataclass(frozen=True)
class ItemFilters:
    """Server-side filters of the evidence list (every one optional, all combined with AND)."""

    officer_id: str | None = None
    device_id: str | None = None
    station_id: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    unlinked: bool = False
    filename: str | None = None
    ids: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> ItemFilters:
        def text(*names: str) -> str | None:
            for name in names:
                value = (q.get(name) or "").strip()
                if value:
                    if len(value) > FILTER_MAX_LEN:
                        raise _filter_error(
                            name, "too_long", f"is longer than {FILTER_MAX_LEN} characters"
                        )
                    return value
            return None

        def choices(name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
            values = tuple(v for v in (q.get(name) or "").split(",") if v)
            bad = [v for v in values if v not in allowed]
            if bad:
                raise _filter_error(name, "unknown", f"must be among {', '.join(allowed)}")
            return values

        unlinked = (q.get("unlinked") or "").lower()
        if unlinked not in ("", "0", "1", "true", "false"):
            raise _filter_error("unlinked", "not_bool", "must be 1 or 0")
        ids = tuple(v for v in (q.get("ids") or "").split(",") if v)
        if len(ids) > PAGE_MAX or any(len(v) > 64 for v in ids):
            raise _filter_error("ids", "unknown", f"must be at most {PAGE_MAX} item ids")
        frm, to = q.get("recorded_from") or "", q.get("recorded_to") or ""
        return cls(
            officer_id=text("officer_id", "officer"),
            device_id=text("device_id", "device"),
            station_id=text("station_id", "station"),
            recorded_from=_query_time("recorded_from", frm, False) if frm else None,
            recorded_to=_query_time("recorded_to", to, True) if to else None,
            kinds=choices("kind", EVIDENCE_KINDS),
            statuses=choices("status", EVIDENCE_STATUSES),
            unlinked=unlinked in ("1", "true"),
            filename=text("filename", "q"),
            ids=ids,
        )

    def apply(self, q: Any) -> Any:
        from server.catalogue.models import CaseLink

        if self.ids:
            q = q.where(EvidenceItem.id.in_(self.ids))
        if self.officer_id:
            q = q.where(EvidenceItem.officer_id == self.officer_id)
        if self.device_id:
            q = q.where(EvidenceItem.device_id == self.device_id)
        if self.station_id:
            q = q.where(EvidenceItem.station_id == self.station_id)
        if self.recorded_from:
            q = q.where(EvidenceItem.recorded_at >= self.recorded_from)
        if self.recorded_to:
            q = q.where(EvidenceItem.recorded_at <= self.recorded_to)
        if self.kinds:
            q = q.where(EvidenceItem.kind.in_(self.kinds))
        if self.statuses:
            q = q.where(EvidenceItem.status.in_(self.statuses))
        if self.filename:
            esc = self.filename.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(EvidenceItem.original_filename.like(f"%{esc}%", escape="\\"))
        if self.unlinked:  # linked to no case at all now (not only "not to this case")
            q = q.where(
                ~EvidenceItem.id.in_(select(CaseLink.item_id).where(CaseLink.unlinked_at.is_(None)))
            )
        return q


class Disposed(CustodianError):
    """The item was disposed of after its retention: its bytes are no longer served."""

    status = 410
    code = "disposed"


# The columns item_json reads (the list selects only these).
LIST_COLUMNS = (
    EvidenceItem.id,
    EvidenceItem.sha256,
    EvidenceItem.size,
    EvidenceItem.kind,
    EvidenceItem.status,
    EvidenceItem.status_reason,
    EvidenceItem.recorded_at,
    EvidenceItem.received_at,
    EvidenceItem.device_id,
    EvidenceItem.officer_id,
    EvidenceItem.station_id,
    EvidenceItem.original_filename,
    EvidenceItem.agency_id,
    EvidenceItem.retention_until,
    EvidenceItem.retention_class,
)


def item_json(item: Any) -> dict[str, Any]:
    """The public listing fields of API.md plus what a reviewer needs (from an EvidenceItem or
    a row of LIST_COLUMNS)."""
    return {
        "id": item.id,
        "sha256": item.sha256,
        "size": item.size,
        "kind": item.kind,
        "status": item.status,
        "status_reason": item.status_reason,
        "recorded_at": iso(item.recorded_at),
        "received_at": iso(item.received_at),
        "device_id": item.device_id,
        "officer_id": item.officer_id,
        "station_id": item.station_id,
        "original_filename": item.original_filename,
        "agency_id": item.agency_id,
        "retention_until": iso(item.retention_until),
        "disposed": item.retention_class == DISPOSED,
    }


def item_detail(s: Session, item: EvidenceItem, who: Principal | None = None) -> dict[str, Any]:
    """One item with its renditions, probe results, jobs, playback links, deliveries and the
    cases (of agencies the caller sees) it is linked to."""
    from server.catalogue.models import Job
    from server.custody.derivation import derived_files
    from server.media.job import renditions
    from server.media.jobs import job_json
    from transcode.renditions import links as rendition_links

    base = f"/api/v1/evidence/{item.id}"
    rends = renditions(s, item.id)
    names = {r.name for r in rends}
    links = {"original": f"{base}/original"}
    if item.retention_class == DISPOSED:
        names, links = set(), {}  # no longer served
    links.update(rendition_links(base, names))
    info = item.media_info or {}
    job = s.scalar(select(Job).where(Job.subject == item.id).order_by(Job.id.desc()).limit(1))
    return {
        **item_json(item),
        "renditions": [
            {"name": r.name, "role": r.role, "sha256": r.sha256, "size": r.size} for r in rends
        ],
        "probe": _public_probe(info.get("probe")),
        "status_reason_zh": info.get("reason_zh", ""),
        "derivation": [d.to_dict() for d in derived_files(s, item.id)],
        **media_details(info),
        "intake_link_error": info.get("intake_link_error"),
        "job": job_json(job) if job else None,
        "links": links,
        "cases": _case_links(s, item.id, who),
        "deliveries": deliveries(s, item.id),
        "attribution": _attribution(s, item.id),
    }


def _public_probe(probe: Any) -> Any:
    """The probe result without the server's file path of the original."""
    if isinstance(probe, dict):
        return {k: v for k, v in probe.items() if k != "path"}
    return probe


def _attribution(s: Session, item_id: str) -> dict[str, Any] | None:
    """Whose camera it was at recorded_at, as the registry says (issue 16)."""
    from server.catalogue.models import ItemAttribution
    from server.people.registry_attribution import attribution_json

    return attribution_json(s.get(ItemAttribution, item_id), s)


def media_details(info: dict[str, Any]) -> dict[str, Any]:
    """Photo EXIF, text track, other streams and the fallback chain of the item's rendition."""
    return {
        "photo": info.get("photo"),
        "text_track": info.get("text_track"),
        "streams_other": info.get("streams_other", []),
        "attempts": info.get("attempts", []),
    }


def _case_links(s: Session, item_id: str, who: Principal | None) -> list[dict[str, Any]]:
    """The case stages the item is (or was) linked to."""
    from server.cases.queries import item_links

    return item_links(s, item_id, who)


def deliveries(s: Session, item_id: str) -> list[dict[str, Any]]:
    """Every delivery of the item's bytes by its agency, each with its own dock metadata."""
    from server.catalogue.models import EvidenceDelivery

    return [
        {
            "id": d.id,
            "upload_id": d.upload_id,
            "filename": d.filename,
            "device_id": d.device_id,
            "officer_id": d.officer_id,
            "station_id": d.station_id,
            "recorded_at": iso(d.recorded_at),
            "received_at": iso(d.received_at),
            "delivered_by": d.delivered_by,
            "case": d.case_ref,
            "stage": d.stage,
            "first": d.first,
        }
        for d in s.scalars(
            select(EvidenceDelivery)
            .where(EvidenceDelivery.item_id == item_id)
            .order_by(EvidenceDelivery.id)
        )
    ]


def _lookup(s: Session, item_id: str) -> EvidenceItem | None:
    return s.get(EvidenceItem, item_id) if isinstance(item_id, str) and len(item_id) <= 64 else None


def get_item(s: Session, item_id: str, who: Principal) -> EvidenceItem:
    """One item the caller may read; 404 when absent or another agency's (the same answer)."""
    item = _lookup(s, item_id)
    if item is None:
        raise NotFound(
            f"no evidence item {item_id}", params={"what": "evidence", "ref": str(item_id)[:64]}
        )
    require_seen(who, READ_EVIDENCE, item.agency_id, f"evidence item {item_id}")
    return item


def servable_item(s: Session, item_id: str, who: Principal) -> EvidenceItem:
    """An item whose bytes or renditions the caller may fetch. A disposed item is served to
    the auditor only (410 "disposed" to everyone else); the auditor gets nothing else."""
    item = _lookup(s, item_id)
    if item is not None and who.role == "auditor" and item.retention_class == DISPOSED:
        if not sees(who, item.agency_id):
            raise Sealed(f"no evidence item {item_id}")
        return item
    item = get_item(s, item_id, who)
    if item.retention_class == DISPOSED:
        raise Disposed(
            f"evidence item {item_id} was disposed of after its retention; its "
            "bytes and renditions are no longer served",
            code="disposed",
        )
    return item


def _encode_cursor(item: Any) -> str:
    raw = f"{iso(item.received_at)}|{item.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return parse_rfc3339(at), item_id
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("bad cursor", code="bad_cursor") from None


def list_items(
    s: Session,
    who: Principal,
    *,
    sha256: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    case: str | None = None,
    unit: str | None = None,
    filters: ItemFilters | None = None,
) -> dict[str, Any]:
    """Items visible to the caller, newest first, keyset-paginated."""
    require(who, READ_EVIDENCE)
    limit = max(1, min(limit, PAGE_MAX))
    q = select(*LIST_COLUMNS)
    if not sees_all(who):
        q = q.where(EvidenceItem.agency_id == who.agency_id)
    if sha256:
        q = q.where(EvidenceItem.sha256 == sha256.lower())
    if case:  # a case id or case number: the items linked to it now
        from server.cases.queries import case_item_filter

        q = q.where(case_item_filter(s, case, who))
    if unit:  # footage of the officers of a unit (科室/中队), as the registry attributes it
        from server.people.registry_attribution import unit_item_clause

        q = q.where(unit_item_clause(unit))
    if filters is not None:
        q = filters.apply(q)
    if cursor:
        at, item_id = _decode_cursor(cursor)
        q = q.where(
            or_(
                EvidenceItem.received_at < at,
                and_(EvidenceItem.received_at == at, EvidenceItem.id < item_id),
            )
        )
    # Columns, not ORM entities: a page is 50-200 rows and building mapped objects (identity map,
    # instance state) for each cost more than the query itself.
    rows = s.execute(
        q.order_by(EvidenceItem.received_at.desc(), EvidenceItem.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    jobs = _pending_jobs(s, [r.id for r in rows if r.status in PENDING_STATUSES])
    cases = _current_cases(s, [r.id for r in rows])
    return {
        "items": [
            {
                **item_json(r),
                "cases": cases.get(r.id, []),
                **({"job": jobs[r.id]} if r.id in jobs else {}),
            }
            for r in rows
        ],
        "next": _encode_cursor(rows[-1]) if more else None,
    }


# A list of ids bound as one expanding parameter: the statement stays the same (cached) whatever
# the page, and its values are not coerced one by one as `.in_(a_list)` would.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)


def _current_cases(s: Session, item_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The cases each item is linked to now: [{id, number, stage}] (one query for the page)."""
    if not item_ids:
        return {}
    from server.catalogue.models import Case, CaseLink

    out: dict[str, list[dict[str, Any]]] = {}
    rows = s.execute(
        select(CaseLink.item_id, Case.id, Case.number, CaseLink.stage)
        .join(Case, Case.id == CaseLink.case_id)
        .where(CaseLink.item_id.in_(_IDS), CaseLink.unlinked_at.is_(None))
        .order_by(CaseLink.linked_at),
        {"ids": item_ids},
    )
    for item_id, case_id, number, stage in rows:
        out.setdefault(item_id, []).append({"id": case_id, "number": number, "stage": stage})
    return out


# Statuses of an item whose processing has not finished yet.
PENDING_STATUSES = ("received", "processing")


def _pending_jobs(s: Session, item_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest job of each item still being processed (state and progress, for the lists)."""
    if not item_ids:
        return {}
    from server.catalogue.models import Job

    out: dict[str, dict[str, Any]] = {}
    for job in s.execute(
        select(Job.id, Job.subject, Job.kind, Job.state, Job.progress, Job.attempts)
        .where(Job.subject.in_(_IDS))
        .order_by(Job.id),
        {"ids": item_ids},
    ):
        out[job.subject] = {
            "id": job.id,
            "kind": job.kind,
            "state": job.state,
            "progress": round(job.progress, 3),
            "attempts": job.attempts,
        }
    return out
