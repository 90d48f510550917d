"""The officer, body-camera and station registry (一人一机): who held which camera when, whose
footage an item is, and how the docking stations are doing."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from integrity.ledger import (
    ATTRIBUTE,
    DEVICE_ADD,
    DEVICE_ASSIGN,
    DEVICE_RETIRE,
    DEVICE_UPDATE,
    OFFICER_ADD,
    OFFICER_LEAVE,
    OFFICER_UPDATE,
    REATTRIBUTE,
    STATION_ADD,
)
from server import messages
from server.access import (
    HEARTBEAT,
    READ_REGISTRY,
    WRITE_REGISTRY,
    Principal,
    can,
    require,
    sees_all,
)
from server.catalogue.models import (
    DEVICE_KINDS,
    DEVICE_STATUSES,
    OFFICER_STATUSES,
    Agency,
    Device,
    DeviceAssignment,
    EvidenceItem,
    ItemAttribution,
    Officer,
    Station,
    User,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.errors import BadRequest, Conflict, NotFound
from server.isotime import iso

logger = logging.getLogger(__name__)

# Words for people (server/messages.py renders error codes per language).
messages.register({
    "no_officer": {"zh-CN": "没有该执法人员", "en": "No such officer"},
    "no_device": {"zh-CN": "没有该设备", "en": "No such device"},
    "no_station": {"zh-CN": "没有该采集站", "en": "No such station"},
    "already_left": {"zh-CN": "该执法人员已离职", "en": "The officer has already left"},
    "already_retired": {"zh-CN": "该设备已报废", "en": "The device is already retired"},
    "station_agency": {"zh-CN": "该采集站属于其他单位", "en": "The station belongs to another agency"},
    "station_account": {"zh-CN": "该采集站只能用其自己的账号上报", "en": "The station reports with its own account only"},
    "bad_kind": {"zh-CN": "设备类型有误", "en": "Unknown device kind"},
    "bad_status": {"zh-CN": "状态有误", "en": "Unknown status"},
})
for _field, _zh in (("serial", "设备编号"), ("certificate", "执法证号"), ("model", "型号"),
                   ("location", "位置"), ("files_waiting", "待传文件数"),
                   ("bytes_waiting", "待传数据量"), ("disk_free", "剩余空间"),
                   ("last_error", "最近错误"), ("version", "版本"), ("code", "编号")):
    messages.FIELD_NAMES.setdefault(_field, _zh)
messages.ACTION_NAMES.setdefault(READ_REGISTRY, ("查看人员设备登记", "read the registry"))
messages.ACTION_NAMES.setdefault(WRITE_REGISTRY, ("登记人员和设备", "change the registry"))
messages.ACTION_NAMES.setdefault(HEARTBEAT, ("上报采集站状态", "report a station heartbeat"))

CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LIST_MAX = 500
IMPORT_MAX_ROWS = 20_000


# -- small helpers -----------------------------------------------------------------------------
def cli_principal(name: str) -> Principal:
    """Who acts when a command is run on the server (user id 0: no account; admin powers)."""
    return Principal(user_id=0, username=name, role="admin", agency_id=None)


def _actor(who: Principal | None) -> str:
    return f"cli:{who.username}" if who is not None and who.user_id == 0 else actor_of(who)


def _uid(who: Principal | None) -> int | None:
    return who.user_id if who is not None and who.user_id > 0 else None


def _text(value: Any, field: str, max_len: int, *, required: bool = False) -> str:
    """Text of a field (API name), stripped, with a clear 400 naming the field otherwise."""
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(f"field {field!r} must be text", code="bad_field",
                         params={"field": field, "problem": "not_string"})
    value = str(value).strip()
    if required and not value:
        raise BadRequest(f"field {field!r} is required", code="bad_field",
                         params={"field": field, "problem": "required"})
    if len(value) > max_len:
        raise BadRequest(f"field {field!r} is longer than {max_len} characters",
                         code="bad_field", params={"field": field, "problem": "too_long",
                                                   "max": max_len})
    return value


def _code(value: Any, field: str) -> str:
    value = _text(value, field, 64, required=True)
    if not CODE_RE.match(value):
        raise BadRequest(f"field {field!r}: {value!r} may hold only letters, digits, '.', '_' "
                         "and '-'", code="bad_field", params={"field": field, "problem": "unknown"})
    return value


def parse_time(value: Any, field: str, zone: str) -> datetime:
    """RFC 3339, or a local 'YYYY-MM-DD[ HH:MM[:SS]]' in the camera zone, to aware UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = _text(value, field, 40, required=True).replace("Z", "+00:00").replace("/", "-")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"field {field!r}: {text!r} is not a time (use RFC 3339 or "
                             "YYYY-MM-DD HH:MM)", code="bad_time", params={"field": field}) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(zone))
    return dt.astimezone(ZoneInfo("UTC"))


