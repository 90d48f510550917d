"""The officer, device and station registry: request schemas.

server/people/registry.py still takes keyword values and dicts while it is being reworked; the
routes validate with these first. A time field takes RFC 3339 or a local 'YYYY-MM-DD[ HH:MM]'
in the camera time zone (the registry parses it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.http.schemas.base import Body, Query
from server.http.schemas.bounds import MAX_SAFE_INT
from server.http.schemas.types import Int, IntParam, LocalTime, Text
from server.people.registry_vocab import DEVICE_KINDS, DEVICE_STATUSES, OFFICER_STATUSES

# What cameras write into file names (server.people.registry.CODE_RE).
Code = Text(64, required=True, pattern=r"^\s*[A-Za-z0-9._-]{1,64}\s*$")
OfficerStatus = Literal[OFFICER_STATUSES]  # type: ignore[valid-type]
DeviceStatus = Literal[DEVICE_STATUSES]  # type: ignore[valid-type]
DeviceKind = Literal[DEVICE_KINDS]  # type: ignore[valid-type]
UserRef = Text(100, nullable=True)


class NewOfficer(Body):
    code: Code  # type: ignore[valid-type]
    name: Text(200, required=True)  # type: ignore[valid-type]
    agency: Text(64) = ""  # type: ignore[valid-type]
    certificate: Text(100) = ""  # type: ignore[valid-type]
    unit: Text(200) = ""  # type: ignore[valid-type]
    user: UserRef = Field("", description="a user id or name to link")  # type: ignore[valid-type]


class OfficerChange(Body):
    error_codes = {"status": "bad_status"}

    name: Text(200, required=True) = None  # type: ignore[valid-type]
    certificate: Text(100) = ""  # type: ignore[valid-type]
    unit: Text(200) = ""  # type: ignore[valid-type]
    user: UserRef = ""  # type: ignore[valid-type]
    status: OfficerStatus | None = Field(None, description="left: the officer leaves")


class NewDevice(Body):
    error_codes = {"kind": "bad_kind"}

    serial: Code = Field(  # type: ignore[valid-type]
        description="as the device writes it into file names"
    )
    agency: Text(64) = ""  # type: ignore[valid-type]
    model: Text(200) = ""  # type: ignore[valid-type]
    kind: DeviceKind | None = None
    officer: Text(64) = Field(  # type: ignore[valid-type]
        "", description="hand it to this officer at once (from `from`)"
    )
    from_: LocalTime | None = Field(None, alias="from")
    to: LocalTime | None = None


class DeviceChange(Body):
    error_codes = {"kind": "bad_kind", "status": "bad_status"}

    model: Text(200) = ""  # type: ignore[valid-type]
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None


class Assignment(Body):
    officer: Text(64, required=True)  # type: ignore[valid-type]
    from_: LocalTime = Field(alias="from")
    to: LocalTime | None = None


class NewStation(Body):
    code: Code  # type: ignore[valid-type]
    agency: Text(64) = ""  # type: ignore[valid-type]
    location: Text(300) = ""  # type: ignore[valid-type]
    user: UserRef = ""  # type: ignore[valid-type]


class Heartbeat(Body):
    station_id: Code  # type: ignore[valid-type]
    files_waiting: Int(0)  # type: ignore[valid-type]
    bytes_waiting: Int(0)  # type: ignore[valid-type]
    disk_free: Int(0) | None = None  # type: ignore[valid-type]
    last_error: Text(2000) = ""  # type: ignore[valid-type]
    version: Text(100) = ""  # type: ignore[valid-type]


class _ListQuery(Query):
    error_codes = {"limit": "bad_limit", "status": "bad_status"}

    q: str = Field("", description="contains (code, name, serial, certificate, unit, holder)")
    agency: str = Field("", description="agency code")
    limit: IntParam(-MAX_SAFE_INT) = Field(500, description="at most 500")  # type: ignore[valid-type]


class OfficerListQuery(_ListQuery):
    status: Literal[("", *OFFICER_STATUSES)] = Field("", description="active or left")  # type: ignore[valid-type]
    unit: str = Field("", description="exact unit")


class DeviceListQuery(_ListQuery):
    status: str = Field("", description="in_service, repair, retired")
    kind: str = Field("", description="device kind")


class FootageQuery(Query):
    error_codes = {"from": "bad_time", "to": "bad_time"}

    from_: LocalTime | None = Field(None, alias="from", description="YYYY-MM-DD or RFC 3339")
    to: LocalTime | None = Field(None, description="YYYY-MM-DD (that whole day) or RFC 3339")


class ImportQuery(Query):
    error_codes = {"kind": "bad_import"}

    kind: Literal["officers", "devices"] = Field(description="what the rows are")
    dry_run: str = Field("0", description="1 = check only (and list every bad row)")
    agency: str = Field("", description="agency code for rows without one")
