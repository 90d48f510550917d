"""Upload quotas: announced bytes and open uploads per user and per agency, checked when a
tus upload is created (in its transaction), so one station cannot reserve the whole store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.access import Principal
from server.catalogue.models import Upload
from server.errors import CustodianError
from server.settings import Settings

# PostgreSQL advisory lock serialising upload creations, so two at once cannot both fit a
# quota that has room for one (SQLite: our sessions BEGIN IMMEDIATE, already serialised).
QUOTA_LOCK = 7_236_372_912


class QuotaExceeded(CustodianError):
    status = 507
    code = "quota_exceeded"


def _open(s: Session, column: Any, value: int, states: tuple[str, ...]) -> tuple[int, int]:
    """(open uploads, bytes they announced) for a user or an agency."""
    row = s.execute(
        select(func.count(), func.coalesce(func.sum(Upload.length), 0)).where(
            column == value, Upload.state.in_(states)
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def check_upload_quota(s: Session, who: Principal, length: int, settings: Settings) -> None:
    """Refuse (507 quota_exceeded) an upload whose announced Upload-Length would take the
    caller or their agency over its share of unfinished uploads."""
    from server.intake.upload_rows import ACTIVE

    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": QUOTA_LOCK})
    scopes: list[tuple[str, Any, int, int, int]] = [
        (
            "user",
            Upload.user_id,
            who.user_id,
            settings.quota_user_open_uploads,
            settings.quota_user_reserved_bytes,
        )
    ]
    if who.agency_id is not None:
        scopes.append(
            (
                "agency",
                Upload.agency_id,
                who.agency_id,
                settings.quota_agency_open_uploads,
                settings.quota_agency_reserved_bytes,
            )
        )
    for scope, column, value, max_open, max_bytes in scopes:
        if not max_open and not max_bytes:
            continue
        count, announced = _open(s, column, value, tuple(ACTIVE))
        if max_open and count + 1 > max_open:
            raise QuotaExceeded(
                f"your {scope} already has {count} unfinished uploads (limit {max_open}); finish "
                "or terminate some first"
            )
        if max_bytes and announced + length > max_bytes:
            raise QuotaExceeded(
                f"an upload of {length} bytes would take your {scope}'s unfinished uploads to "
                f"{announced + length} announced bytes (limit {max_bytes}); finish or terminate "
                "some first, or ask for a larger quota"
            )