def _agency_for_write(s: Session, who: Principal, agency: Any) -> Agency:
    """The agency a new row belongs to: the one named (writers across agencies must name it) or
    the writer's own."""
    if isinstance(agency, Agency):  # resolved already (bulk import)
        require(who, WRITE_REGISTRY, agency.id)
        return agency
    if agency in (None, ""):
        if who.agency_id is None:
            raise BadRequest("agency is required (an agency code)", code="agency_required")
        found = s.get(Agency, who.agency_id)
    else:
        ref = _text(agency, "agency", 64, required=True)
        found = s.scalar(select(Agency).where(Agency.code == ref))
        if found is None and ref.isdigit() and len(ref) <= 12:
            found = s.get(Agency, int(ref))
        if found is None:
            raise BadRequest(f"no agency {ref!r}; create it with `custodian agency add {ref}`",
                             code="bad_agency")
    assert found is not None
    require(who, WRITE_REGISTRY, found.id)
    return found


def _visible(q: Any, column: Any, who: Principal) -> Any:
    return q if sees_all(who) else q.where(column == who.agency_id)


def _agency_codes(s: Session) -> dict[int, str]:
    return {i: c for i, c in s.execute(select(Agency.id, Agency.code))}


# -- officers ----------------------------------------------------------------------------------
def officer_json(o: Officer, agency_code: str | None = None) -> dict[str, Any]:
    return {"id": o.id, "code": o.code, "name": o.name, "certificate": o.certificate_no,
            "certificate_no": o.certificate_no, "unit": o.unit, "status": o.status,
            "agency_id": o.agency_id, "agency": agency_code, "user_id": o.user_id,
            "left_at": iso(o.left_at)}


def _check_officer_fields(s: Session, agency_id: int, code: str | None, certificate: str,
                          exclude: int | None = None) -> None:
    if code is not None:
        clash = s.scalar(select(Officer).where(Officer.code == code))
        if clash is not None and clash.id != exclude:
            raise Conflict(f"officer code {code!r} is already registered", code="officer_exists")
    if certificate:
        clash = s.scalar(select(Officer).where(Officer.agency_id == agency_id,
                                               Officer.certificate_no == certificate))
        if clash is not None and clash.id != exclude:
            raise Conflict(f"certificate number {certificate!r} already belongs to officer "
                           f"{clash.code} in this agency", code="certificate_exists")


def _user_ref(s: Session, ref: Any, agency_id: int | None = None) -> int | None:
    """A user by name or id, of the same agency as what it is linked to."""
    if ref in (None, ""):
        return None
    user = None
    if isinstance(ref, str) and len(ref) <= 100:
        user = s.scalar(select(User).where(User.username == ref))
    if user is None and (isinstance(ref, int) and not isinstance(ref, bool)
                         or isinstance(ref, str) and ref.isdigit() and len(ref) <= 12):
        user = s.get(User, int(ref))
    if user is None:
        raise BadRequest(f"no user {str(ref)[:100]!r} to link to", code="bad_user")
    if agency_id is not None and user.agency_id not in (None, agency_id):
        raise BadRequest(f"user {user.username!r} belongs to another agency", code="bad_user")
    return user.id


def add_officer(s: Session, who: Principal, *, code: Any, name: Any, agency: Any = None,
                certificate: Any = "", unit: Any = "", user: Any = None,
                checked: bool = False) -> Officer:
    """Register an officer; code (what cameras write into file names) and certificate number
    (执法证号, unique in the agency) are checked first. Ledgered."""
    ag = _agency_for_write(s, who, agency)
    code = _code(code, "code")
    name = _text(name, "name", 200, required=True)
    certificate = _text(certificate, "certificate", 100)
    unit = _text(unit, "unit", 200)
    if not checked:  # a bulk import checked the whole file first
        _check_officer_fields(s, ag.id, code, certificate)
    o = Officer(agency_id=ag.id, code=code, name=name, certificate_no=certificate, unit=unit,
                user_id=_user_ref(s, user, ag.id), status="active", created_at=utcnow())
    s.add(o)
    s.flush()
    append(s, actor=_actor(who), action=OFFICER_ADD, subject=f"officer:{o.code}",
           details={"officer_id": o.id, "code": o.code, "name": o.name,
                    "certificate": o.certificate_no, "unit": o.unit, "agency": ag.code})
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


