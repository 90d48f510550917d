"""The officer and body-camera registry (一人一机): officers, devices and who held which camera
when. Whose footage an item is: registry_attribution.py; docking stations: registry_stations.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from integrity.ledger import (
    DEVICE_ADD,
    DEVICE_ASSIGN,
    DEVICE_RETIRE,
    DEVICE_UPDATE,
    OFFICER_ADD,
    OFFICER_LEAVE,
    OFFICER_UPDATE,
)
from server.access import READ_REGISTRY, WRITE_REGISTRY, Principal, require, sees_all
from server.catalogue.models import (
    DEVICE_KINDS,
    DEVICE_STATUSES,
    OFFICER_STATUSES,
    Device,
    DeviceAssignment,
    EvidenceItem,
    Officer,
    User,
    utcnow,
)
from server.custody.ledger import append
from server.errors import BadRequest, Conflict, NotFound
from server.isotime import iso
from server.people.registry_common import (
    LIST_MAX,
    actor,
    agency_codes,
    agency_for_write,
    field_code,
    field_text,
    uid,
    visible,
)


def officer_json(o: Officer, agency_code: str | None = None) -> dict[str, Any]:
    return {
        "id": o.id,
        "code": o.code,
        "name": o.name,
        "certificate": o.certificate_no,
        "certificate_no": o.certificate_no,
        "unit": o.unit,
        "status": o.status,
        "agency_id": o.agency_id,
        "agency": agency_code,
        "user_id": o.user_id,
        "left_at": iso(o.left_at),
    }


def _check_officer_fields(
    s: Session, agency_id: int, code: str | None, certificate: str, exclude: int | None = None
) -> None:
    if code is not None:
        clash = s.scalar(select(Officer).where(Officer.code == code))
        if clash is not None and clash.id != exclude:
            raise Conflict(f"officer code {code!r} is already registered", code="officer_exists")
    if certificate:
        clash = s.scalar(
            select(Officer).where(
                Officer.agency_id == agency_id, Officer.certificate_no == certificate
            )
        )
        if clash is not None and clash.id != exclude:
            raise Conflict(
                f"certificate number {certificate!r} already belongs to officer "
                f"{clash.code} in this agency",
                code="certificate_exists",
            )


def resolve_user(s: Session, ref: Any, agency_id: int | None = None) -> int | None:
    """A user by name or id, of the same agency as what it is linked to."""
    if ref in (None, ""):
        return None
    user = None
    if isinstance(ref, str) and len(ref) <= 100:
        user = s.scalar(select(User).where(User.username == ref))
    if user is None and (
        isinstance(ref, int)
        and not isinstance(ref, bool)
        or isinstance(ref, str)
        and ref.isdigit()
        and len(ref) <= 12
    ):
        user = s.get(User, int(ref))
    if user is None:
        raise BadRequest(f"no user {str(ref)[:100]!r} to link to", code="bad_user")
    if agency_id is not None and user.agency_id not in (None, agency_id):
        raise BadRequest(f"user {user.username!r} belongs to another agency", code="bad_user")
    return user.id


def add_officer(
    s: Session,
    who: Principal,
    *,
    code: Any,
    name: Any,
    agency: Any = None,
    certificate: Any = "",
    unit: Any = "",
    user: Any = None,
    checked: bool = False,
) -> Officer:
    """Register an officer; code (what cameras write into file names) and certificate number
    (执法证号, unique in the agency) are checked first. Ledgered."""
    ag = agency_for_write(s, who, agency)
    code = field_code(code, "code")
    name = field_text(name, "name", 200, required=True)
    certificate = field_text(certificate, "certificate", 100)
    unit = field_text(unit, "unit", 200)
    if not checked:  # a bulk import checked the whole file first
        _check_officer_fields(s, ag.id, code, certificate)
    o = Officer(
        agency_id=ag.id,
        code=code,
        name=name,
        certificate_no=certificate,
        unit=unit,
        user_id=resolve_user(s, user, ag.id),
        status="active",
        created_at=utcnow(),
    )
    s.add(o)
    s.flush()
    append(
        s,
        actor=actor(who),
        action=OFFICER_ADD,
        subject=f"officer:{o.code}",
        details={
            "officer_id": o.id,
            "code": o.code,
            "name": o.name,
            "certificate": o.certificate_no,
            "unit": o.unit,
            "agency": ag.code,
        },
    )
    return o


def get_officer(s: Session, ref: Any, who: Principal, action: str = READ_REGISTRY) -> Officer:
    """An officer by id or code, visible to the caller (404 otherwise; 403 when visible but the
    action is not the caller's)."""
    ref = str(ref)
    o = s.scalar(select(Officer).where(Officer.code == ref))
    if o is None and ref.isdigit() and len(ref) <= 12:
        o = s.get(Officer, int(ref))
    if o is None or not (sees_all(who) or who.agency_id == o.agency_id):
        raise NotFound(f"no officer {ref!r}", code="no_officer")
    require(who, action, o.agency_id)
    return o


def list_officers(
    s: Session,
    who: Principal,
    *,
    q: str = "",
    agency: str = "",
    status: str = "",
    unit: str = "",
    limit: int = LIST_MAX,
) -> list[dict[str, Any]]:
    """Officers visible to the caller, searched by code, name, certificate number or unit."""
    query = visible(select(Officer), Officer.agency_id, who)
    codes = agency_codes(s)
    if agency:
        ids = [i for i, c in codes.items() if c == agency or str(i) == agency]
        query = query.where(Officer.agency_id.in_(ids))
    if status:
        if status not in OFFICER_STATUSES:
            raise BadRequest(
                f"status must be one of {', '.join(OFFICER_STATUSES)}", code="bad_status"
            )
        query = query.where(Officer.status == status)
    if unit:
        query = query.where(Officer.unit == unit)
    if q:
        like = f"%{q.strip()[:100]}%"
        query = query.where(
            or_(
                Officer.code.like(like),
                Officer.name.like(like),
                Officer.certificate_no.like(like),
                Officer.unit.like(like),
            )
        )
    rows = s.scalars(
        query.order_by(Officer.status, Officer.code).limit(max(1, min(limit, LIST_MAX)))
    )
    return [officer_json(o, codes.get(o.agency_id)) for o in rows]


def update_officer(s: Session, who: Principal, ref: Any, data: Mapping[str, Any]) -> Officer:
    """Change an officer's name, certificate, unit or account link; status 'left' = leave."""
    o = get_officer(s, ref, who, WRITE_REGISTRY)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = field_text(data["name"], "name", 200, required=True)
    if "certificate" in data or "certificate_no" in data:
        cert = field_text(data.get("certificate", data.get("certificate_no")), "certificate", 100)
        _check_officer_fields(s, o.agency_id, None, cert, exclude=o.id)
        changes["certificate_no"] = cert
    if "unit" in data:
        changes["unit"] = field_text(data["unit"], "unit", 200)
    if "user" in data or "user_id" in data:
        changes["user_id"] = resolve_user(s, data.get("user", data.get("user_id")), o.agency_id)
    status = data.get("status")
    if status is not None and status not in OFFICER_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(OFFICER_STATUSES)}", code="bad_status")
    changes = {k: v for k, v in changes.items() if getattr(o, k) != v}
    if changes:
        before = {k: getattr(o, k) for k in changes}
        for k, v in changes.items():
            setattr(o, k, v)
        append(
            s,
            actor=actor(who),
            action=OFFICER_UPDATE,
            subject=f"officer:{o.code}",
            details={"officer_id": o.id, "before": before, "after": changes},
        )
    if status == "left" and o.status != "left":
        leave_officer(s, who, o.code)
    elif status == "active" and o.status == "left":
        o.status, o.left_at = "active", None
        append(
            s,
            actor=actor(who),
            action=OFFICER_UPDATE,
            subject=f"officer:{o.code}",
            details={
                "officer_id": o.id,
                "before": {"status": "left"},
                "after": {"status": "active"},
            },
        )
    return o


