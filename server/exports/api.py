"""Export requests and reads: validate and queue an export, show it, hand out its package.

The job that builds the package is server.exports.job; the custody report, server.exports.report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.catalogue.models import Case, CaseLink, EvidenceItem, Export
from server.custody.ledger import actor_of, append
from server.http.access import EXPORT, Principal, require
from server.http.errors import BadRequest, Conflict, NotFound
from server.isotime import iso
from server.media import jobs
from server.settings import Settings

EXPORT_JOB = "export"
MAX_TEXT = 500
MAX_PURPOSE = 1000
CLIP_NAME_MAX = 120
MIN_CLIP_SECONDS = 0.04


def _text(data: dict[str, Any], key: str, max_len: int, default: str) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be a string", code="bad_field")
    value = " ".join(value.split())  # no line breaks: the values go into bag-info.txt
    if not value:
        raise BadRequest(f"field {key!r} must not be empty", code="bad_field")
    if len(value) > max_len:
        raise BadRequest(f"field {key!r} is longer than {max_len} characters", code="bad_field")
    return value


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{what} must be a number of seconds", code="bad_clip")
    number = float(value)
    if not 0 <= number < 7 * 24 * 3600:
        raise BadRequest(f"{what} is out of range", code="bad_clip")
    return number


def _clip_request(raw: Any, n: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest(f"clips[{n}] must be an object", code="bad_clip")
    item = raw.get("evidence_id", raw.get("item_id"))
    if not isinstance(item, str) or not item or len(item) > 64:
        raise BadRequest(f"clips[{n}].evidence_id is required", code="bad_clip")
    in_s = _seconds(raw.get("in_s"), f"clips[{n}].in_s")
    out_s = _seconds(raw.get("out_s"), f"clips[{n}].out_s")
    if out_s - in_s < MIN_CLIP_SECONDS:
        raise BadRequest(f"clips[{n}]: out_s must be after in_s", code="bad_clip")
    name = raw.get("name") or f"clip-{n + 1:02d}"
    if not isinstance(name, str) or len(name) > CLIP_NAME_MAX:
        raise BadRequest(
            f"clips[{n}].name must be a string of at most {CLIP_NAME_MAX} characters",
            code="bad_clip",
        )
    precise = raw.get("precise")
    if precise is not None and not isinstance(precise, bool):
        raise BadRequest(f"clips[{n}].precise must be true or false", code="bad_clip")
    return {"evidence_id": item, "in_s": in_s, "out_s": out_s, "name": name, "precise": precise}


def _find_case(s: Session, ref: str, who: Principal | None) -> Case:
    if who is not None:
        from server.cases.lookups import get_case

        return get_case(s, ref, who, EXPORT)
    # The command line acts with the operator's own access to the catalogue.
    case: Case | None = s.get(Case, ref) if isinstance(ref, str) and len(ref) <= 64 else None
    if case is None:
        found = list(s.scalars(select(Case).where(Case.number == ref)))
        if len(found) > 1:
            raise Conflict(
                f"case number {ref!r} is used by several agencies; use the case id",
                code="ambiguous_case",
            )
        case = found[0] if found else None
    if case is None:
        raise NotFound(f"no case {ref!r}")
    return case


def _linked_items(s: Session, case_id: str) -> list[EvidenceItem]:
    rows = s.execute(
        select(EvidenceItem)
        .join(CaseLink, CaseLink.item_id == EvidenceItem.id)
        .where(
            CaseLink.case_id == case_id,
            CaseLink.unlinked_at.is_(None),
            EvidenceItem.retention_class != "disposed",
        )  # disposed: never packaged again
        .order_by(EvidenceItem.recorded_at, EvidenceItem.received_at, EvidenceItem.id)
    )
    seen: dict[str, EvidenceItem] = {}
    for (item,) in rows:
        seen.setdefault(item.id, item)
    return list(seen.values())


def create_export(
    s: Session,
    case_ref: str,
    who: Principal | None,
    data: dict[str, Any],
    settings: Settings,
    *,
    enqueue: bool = True,
) -> Export:
    """Validate an export request, store it and (by default) queue its job."""
    case = _find_case(s, case_ref, who)
    recipient = _text(data, "recipient", MAX_TEXT, "")
    purpose = _text(data, "purpose", MAX_PURPOSE, "诉讼 / court proceedings")
    watermark = data.get("watermark", False)
    if not isinstance(watermark, bool):
        raise BadRequest("field 'watermark' must be true or false", code="bad_field")
    linked = {i.id for i in _linked_items(s, case.id)}
    if not linked:
        raise BadRequest(
            f"case {case.number} has no linked evidence to export", code="empty_export"
        )
    items = data.get("items")
    if items is not None:
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or not items:
            raise BadRequest(
                "field 'items' must be a non-empty list of evidence ids", code="bad_field"
            )
        unknown = sorted(set(items) - linked)
        if unknown:
            raise BadRequest(
                f"not linked to case {case.number}: {', '.join(unknown[:5])}", code="not_linked"
            )
        if len(set(items)) > settings.export_max_items:
            raise BadRequest(f"more than {settings.export_max_items} items", code="too_many")
        items = sorted(set(items), key=items.index)
    elif len(linked) > settings.export_max_items:
        raise BadRequest(
            f"the case links more than {settings.export_max_items} items; choose them with 'items'",
            code="too_many",
        )
    clips = data.get("clips")
    if clips is not None:
        if not isinstance(clips, list) or len(clips) > settings.export_max_clips:
            raise BadRequest(
                f"field 'clips' must be a list of at most {settings.export_max_clips} clips",
                code="bad_clip",
            )
        clips = [_clip_request(c, n) for n, c in enumerate(clips)]
        for c in clips:
            if c["evidence_id"] not in linked:
                raise BadRequest(
                    f"clip of {c['evidence_id']}: not linked to case {case.number}",
                    code="not_linked",
                )
    export = Export(
        case_id=case.id,
        agency_id=case.agency_id,
        recipient=recipient,
        purpose=purpose,
        item_ids=items,
        clips=clips,
        watermark=watermark,
        requested_by=who.user_id if who else None,
        requested_by_name=actor_of(who) if who else f"cli:{_os_user()}",
        state="queued",
    )
    s.add(export)
    s.flush()
    if enqueue:
        job = jobs.enqueue(s, EXPORT_JOB, export.id, max_attempts=2)
        export.job_id = job.id
    return export


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in a container is not an error
        return "operator"


def export_json(e: Export) -> dict[str, Any]:
    """An export for the API."""
    done = e.state == "done"
    return {
        "id": e.id,
        "case_id": e.case_id,
        "state": e.state,
        "status": e.state,
        "recipient": e.recipient,
        "purpose": e.purpose,
        "items": e.item_ids,
        "clips": e.clips,
        "watermark": e.watermark,
        "requested_by": e.requested_by_name,
        "job_id": e.job_id,
        "ledger_seq": e.ledger_seq,
        "package": {
            "url": f"/api/v1/exports/{e.id}/package",
            "sha256": e.package_sha256,
            "size": e.package_size,
            "verifier_sha256": e.verifier_sha256,
        }
        if done
        else None,
        "summary": e.summary,
        "error": e.error or None,
        "created_at": iso(e.created_at),
        "finished_at": iso(e.finished_at),
    }


def get_export(s: Session, export_id: str, who: Principal) -> Export:
    """An export the caller may see (EXPORT permission in the case's agency)."""
    e = s.get(Export, export_id) if isinstance(export_id, str) and len(export_id) <= 64 else None
    if e is None:
        raise NotFound(f"no export {export_id}")
    require(who, EXPORT, e.agency_id, what=f"export {export_id}")
    return e


def list_exports(s: Session, case_ref: str, who: Principal) -> dict[str, Any]:
    """The exports of a case, newest first."""
    case = _find_case(s, case_ref, who)
    rows = s.scalars(
        select(Export)
        .where(Export.case_id == case.id)
        .order_by(Export.created_at.desc())
        .limit(200)
    )
    return {"items": [export_json(e) for e in rows], "next": None}


def package_file(s: Session, export_id: str, who: Principal) -> tuple[Path, Export]:
    """The package of a finished export, for download."""
    e = get_export(s, export_id, who)
    if e.state != "done" or not e.package_path:
        raise Conflict(
            f"export {export_id} is {e.state}; the package is not ready", code="not_ready"
        )
    path = Path(e.package_path)
    if not path.is_file():
        raise NotFound(
            f"the package of export {export_id} is no longer on this server", code="package_gone"
        )
    return path, e


def log_download(s: Session, export_id: str, who: Principal) -> None:
    """A download hands the package out again: ledgered as a view of the export."""
    from integrity.ledger import VIEW

    e = s.get(Export, export_id)
    append(
        s,
        actor=actor_of(who),
        action=VIEW,
        subject=f"case:{e.case_id}" if e else "export",
        details={
            "what": "export_package",
            "export_id": export_id,
            "package_sha256": e.package_sha256 if e else None,
        },
    )