def list_officers(s: Session, who: Principal, *, q: str = "", agency: str = "", status: str = "",
                  unit: str = "", limit: int = LIST_MAX) -> list[dict[str, Any]]:
    """Officers visible to the caller, searched by code, name, certificate number or unit."""
    query = _visible(select(Officer), Officer.agency_id, who)
    codes = _agency_codes(s)
    if agency:
        ids = [i for i, c in codes.items() if c == agency or str(i) == agency]
        query = query.where(Officer.agency_id.in_(ids))
    if status:
        if status not in OFFICER_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(OFFICER_STATUSES)}",
                             code="bad_status")
        query = query.where(Officer.status == status)
    if unit:
        query = query.where(Officer.unit == unit)
    if q:
        like = f"%{q.strip()[:100]}%"
        query = query.where(or_(Officer.code.like(like), Officer.name.like(like),
                                Officer.certificate_no.like(like), Officer.unit.like(like)))
    rows = s.scalars(query.order_by(Officer.status, Officer.code).limit(max(1, min(limit, LIST_MAX))))
    return [officer_json(o, codes.get(o.agency_id)) for o in rows]


def update_officer(s: Session, who: Principal, ref: Any, data: Mapping[str, Any]) -> Officer:
    """Change an officer's name, certificate, unit or account link; status 'left' = leave."""
    o = get_officer(s, ref, who, WRITE_REGISTRY)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _text(data["name"], "name", 200, required=True)
    if "certificate" in data or "certificate_no" in data:
        cert = _text(data.get("certificate", data.get("certificate_no")), "certificate", 100)
        _check_officer_fields(s, o.agency_id, None, cert, exclude=o.id)
        changes["certificate_no"] = cert
    if "unit" in data:
        changes["unit"] = _text(data["unit"], "unit", 200)
    if "user" in data or "user_id" in data:
        changes["user_id"] = _user_ref(s, data.get("user", data.get("user_id")), o.agency_id)
    status = data.get("status")
    if status is not None and status not in OFFICER_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(OFFICER_STATUSES)}", code="bad_status")
    changes = {k: v for k, v in changes.items() if getattr(o, k) != v}
    if changes:
        before = {k: getattr(o, k) for k in changes}
        for k, v in changes.items():
            setattr(o, k, v)
        append(s, actor=_actor(who), action=OFFICER_UPDATE, subject=f"officer:{o.code}",
               details={"officer_id": o.id, "before": before, "after": changes})
    if status == "left" and o.status != "left":
        leave_officer(s, who, o.code)
    elif status == "active" and o.status == "left":
        o.status, o.left_at = "active", None
        append(s, actor=_actor(who), action=OFFICER_UPDATE, subject=f"officer:{o.code}",
               details={"officer_id": o.id, "before": {"status": "left"},
                        "after": {"status": "active"}})
    return o


def leave_officer(s: Session, who: Principal, ref: Any, at: datetime | None = None) -> Officer:
    """The officer left: status 'left', open device assignments end now. History is kept."""
    o = get_officer(s, ref, who, WRITE_REGISTRY)
    if o.status == "left":
        raise Conflict(f"officer {o.code} has already left", code="already_left")
    at = at or utcnow()
    closed = []
    for a in s.scalars(select(DeviceAssignment).where(DeviceAssignment.officer_id == o.id,
                                                      DeviceAssignment.valid_to.is_(None))):
        a.valid_to = max(at, a.valid_from)
        closed.append(a.id)
        dev = s.get(Device, a.device_id)
        if dev is not None and dev.officer_id == o.id:
            dev.officer_id = None
    o.status, o.left_at = "left", at
    append(s, actor=_actor(who), action=OFFICER_LEAVE, subject=f"officer:{o.code}",
           details={"officer_id": o.id, "code": o.code, "left_at": iso(at),
                    "assignments_closed": closed})
    return o


# -- devices and assignments -------------------------------------------------------------------
def assignment_json(a: DeviceAssignment, officer: Officer | None, device: Device | None = None
                    ) -> dict[str, Any]:
    return {"id": a.id, "device_id": a.device_id, "serial": device.serial if device else None,
            "officer_id": a.officer_id, "officer_code": officer.code if officer else None,
            "officer_name": officer.name if officer else None,
            "from": iso(a.valid_from), "to": iso(a.valid_to)}