def leave_officer(s: Session, who: Principal, ref: Any, at: datetime | None = None) -> Officer:
    """The officer left: status 'left', open device assignments end now. History is kept."""
    o = get_officer(s, ref, who, WRITE_REGISTRY)
    if o.status == "left":
        raise Conflict(f"officer {o.code} has already left", code="already_left")
    at = at or utcnow()
    closed = []
    for a in s.scalars(
        select(DeviceAssignment).where(
            DeviceAssignment.officer_id == o.id, DeviceAssignment.valid_to.is_(None)
        )
    ):
        a.valid_to = max(at, a.valid_from)
        closed.append(a.id)
        dev = s.get(Device, a.device_id)
        if dev is not None and dev.officer_id == o.id:
            dev.officer_id = None
    o.status, o.left_at = "left", at
    append(
        s,
        actor=actor(who),
        action=OFFICER_LEAVE,
        subject=f"officer:{o.code}",
        details={
            "officer_id": o.id,
            "code": o.code,
            "left_at": iso(at),
            "assignments_closed": closed,
        },
    )
    return o


def assignment_json(
    a: DeviceAssignment, officer: Officer | None, device: Device | None = None
) -> dict[str, Any]:
    return {
        "id": a.id,
        "device_id": a.device_id,
        "serial": device.serial if device else None,
        "officer_id": a.officer_id,
        "officer_code": officer.code if officer else None,
        "officer_name": officer.name if officer else None,
        "from": iso(a.valid_from),
        "to": iso(a.valid_to),
    }


