"""Docking stations (采集站): registration, heartbeats and whether each is online."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, overload

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import STATION_ADD
from server.access import HEARTBEAT, READ_REGISTRY, Principal, can, require
from server.catalogue.models import EvidenceItem, Station, utcnow
from server.custody.ledger import append
from server.errors import BadRequest, Conflict, NotFound
from server.isotime import iso
from server.people.registry import resolve_user
from server.people.registry_common import (
    actor,
    agency_codes,
    agency_for_write,
    field_code,
    field_text,
    uid,
    visible,
)


def station_json(
    st: Station, offline_after: int, now: datetime | None = None, agency_code: str | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    seen = st.last_contact
    online = seen is not None and (now - seen).total_seconds() <= offline_after
    return {
        "id": st.id,
        "code": st.code,
        "location": st.location,
        "agency_id": st.agency_id,
        "agency": agency_code,
        "user_id": st.user_id,
        "last_contact": iso(seen),
        "last_heartbeat": iso(st.last_heartbeat),
        "files_waiting": st.files_waiting,
        "bytes_waiting": st.bytes_waiting,
        "disk_free": st.disk_free,
        "last_error": st.last_error,
        "agent_version": st.agent_version,
        "online": online,
        "state": "online" if online else "offline",
        "seconds_since_contact": int((now - seen).total_seconds()) if seen else None,
    }


def touch_station(
    s: Session, code: str, agency_id: int | None, who: Principal | None, now: datetime | None = None
) -> Station:
    st = s.scalar(select(Station).where(Station.code == code))
    now = now or utcnow()
    if st is None:
        st = Station(
            code=code,
            agency_id=agency_id,
            user_id=uid(who),
            location="",
            files_waiting=0,
            bytes_waiting=0,
            last_error="",
            agent_version="",
            created_at=now,
        )
        s.add(st)
    st.last_contact = now
    if st.user_id is None:
        st.user_id = uid(who)
    s.flush()
    return st


@overload
def _bounded_int(data: Mapping[str, Any], key: str, *, nullable: Literal[False] = False) -> int: ...
@overload
def _bounded_int(data: Mapping[str, Any], key: str, *, nullable: bool) -> int | None: ...
def _bounded_int(data: Mapping[str, Any], key: str, *, nullable: bool = False) -> int | None:
    value = data.get(key)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
        raise BadRequest(
            f"{key} must be a whole number from 0",
            code="bad_field",
            params={"field": key, "problem": "not_number"},
        )
    return value


def heartbeat(
    s: Session, who: Principal, data: Mapping[str, Any], offline_after: int
) -> dict[str, Any]:
    """A station's minute report: files and bytes waiting, last error, free disk."""
    require(who, HEARTBEAT)
    code = field_code(data.get("station_id"), "station_id")
    files = _bounded_int(data, "files_waiting")
    size = _bounded_int(data, "bytes_waiting")
    free = _bounded_int(data, "disk_free", nullable=True)
    error = field_text(data.get("last_error") or "", "last_error", 2000)
    version = field_text(data.get("version") or "", "version", 100)
    st = s.scalar(select(Station).where(Station.code == code))
    if (
        st is not None
        and st.agency_id is not None
        and who.agency_id is not None
        and st.agency_id != who.agency_id
    ):
        raise Conflict(f"station {code!r} belongs to another agency", code="station_agency")
    if (
        st is not None
        and st.user_id is not None
        and who.role == "station"
        and st.user_id != who.user_id
    ):
        raise Conflict(
            f"station {code!r} reports with its own account, not {who.username!r}",
            code="station_account",
        )
    now = utcnow()
    st = touch_station(s, code, who.agency_id, who, now)
    st.last_heartbeat, st.files_waiting, st.bytes_waiting = now, files, size
    st.disk_free, st.last_error, st.agent_version = free, error, version
    return station_json(st, offline_after, now)


def add_station(
    s: Session,
    who: Principal,
    *,
    code: Any,
    agency: Any = None,
    location: Any = "",
    user: Any = None,
) -> Station:
    """Register a station ahead of its first heartbeat (its location and account). Ledgered."""
    ag = agency_for_write(s, who, agency)
    code = field_code(code, "code")
    st = s.scalar(select(Station).where(Station.code == code))
    if st is not None:
        raise Conflict(f"station {code!r} is already registered", code="station_exists")
    st = Station(
        code=code,
        agency_id=ag.id,
        location=field_text(location, "location", 300),
        user_id=resolve_user(s, user, ag.id),
        files_waiting=0,
        bytes_waiting=0,
        last_error="",
        agent_version="",
        created_at=utcnow(),
    )
    s.add(st)
    s.flush()
    append(
        s,
        actor=actor(who),
        action=STATION_ADD,
        subject=f"station:{st.code}",
        details={
            "station": st.code,
            "agency": ag.code,
            "location": st.location,
            "user_id": st.user_id,
        },
    )
    return st


def list_stations(s: Session, who: Principal, offline_after: int) -> list[dict[str, Any]]:
    require(who, READ_REGISTRY)
    codes = agency_codes(s)
    now = utcnow()
    rows = s.scalars(visible(select(Station), Station.agency_id, who).order_by(Station.code))
    return [station_json(st, offline_after, now, codes.get(st.agency_id or -1)) for st in rows]


def station_detail(s: Session, who: Principal, ref: Any, offline_after: int) -> dict[str, Any]:
    ref = str(ref)
    st = s.scalar(select(Station).where(Station.code == ref))
    if st is None and ref.isdigit() and len(ref) <= 12:
        st = s.get(Station, int(ref))
    if st is None or not can(who, READ_REGISTRY, st.agency_id):
        require(who, READ_REGISTRY)
        raise NotFound(f"no station {ref!r}", code="no_station")
    # Only the station's own agency's items: a station id is what an upload claims (issue 12).
    recent = s.scalars(
        select(EvidenceItem)
        .where(EvidenceItem.station_id == st.code, EvidenceItem.agency_id == st.agency_id)
        .order_by(EvidenceItem.received_at.desc())
        .limit(20)
    )
    return {
        **station_json(st, offline_after, agency_code=agency_codes(s).get(st.agency_id or -1)),
        "recent_deliveries": [
            {
                "id": i.id,
                "original_filename": i.original_filename,
                "size": i.size,
                "received_at": iso(i.received_at),
                "recorded_at": iso(i.recorded_at),
                "device_id": i.device_id,
                "officer_id": i.officer_id,
                "status": i.status,
            }
            for i in recent
        ],
    }