def device_json(s: Session, d: Device, agency_code: str | None = None) -> dict[str, Any]:
    # The holder now, from the history (a shift's assignment may have ended by itself).
    holder = holder_at(s, d.id, utcnow())
    return {"id": d.id, "serial": d.serial, "model": d.model, "kind": d.kind, "status": d.status,
            "agency_id": d.agency_id, "agency": agency_code,
            "officer_id": holder.id if holder else None,
            "officer_code": holder.code if holder else None,
            "officer_name": holder.name if holder else None}


def _kind(value: Any) -> str:
    kind = _text(value, "kind", 20) or "body_camera"
    if kind not in DEVICE_KINDS:
        raise BadRequest(f"device kind {kind!r} is not one of {', '.join(DEVICE_KINDS)}",
                         code="bad_kind")
    return kind


def add_device(s: Session, who: Principal, *, serial: Any, agency: Any = None, model: Any = "",
               kind: Any = "body_camera", checked: bool = False) -> Device:
    """Register a recorder by the serial it writes into file names. Ledgered."""
    ag = _agency_for_write(s, who, agency)
    serial = _code(serial, "serial")
    if not checked and s.scalar(select(Device).where(Device.serial == serial)) is not None:
        raise Conflict(f"device {serial!r} is already registered", code="device_exists")
    d = Device(agency_id=ag.id, serial=serial, model=_text(model, "model", 200), kind=_kind(kind),
               status="in_service", created_at=utcnow())
    s.add(d)
    s.flush()
    append(s, actor=_actor(who), action=DEVICE_ADD, subject=f"device:{d.serial}",
           details={"device_id": d.id, "serial": d.serial, "model": d.model, "kind": d.kind,
                    "agency": ag.code})
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


def list_devices(s: Session, who: Principal, *, q: str = "", agency: str = "", status: str = "",
                 kind: str = "", limit: int = LIST_MAX) -> list[dict[str, Any]]:
    query = _visible(select(Device), Device.agency_id, who)
    codes = _agency_codes(s)
    if agency:
        query = query.where(Device.agency_id.in_(
            [i for i, c in codes.items() if c == agency or str(i) == agency]))
    if status:
        query = query.where(Device.status == status)
    if kind:
        query = query.where(Device.kind == kind)
    if q:
        like = f"%{q.strip()[:100]}%"
        holders = select(Officer.id).where(or_(Officer.code.like(like), Officer.name.like(like)))
        query = query.where(or_(Device.serial.like(like), Device.model.like(like),
                                Device.officer_id.in_(holders)))
    rows = s.scalars(query.order_by(Device.serial).limit(max(1, min(limit, LIST_MAX))))
    return [device_json(s, d, codes.get(d.agency_id)) for d in rows]


def history(s: Session, d: Device) -> list[dict[str, Any]]:
    """A device's assignments, newest first."""
    rows = s.execute(select(DeviceAssignment, Officer)
                     .join(Officer, Officer.id == DeviceAssignment.officer_id)
                     .where(DeviceAssignment.device_id == d.id)
                     .order_by(DeviceAssignment.valid_from.desc()))
    return [assignment_json(a, o, d) for a, o in rows]


def device_detail(s: Session, d: Device) -> dict[str, Any]:
    codes = _agency_codes(s)
    items = s.scalar(select(func.count()).select_from(EvidenceItem)
                     .where(EvidenceItem.device_id == d.serial,
                            EvidenceItem.agency_id == d.agency_id))
    agency_code = codes.get(d.agency_id) if d.agency_id is not None else None
    return {**device_json(s, d, agency_code), "assignments": history(s, d),
            "items": int(items or 0)}


def _refresh_holder(s: Session, d: Device, now: datetime | None = None) -> None:
    """Device.officer_id mirrors the assignment valid now."""
    now = now or utcnow()
    a = s.scalar(select(DeviceAssignment).where(
        DeviceAssignment.device_id == d.id, DeviceAssignment.valid_from <= now,
        or_(DeviceAssignment.valid_to.is_(None), DeviceAssignment.valid_to > now))
        .order_by(DeviceAssignment.valid_from.desc()).limit(1))
    d.officer_id = a.officer_id if a else None