def device_json(s: Session, d: Device, agency_code: str | None = None) -> dict[str, Any]:
    # The holder now, from the history (a shift's assignment may have ended by itself).
    holder = holder_at(s, d.id, utcnow())
    return {
        "id": d.id,
        "serial": d.serial,
        "model": d.model,
        "kind": d.kind,
        "status": d.status,
        "agency_id": d.agency_id,
        "agency": agency_code,
        "officer_id": holder.id if holder else None,
        "officer_code": holder.code if holder else None,
        "officer_name": holder.name if holder else None,
    }


def _kind(value: Any) -> str:
    kind = field_text(value, "kind", 20) or "body_camera"
    if kind not in DEVICE_KINDS:
        raise BadRequest(
            f"device kind {kind!r} is not one of {', '.join(DEVICE_KINDS)}", code="bad_kind"
        )
    return kind


def add_device(
    s: Session,
    who: Principal,
    *,
    serial: Any,
    agency: Any = None,
    model: Any = "",
    kind: Any = "body_camera",
    checked: bool = False,
) -> Device:
    """Register a recorder by the serial it writes into file names. Ledgered."""
    ag = agency_for_write(s, who, agency)
    serial = field_code(serial, "serial")
    if not checked and s.scalar(select(Device).where(Device.serial == serial)) is not None:
        raise Conflict(f"device {serial!r} is already registered", code="device_exists")
    d = Device(
        agency_id=ag.id,
        serial=serial,
        model=field_text(model, "model", 200),
        kind=_kind(kind),
        status="in_service",
        created_at=utcnow(),
    )
    s.add(d)
    s.flush()
    append(
        s,
        actor=actor(who),
        action=DEVICE_ADD,
        subject=f"device:{d.serial}",
        details={
            "device_id": d.id,
            "serial": d.serial,
            "model": d.model,
            "kind": d.kind,
            "agency": ag.code,
        },
    )
    return d


