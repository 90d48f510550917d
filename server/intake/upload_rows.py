"""The `uploads` rows: what a station asks about its uploads, and the small transactions that
move an upload along (offset, state, expiry). The bytes are elsewhere (server.intake.tus)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from server.catalogue.models import Agency, DeploymentMark, Upload, User, utcnow
from server.http.access import UPLOAD, Principal, Sealed, require
from server.http.errors import BadRequest, Conflict, CustodianError, NotFound

ACTIVE = ("receiving", "committing")


class Gone(CustodianError):
    status = 410
    code = "upload_gone"


def upload_json(u: Upload) -> dict[str, Any]:
    """What GET /api/v1/uploads/{id} answers."""
    return {
        "id": u.id,
        "state": u.state,
        "offset": u.received,
        "length": u.length,
        "filename": u.filename,
        "claimed_sha256": u.claimed_sha256,
        "sha256": u.server_sha256,
        "evidence_id": u.evidence_id,
        "duplicate": u.duplicate,
        "error": u.error or None,
        "device_id": u.device_id,
        "officer_id": u.officer_id,
        "station_id": u.station_id,
        "recorded_at": u.recorded_at,
        "case": u.case_ref,
        "stage": u.stage,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "expires_at": u.expires_at,
    }


def _get_upload(s: Session, upload_id: str, who: Principal) -> Upload:
    """The caller's own upload (admins see all); others' are reported as absent."""
    u = s.get(Upload, upload_id) if isinstance(upload_id, str) and len(upload_id) <= 64 else None
    if u is None:
        raise NotFound(f"no upload {upload_id}")
    if u.user_id != who.user_id and who.role != "admin":
        raise Sealed(f"no upload {upload_id}")  # the same answer, ledgered as a denial
    return u


def get_upload(s: Session, upload_id: str, who: Principal) -> Upload:
    return _get_upload(s, upload_id, who)


def list_uploads(s: Session, who: Principal, active_only: bool = True) -> list[dict[str, Any]]:
    """The caller's own uploads (uploaders only)."""
    require(who, UPLOAD)
    q = select(Upload).where(Upload.user_id == who.user_id)
    if active_only:
        q = q.where(Upload.state.in_(ACTIVE))
    return [upload_json(u) for u in s.scalars(q.order_by(Upload.created_at.desc()).limit(200))]


def reserved_bytes(s: Session) -> int:
    """Bytes promised to unfinished uploads but not yet received."""
    q = select(func.coalesce(func.sum(Upload.length - Upload.received), 0)).where(
        Upload.state.in_(ACTIVE)
    )
    return int(s.scalar(q) or 0)


def upload_agency(s: Session, who: Principal, code: str | None) -> int:
    """The agency the delivered footage belongs to: the uploader's own; an account of no agency
    must name one (Upload-Metadata `agency`, its code). Every item has an agency."""
    if who.agency_id is None:
        if not code:
            raise BadRequest(
                "the uploading account belongs to no agency: name the agency the footage "
                "belongs to in Upload-Metadata `agency` (its code)",
                code="agency_required",
            )
        agency = s.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            raise BadRequest(
                f"metadata agency {code!r} is not a known agency code", code="unknown_agency"
            )
        return agency.id
    if code is not None:
        own = s.get(Agency, who.agency_id)
        if own is None or own.code != code:
            raise BadRequest(
                f"metadata agency {code!r} is not the uploading account's agency",
                code="wrong_agency",
            )
    return who.agency_id


def intake_for(s: Session, evidence_id: str) -> dict[str, Any] | None:
    """What the station said about an item when it delivered it (case number, stage, ...):
    for the cases feature to link items to case stages."""
    u = s.scalar(
        select(Upload)
        .where(
            Upload.evidence_id == evidence_id,
            Upload.state == "committed",
            Upload.duplicate.is_(False),
        )
        .limit(1)
    )
    return None if u is None else upload_json(u)


def check_receiving(u: Upload) -> None:
    if u.state == "receiving":
        return
    if u.state == "committed":
        raise Conflict(
            f"upload {u.id} is complete (evidence item {u.evidence_id})", code="already_committed"
        )
    raise Gone(
        f"upload {u.id} is {u.state}" + (f": {u.error}" if u.error else "") + "; start a new upload"
    )


def advance(
    s: Session,
    upload_id: str,
    old: int,
    new: int,
    expiry: timedelta,
    hash_state: bytes | None,
    staging: str | None,
) -> None:
    """Record bytes received: the offset, the running hash at it and the staging's book, in
    one transaction, only if nobody moved the upload meanwhile (compare-and-set on `old`)."""
    u = s.get(Upload, upload_id)
    if u is None or u.received != old:
        raise Conflict(f"upload {upload_id} moved on meanwhile", code="offset_mismatch")
    now = utcnow()
    u.received, u.updated_at, u.expires_at = new, now, now + expiry
    u.hash_state = hash_state
    if staging is not None:
        u.staging = staging


def rewind(s: Session, upload_id: str, to: int) -> None:
    u = s.get(Upload, upload_id)
    if u is not None:
        u.received, u.hash_state = to, None


def set_state(s: Session, upload_id: str, state: str, error: str = "") -> None:
    u = s.get(Upload, upload_id)
    if u is not None:
        u.state, u.error, u.updated_at = state, error, utcnow()


def set_committing(s: Session, upload_id: str, found: str, claimed: str) -> None:
    u = s.get(Upload, upload_id)
    assert u is not None
    u.state, u.server_sha256, u.claimed_sha256, u.updated_at = (
        "committing",
        found,
        claimed,
        utcnow(),
    )


def expire_due(s: Session, now: datetime) -> list[str]:
    rows = list(
        s.scalars(select(Upload).where(Upload.state == "receiving", Upload.expires_at < now))
    )
    for u in rows:
        u.state, u.error, u.updated_at = "expired", "no activity before Upload-Expires", now
    return [u.id for u in rows]


def interrupted(s: Session, idle_since: datetime) -> list[tuple[str, Principal]]:
    """Uploads with every byte received, no evidence item, idle since before `idle_since`,
    with their owner as the principal that finishes them (the ledger names the uploader)."""
    rows = s.execute(
        select(Upload, User)
        .join(User, User.id == Upload.user_id)
        .where(
            Upload.updated_at < idle_since,
            or_(
                Upload.state == "committing",
                and_(Upload.state == "receiving", Upload.received == Upload.length),
            ),
        )
    ).all()
    return [(u.id, Principal(usr.id, usr.username, usr.role, usr.agency_id)) for u, usr in rows]


def active_ids(s: Session) -> set[str]:
    return set(s.scalars(select(Upload.id).where(Upload.state.in_(ACTIVE))))


def set_book(s: Session, upload_id: str, book: str) -> None:
    u = s.get(Upload, upload_id)
    if u is not None:
        u.staging = book


def book_of(s: Session, upload_id: str) -> str | None:
    u = s.get(Upload, upload_id)
    return None if u is None else u.staging


def get_mark(s: Session, name: str) -> str | None:
    """A deployment mark (server.catalogue.models.DeploymentMark), None if unset."""
    row = s.get(DeploymentMark, name)
    return None if row is None else row.value