def assign_device(s: Session, who: Principal, device: Any, officer: Any, valid_from: datetime,
                  valid_to: datetime | None = None) -> DeviceAssignment:
    """Hand a device to an officer from a time (to a time, or until the next hand-over).

    An open assignment that began earlier ends where this one begins (a hand-over); any other
    overlap is refused, naming the assignment it collides with. Ledgered."""
    d = get_device(s, device, who, WRITE_REGISTRY)
    o = get_officer(s, officer, who, READ_REGISTRY)
    if o.agency_id != d.agency_id:
        raise BadRequest(f"officer {o.code} and device {d.serial} belong to different agencies",
                         code="agency_mismatch")
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
                code="assignment_overlap")
    a = DeviceAssignment(device_id=d.id, officer_id=o.id, valid_from=valid_from,
                         valid_to=valid_to, created_by=_uid(who), created_at=utcnow())
    s.add(a)
    s.flush()
    _refresh_holder(s, d)
    append(s, actor=_actor(who), action=DEVICE_ASSIGN, subject=f"device:{d.serial}",
           details={"assignment_id": a.id, "serial": d.serial, "officer": o.code,
                    "from": iso(valid_from), "to": iso(valid_to), "ended_assignment": closed})
    return a


def set_device_status(s: Session, who: Principal, ref: Any, status: str,
                      data: Mapping[str, Any] | None = None) -> Device:
    """In service, in repair or retired (retiring ends the open assignment now). Ledgered."""
    if status not in DEVICE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DEVICE_STATUSES)}", code="bad_status")
    d = get_device(s, ref, who, WRITE_REGISTRY)
    data = data or {}
    before = {"status": d.status, "model": d.model, "kind": d.kind}
    if "model" in data:
        d.model = _text(data["model"], "model", 200)
    if "kind" in data:
        d.kind = _kind(data["kind"])
    if d.status == "retired" and status == "retired":
        raise Conflict(f"device {d.serial} is already retired", code="already_retired")
    now = utcnow()
    closed = []
    if status == "retired":
        for a in s.scalars(select(DeviceAssignment).where(DeviceAssignment.device_id == d.id,
                                                          DeviceAssignment.valid_to.is_(None))):
            a.valid_to = max(now, a.valid_from)
            closed.append(a.id)
        d.officer_id = None
    d.status = status
    after = {"status": d.status, "model": d.model, "kind": d.kind}
    if after != before:
        append(s, actor=_actor(who),
               action=DEVICE_RETIRE if status == "retired" else DEVICE_UPDATE,
               subject=f"device:{d.serial}",
               details={"device_id": d.id, "before": before, "after": after,
                        "assignments_closed": closed})
    return d


def holder_at(s: Session, device_id: int, at: datetime) -> Officer | None:
    """The officer who held the device at that moment (None: nobody registered)."""
    a = s.scalar(select(DeviceAssignment).where(
        DeviceAssignment.device_id == device_id, DeviceAssignment.valid_from <= at,
        or_(DeviceAssignment.valid_to.is_(None), DeviceAssignment.valid_to > at))
        .order_by(DeviceAssignment.valid_from.desc()).limit(1))
    return s.get(Officer, a.officer_id) if a else None


# -- ingest attribution ------------------------------------------------------------------------
def _attribution(s: Session, item: EvidenceItem, claimed: str | None
                 ) -> tuple[Device | None, Officer | None, str]:
    serial = item.device_id or ""
    d = s.scalar(select(Device).where(Device.serial == serial))
    if d is None or d.agency_id != item.agency_id:
        return None, None, "unknown_device"
    if item.recorded_at is None:
        return d, None, "no_time"
    o = holder_at(s, d.id, item.recorded_at)
    if o is None:
        return d, None, "unassigned"
    if claimed and claimed not in (o.code, o.certificate_no, str(o.id)):
        return d, o, "officer_mismatch"
    return d, o, "matched"


def attribution_json(a: ItemAttribution | None, s: Session | None = None) -> dict[str, Any] | None:
    if a is None:
        return None
    o = s.get(Officer, a.officer_id) if s is not None and a.officer_id else None
    return {"device_serial": a.device_serial, "device_id": a.device_id, "officer_id": a.officer_id,
            "officer_code": o.code if o else None, "officer_name": o.name if o else None,
            "certificate": o.certificate_no if o else None, "unit": o.unit if o else None,
            "claimed_officer": a.claimed_officer, "flag": a.flag, "updated_at": iso(a.updated_at)}


def _apply(s: Session, item: EvidenceItem, row: ItemAttribution | None, d: Device | None,
           o: Officer | None, flag: str, claimed: str | None) -> ItemAttribution:
    if row is None:
        row = ItemAttribution(item_id=item.id, agency_id=item.agency_id,
                              device_serial=item.device_id or "", claimed_officer=claimed)
        s.add(row)
    row.device_id = d.id if d else None
    row.officer_id = o.id if o else None
    row.flag = flag
    row.updated_at = utcnow()
    # The item names the officer the registry says held the camera; the claim stays on the row.
    if o is not None:
        item.officer_id = o.code
    return row