def get_device(s: Session, ref: Any, who: Principal, action: str = READ_REGISTRY) -> Device:
    """A device by id or serial, visible to the caller."""
    ref = str(ref)
    d = s.scalar(select(Device).where(Device.serial == ref))
    if d is None and ref.isdigit() and len(ref) <= 12:
        d = s.get(Device, int(ref))
    if d is None or not (sees_all(who) or who.agency_id == d.agency_id):
        raise NotFound(f"no device {ref!r}", code="no_device")
    require(who, action, d.agency_id)
    return d


def list_devices(
    s: Session,
    who: Principal,
    *,
    q: str = "",
    agency: str = "",
    status: str = "",
    kind: str = "",
    limit: int = LIST_MAX,
) -> list[dict[str, Any]]:
    query = visible(select(Device), Device.agency_id, who)
    codes = agency_codes(s)
    if agency:
        query = query.where(
            Device.agency_id.in_([i for i, c in codes.items() if c == agency or str(i) == agency])
        )
    if status:
        query = query.where(Device.status == status)
    if kind:
        query = query.where(Device.kind == kind)
    if q:
        like = f"%{q.strip()[:100]}%"
        holders = select(Officer.id).where(or_(Officer.code.like(like), Officer.name.like(like)))
        query = query.where(
            or_(Device.serial.like(like), Device.model.like(like), Device.officer_id.in_(holders))
        )
    rows = s.scalars(query.order_by(Device.serial).limit(max(1, min(limit, LIST_MAX))))
    return [device_json(s, d, codes.get(d.agency_id)) for d in rows]


def history(s: Session, d: Device) -> list[dict[str, Any]]:
    """A device's assignments, newest first."""
    rows = s.execute(
        select(DeviceAssignment, Officer)
        .join(Officer, Officer.id == DeviceAssignment.officer_id)
        .where(DeviceAssignment.device_id == d.id)
        .order_by(DeviceAssignment.valid_from.desc())
    )
    return [assignment_json(a, o, d) for a, o in rows]


def device_detail(s: Session, d: Device) -> dict[str, Any]:
    codes = agency_codes(s)
    items = s.scalar(
        select(func.count())
        .select_from(EvidenceItem)
        .where(EvidenceItem.device_id == d.serial, EvidenceItem.agency_id == d.agency_id)
    )
    agency_code = codes.get(d.agency_id) if d.agency_id is not None else None
    return {
        **device_json(s, d, agency_code),
        "assignments": history(s, d),
        "items": int(items or 0),
    }


def refresh_holder(s: Session, d: Device, now: datetime | None = None) -> None:
    """Device.officer_id mirrors the assignment valid now."""
    now = now or utcnow()
    a = s.scalar(
        select(DeviceAssignment)
        .where(
            DeviceAssignment.device_id == d.id,
            DeviceAssignment.valid_from <= now,
            or_(DeviceAssignment.valid_to.is_(None), DeviceAssignment.valid_to > now),
        )
        .order_by(DeviceAssignment.valid_from.desc())
        .limit(1)
    )
    d.officer_id = a.officer_id if a else None


def assign_device(
    s: Session,
    who: Principal,
    device: Any,
    officer: Any,
    valid_from: datetime,
    valid_to: datetime | None = None,
) -> DeviceAssignment:
    """Hand a device to an officer from a time (to a time, or until the next hand-over).

    An open assignment that began earlier ends where this one begins (a hand-over); any other
    overlap is refused, naming the assignment it collides with. Ledgered."""
    d = get_device(s, device, who, WRITE_REGISTRY)
    o = get_officer(s, officer, who, READ_REGISTRY)
    if o.agency_id != d.agency_id:
        raise BadRequest(
            f"officer {o.code} and device {d.serial} belong to different agencies",
            code="agency_mismatch",
        )
    if d.status == "retired":
        raise Conflict(f"device {d.serial} is retired", code="device_retired")
    if o.status == "left" and (o.left_at is None or valid_from >= o.left_at):
        raise Conflict(f"officer {o.code} has left", code="officer_left")
    if valid_to is not None and valid_to <= valid_from:
        raise BadRequest("the assignment must end after it starts", code="bad_time")
    closed = None
    for a in s.scalars(select(DeviceAssignment).where(DeviceAssignment.device_id == d.id)):
        if a.valid_to is None and a.valid_from < valid_from:
            a.valid_to, closed = valid_from, a.id  # the hand-over
            continue
        ends = a.valid_to
        if (valid_to is None or a.valid_from < valid_to) and (ends is None or valid_from < ends):
            holder = s.get(Officer, a.officer_id)
            raise Conflict(
                f"device {d.serial} is assigned to {holder.code if holder else a.officer_id} "
                f"from {iso(a.valid_from)} to {iso(ends) or 'now'}, which overlaps",
                code="assignment_overlap",
            )
    a = DeviceAssignment(
        device_id=d.id,
        officer_id=o.id,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=uid(who),
        created_at=utcnow(),
    )
    s.add(a)
    s.flush()
    refresh_holder(s, d)
    append(
        s,
        actor=actor(who),
        action=DEVICE_ASSIGN,
        subject=f"device:{d.serial}",
        details={
            "assignment_id": a.id,
            "serial": d.serial,
            "officer": o.code,
            "from": iso(valid_from),
            "to": iso(valid_to),
            "ended_assignment": closed,
        },
    )
    return a


def set_device_status(
    s: Session, who: Principal, ref: Any, status: str, data: Mapping[str, Any] | None = None
) -> Device:
    """In service, in repair or retired (retiring ends the open assignment now). Ledgered."""
    if status not in DEVICE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DEVICE_STATUSES)}", code="bad_status")
    d = get_device(s, ref, who, WRITE_REGISTRY)
    data = data or {}
    before = {"status": d.status, "model": d.model, "kind": d.kind}
    if "model" in data:
        d.model = field_text(data["model"], "model", 200)
    if "kind" in data:
        d.kind = _kind(data["kind"])
    if d.status == "retired" and status == "retired":
        raise Conflict(f"device {d.serial} is already retired", code="already_retired")
    now = utcnow()
    closed = []
    if status == "retired":
        for a in s.scalars(
            select(DeviceAssignment).where(
                DeviceAssignment.device_id == d.id, DeviceAssignment.valid_to.is_(None)
            )
        ):
            a.valid_to = max(now, a.valid_from)
            closed.append(a.id)
        d.officer_id = None
    d.status = status
    after = {"status": d.status, "model": d.model, "kind": d.kind}
    if after != before:
        append(
            s,
            actor=actor(who),
            action=DEVICE_RETIRE if status == "retired" else DEVICE_UPDATE,
            subject=f"device:{d.serial}",
            details={
                "device_id": d.id,
                "before": before,
                "after": after,
                "assignments_closed": closed,
            },
        )
    return d


def holder_at(s: Session, device_id: int, at: datetime) -> Officer | None:
    """The officer who held the device at that moment (None: nobody registered)."""
    a = s.scalar(
        select(DeviceAssignment)
        .where(
            DeviceAssignment.device_id == device_id,
            DeviceAssignment.valid_from <= at,
            or_(DeviceAssignment.valid_to.is_(None), DeviceAssignment.valid_to > at),
        )
        .order_by(DeviceAssignment.valid_from.desc())
        .limit(1)
    )
    return s.get(Officer, a.officer_id) if a else None


def officer_detail(s: Session, o: Officer) -> dict[str, Any]:
    codes = agency_codes(s)
    rows = s.execute(
        select(DeviceAssignment, Device)
        .join(Device, Device.id == DeviceAssignment.device_id)
        .where(DeviceAssignment.officer_id == o.id)
        .order_by(DeviceAssignment.valid_from.desc())
    )
    return {
        **officer_json(o, codes.get(o.agency_id)),
        "assignments": [assignment_json(a, o, d) for a, d in rows],
    }