def on_catalogued(s: Session, item: EvidenceItem, who: Principal | None) -> None:
    """Called in the ingest transaction of a new item: touch its station, and attribute the
    footage to the officer who held its device at recorded_at (ledgered when the registry has
    something to say: a match, a disagreement or an unknown camera)."""
    if item.station_id:
        _touch_station(s, item.station_id, item.agency_id, who)
    if not item.device_id:
        return
    claimed = item.officer_id
    d, o, flag = _attribution(s, item, claimed)
    _apply(s, item, None, d, o, flag, claimed)
    s.flush()
    append(s, actor=_actor(who), action=ATTRIBUTE, subject=f"evidence:{item.id}",
           details={"device": item.device_id, "officer": o.code if o else None,
                    "claimed_officer": claimed, "flag": flag,
                    "recorded_at": iso(item.recorded_at)})
    if flag in ("officer_mismatch", "unknown_device"):
        logger.warning("item %s: attribution %s (device %s, file names officer %s, registry %s)",
                       item.id, flag, item.device_id, claimed, o.code if o else None)


def reattribute(s: Session, who: Principal, device: Any, key: Any = None) -> dict[str, Any]:
    """Run attribution again for every item of a device (after registering or assigning it):
    each item whose officer or flag changes gets a ledger entry and, given the signing key, a
    new signed manifest version naming the officer (the earlier versions stay)."""
    d = get_device(s, device, who, WRITE_REGISTRY)
    items = list(s.scalars(select(EvidenceItem).where(EvidenceItem.device_id == d.serial,
                                                      EvidenceItem.agency_id == d.agency_id)))
    changed = []
    for item in items:
        row = s.get(ItemAttribution, item.id)
        claimed = row.claimed_officer if row else item.officer_id
        before = (row.officer_id, row.flag) if row else (None, None)
        dd, o, flag = _attribution(s, item, claimed)
        if before == (o.id if o else None, flag):
            continue
        old_officer = s.get(Officer, before[0]) if before[0] else None
        old_code = item.officer_id
        _apply(s, item, row, dd, o, flag, claimed)
        s.flush()
        append(s, actor=_actor(who), action=REATTRIBUTE, subject=f"evidence:{item.id}",
               details={"device": d.serial, "before": {
                   "officer": old_officer.code if old_officer else None, "flag": before[1],
                   "item_officer_id": old_code},
                   "after": {"officer": o.code if o else None, "flag": flag},
                   "claimed_officer": claimed})
        if key is not None and item.officer_id != old_code:
            from server.custody.manifests import latest_manifest, write_manifest

            if latest_manifest(s, item.id) is not None:
                write_manifest(s, item, key=key)
        changed.append(item.id)
    return {"device": d.serial, "items": len(items), "reattributed": len(changed),
            "item_ids": changed}


def unknown_devices(s: Session, who: Principal) -> list[dict[str, Any]]:
    """Serials seen on footage that the registry does not know, with how many items."""
    require(who, READ_REGISTRY)
    q = (select(ItemAttribution.device_serial, ItemAttribution.agency_id, func.count(),
                func.min(EvidenceItem.recorded_at), func.max(EvidenceItem.recorded_at))
         .join(EvidenceItem, EvidenceItem.id == ItemAttribution.item_id)
         .where(ItemAttribution.flag == "unknown_device")
         .group_by(ItemAttribution.device_serial, ItemAttribution.agency_id)
         .order_by(ItemAttribution.device_serial))
    q = _visible(q, ItemAttribution.agency_id, who)
    codes = _agency_codes(s)
    known = {(d.serial, d.agency_id) for d in s.scalars(select(Device))}
    # A serial registered since its footage came in stays listed until it is re-attributed.
    return [{"serial": serial, "agency_id": ag, "agency": codes.get(ag) if ag else None,
             "items": n, "first_recorded_at": iso(first), "last_recorded_at": iso(last),
             "registered": (serial, ag) in known}
            for serial, ag, n, first, last in s.execute(q)]


def flagged_items(s: Session, who: Principal, flag: str = "officer_mismatch",
                  limit: int = 200) -> list[dict[str, Any]]:
    """Items whose attribution needs a person (the file name disagrees, no assignment)."""
    require(who, READ_REGISTRY)
    q = (select(EvidenceItem, ItemAttribution)
         .join(ItemAttribution, ItemAttribution.item_id == EvidenceItem.id)
         .where(ItemAttribution.flag == flag).order_by(EvidenceItem.recorded_at.desc())
         .limit(max(1, min(limit, LIST_MAX))))
    q = _visible(q, EvidenceItem.agency_id, who)
    return [{"id": i.id, "original_filename": i.original_filename, "recorded_at": iso(i.recorded_at),
             "device_id": i.device_id, "officer_id": i.officer_id,
             "attribution": attribution_json(a, s)} for i, a in s.execute(q)]


def officer_item_clause(officer_ids: Iterable[int]) -> Any:
    """Items recorded on a device while one of these officers held it (from the assignments
    themselves, so footage catalogued before its camera was registered counts too)."""
    held = (select(DeviceAssignment.id)
            .join(Device, Device.id == DeviceAssignment.device_id)
            .where(DeviceAssignment.officer_id.in_(list(officer_ids)),
                   Device.serial == EvidenceItem.device_id,
                   Device.agency_id == EvidenceItem.agency_id,
                   DeviceAssignment.valid_from <= EvidenceItem.recorded_at,
                   or_(DeviceAssignment.valid_to.is_(None),
                       DeviceAssignment.valid_to > EvidenceItem.recorded_at))
            .correlate(EvidenceItem))
    return held.exists()


def unit_item_clause(unit: str) -> Any:
    """Items of the officers of a unit (科室/中队): recorded on a camera one of them held, or
    naming one of them when no device says otherwise."""
    ids = select(Officer.id).where(Officer.unit == unit)
    codes = select(Officer.code).where(Officer.unit == unit)
    held = (select(DeviceAssignment.id)
            .join(Device, Device.id == DeviceAssignment.device_id)
            .where(DeviceAssignment.officer_id.in_(ids),
                   Device.serial == EvidenceItem.device_id,
                   Device.agency_id == EvidenceItem.agency_id,
                   DeviceAssignment.valid_from <= EvidenceItem.recorded_at,
                   or_(DeviceAssignment.valid_to.is_(None),
                       DeviceAssignment.valid_to > EvidenceItem.recorded_at))
            .correlate(EvidenceItem))
    return or_(held.exists(), EvidenceItem.officer_id.in_(codes))


def officer_footage(s: Session, who: Principal, ref: Any, zone: str, *, date_from: str = "",
                    date_to: str = "", limit: int = 500) -> dict[str, Any]:
    """An officer's footage grouped by local day (the camera zone), newest first."""
    o = get_officer(s, ref, who)
    require(who, "evidence.read", o.agency_id)
    # An item names the registry's officer when the registry knows one, else the file's claim.
    q = select(EvidenceItem).where(EvidenceItem.agency_id == o.agency_id, or_(
        officer_item_clause([o.id]), EvidenceItem.officer_id == o.code))
    if date_from:
        q = q.where(EvidenceItem.recorded_at >= parse_time(date_from, "from", zone))
    if date_to:
        end = parse_time(date_to, "to", zone)
        if len(str(date_to)) <= 10:
            end += timedelta(days=1)
        q = q.where(EvidenceItem.recorded_at < end)
    rows = list(s.scalars(q.order_by(EvidenceItem.recorded_at.desc().nulls_last())
                          .limit(max(1, min(limit, 2000)))))
    tz = ZoneInfo(zone)
    days: dict[str, list[dict[str, Any]]] = {}
    for i in rows:
        day = i.recorded_at.astimezone(tz).date().isoformat() if i.recorded_at else "unknown"
        a = s.get(ItemAttribution, i.id)
        days.setdefault(day, []).append({
            "id": i.id, "original_filename": i.original_filename, "kind": i.kind,
            "status": i.status, "recorded_at": iso(i.recorded_at), "device_id": i.device_id,
            "size": i.size, "flag": a.flag if a else None,
            "claimed_officer": a.claimed_officer if a else None})
    codes = _agency_codes(s)
    return {"officer": officer_json(o, codes.get(o.agency_id)),
            "days": [{"date": d, "items": items} for d, items in days.items()],
            "count": len(rows)}


def officer_detail(s: Session, o: Officer) -> dict[str, Any]:
    codes = _agency_codes(s)
    rows = s.execute(select(DeviceAssignment, Device)
                     .join(Device, Device.id == DeviceAssignment.device_id)
                     .where(DeviceAssignment.officer_id == o.id)
                     .order_by(DeviceAssignment.valid_from.desc()))
    return {**officer_json(o, codes.get(o.agency_id)),
            "assignments": [assignment_json(a, o, d) for a, d in rows]}


# -- stations -----------------------------------------------------------------------------------
def station_json(st: Station, offline_after: int, now: datetime | None = None,
                 agency_code: str | None = None) -> dict[str, Any]:
    now = now or utcnow()
    seen = st.last_contact
    online = seen is not None and (now - seen).total_seconds() <= offline_after
    return {"id": st.id, "code": st.code, "location": st.location, "agency_id": st.agency_id,
            "agency": agency_code, "user_id": st.user_id, "last_contact": iso(seen),
            "last_heartbeat": iso(st.last_heartbeat), "files_waiting": st.files_waiting,
            "bytes_waiting": st.bytes_waiting, "disk_free": st.disk_free,
            "last_error": st.last_error, "agent_version": st.agent_version,
            "online": online, "state": "online" if online else "offline",
            "seconds_since_contact": int((now - seen).total_seconds()) if seen else None}


def _touch_station(s: Session, code: str, agency_id: int | None, who: Principal | None,
                   now: datetime | None = None) -> Station:
    st = s.scalar(select(Station).where(Station.code == code))
    now = now or utcnow()
    if st is None:
        st = Station(code=code, agency_id=agency_id, user_id=_uid(who),
                     location="", files_waiting=0, bytes_waiting=0, last_error="",
                     agent_version="", created_at=now)
        s.add(st)
    st.last_contact = now
    if st.user_id is None:
        st.user_id = _uid(who)
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
        raise BadRequest(f"{key} must be a whole number from 0", code="bad_field",
                         params={"field": key, "problem": "not_number"})
    return value


def heartbeat(s: Session, who: Principal, data: Mapping[str, Any], offline_after: int
              ) -> dict[str, Any]:
    """A station's minute report: files and bytes waiting, last error, free disk."""
    require(who, HEARTBEAT)
    code = _code(data.get("station_id"), "station_id")
    files = _bounded_int(data, "files_waiting")
    size = _bounded_int(data, "bytes_waiting")
    free = _bounded_int(data, "disk_free", nullable=True)
    error = _text(data.get("last_error") or "", "last_error", 2000)
    version = _text(data.get("version") or "", "version", 100)
    st = s.scalar(select(Station).where(Station.code == code))
    if st is not None and st.agency_id is not None and who.agency_id is not None \
            and st.agency_id != who.agency_id:
        raise Conflict(f"station {code!r} belongs to another agency", code="station_agency")
    if st is not None and st.user_id is not None and who.role == "station" \
            and st.user_id != who.user_id:
        raise Conflict(f"station {code!r} reports with its own account, not {who.username!r}",
                       code="station_account")
    now = utcnow()
    st = _touch_station(s, code, who.agency_id, who, now)
    st.last_heartbeat, st.files_waiting, st.bytes_waiting = now, files, size
    st.disk_free, st.last_error, st.agent_version = free, error, version
    return station_json(st, offline_after, now)


def add_station(s: Session, who: Principal, *, code: Any, agency: Any = None, location: Any = "",
                user: Any = None) -> Station:
    """Register a station ahead of its first heartbeat (its location and account). Ledgered."""
    ag = _agency_for_write(s, who, agency)
    code = _code(code, "code")
    st = s.scalar(select(Station).where(Station.code == code))
    if st is not None:
        raise Conflict(f"station {code!r} is already registered", code="station_exists")
    st = Station(code=code, agency_id=ag.id, location=_text(location, "location", 300),
                 user_id=_user_ref(s, user, ag.id), files_waiting=0, bytes_waiting=0, last_error="",
                 agent_version="", created_at=utcnow())
    s.add(st)
    s.flush()
    append(s, actor=_actor(who), action=STATION_ADD, subject=f"station:{st.code}",
           details={"station": st.code, "agency": ag.code, "location": st.location,
                    "user_id": st.user_id})
    return st


def list_stations(s: Session, who: Principal, offline_after: int) -> list[dict[str, Any]]:
    require(who, READ_REGISTRY)
    codes = _agency_codes(s)
    now = utcnow()
    rows = s.scalars(_visible(select(Station), Station.agency_id, who).order_by(Station.code))
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
    recent = s.scalars(select(EvidenceItem).where(EvidenceItem.station_id == st.code,
                                                  EvidenceItem.agency_id == st.agency_id)
                       .order_by(EvidenceItem.received_at.desc()).limit(20))
    return {**station_json(st, offline_after, agency_code=_agency_codes(s).get(st.agency_id or -1)),
            "recent_deliveries": [
                {"id": i.id, "original_filename": i.original_filename, "size": i.size,
                 "received_at": iso(i.received_at), "recorded_at": iso(i.recorded_at),
                 "device_id": i.device_id, "officer_id": i.officer_id, "status": i.status}
                for i in recent]}
