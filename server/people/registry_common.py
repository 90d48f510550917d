"""What the registry modules share: the words for their error codes, field readers (text, codes,
times in the camera zone), the agency a new row belongs to, and who acts from the command line."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.timefmt import parse_rfc3339
from server import messages
from server.access import (
    HEARTBEAT,
    READ_REGISTRY,
    WRITE_REGISTRY,
    Principal,
    require,
    sees_all,
)
from server.catalogue.models import Agency
from server.custody.ledger import actor_of
from server.errors import BadRequest

# Words for people (server/messages.py renders error codes per language).
messages.register(
    {
        "no_officer": {"zh-CN": "没有该执法人员", "en": "No such officer"},
        "no_device": {"zh-CN": "没有该设备", "en": "No such device"},
        "no_station": {"zh-CN": "没有该采集站", "en": "No such station"},
        "already_left": {"zh-CN": "该执法人员已离职", "en": "The officer has already left"},
        "already_retired": {"zh-CN": "该设备已报废", "en": "The device is already retired"},
        "station_agency": {
            "zh-CN": "该采集站属于其他单位",
            "en": "The station belongs to another agency",
        },
        "station_account": {
            "zh-CN": "该采集站只能用其自己的账号上报",
            "en": "The station reports with its own account only",
        },
        "bad_kind": {"zh-CN": "设备类型有误", "en": "Unknown device kind"},
        "bad_status": {"zh-CN": "状态有误", "en": "Unknown status"},
    }
)
for _field, _zh in (
    ("serial", "设备编号"),
    ("certificate", "执法证号"),
    ("model", "型号"),
    ("location", "位置"),
    ("files_waiting", "待传文件数"),
    ("bytes_waiting", "待传数据量"),
    ("disk_free", "剩余空间"),
    ("last_error", "最近错误"),
    ("version", "版本"),
    ("code", "编号"),
):
    messages.FIELD_NAMES.setdefault(_field, _zh)
messages.ACTION_NAMES.setdefault(READ_REGISTRY, ("查看人员设备登记", "read the registry"))
messages.ACTION_NAMES.setdefault(WRITE_REGISTRY, ("登记人员和设备", "change the registry"))
messages.ACTION_NAMES.setdefault(HEARTBEAT, ("上报采集站状态", "report a station heartbeat"))


CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LIST_MAX = 500
IMPORT_MAX_ROWS = 20_000


def cli_principal(name: str) -> Principal:
    """Who acts when a command is run on the server (user id 0: no account; admin powers)."""
    return Principal(user_id=0, username=name, role="admin", agency_id=None)


def actor(who: Principal | None) -> str:
    return f"cli:{who.username}" if who is not None and who.user_id == 0 else actor_of(who)


def uid(who: Principal | None) -> int | None:
    return who.user_id if who is not None and who.user_id > 0 else None


def field_text(value: Any, field: str, max_len: int, *, required: bool = False) -> str:
    """Text of a field (API name), stripped, with a clear 400 naming the field otherwise."""
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(
            f"field {field!r} must be text",
            code="bad_field",
            params={"field": field, "problem": "not_string"},
        )
    value = str(value).strip()
    if required and not value:
        raise BadRequest(
            f"field {field!r} is required",
            code="bad_field",
            params={"field": field, "problem": "required"},
        )
    if len(value) > max_len:
        raise BadRequest(
            f"field {field!r} is longer than {max_len} characters",
            code="bad_field",
            params={"field": field, "problem": "too_long", "max": max_len},
        )
    return value


def field_code(value: Any, field: str) -> str:
    value = field_text(value, field, 64, required=True)
    if not CODE_RE.match(value):
        raise BadRequest(
            f"field {field!r}: {value!r} may hold only letters, digits, '.', '_' and '-'",
            code="bad_field",
            params={"field": field, "problem": "unknown"},
        )
    return value


def parse_time(value: Any, field: str, zone: str) -> datetime:
    """RFC 3339, or a local 'YYYY-MM-DD[ HH:MM[:SS]]' in the camera zone, to aware UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = field_text(value, field, 40, required=True).replace("/", "-")
        try:
            return parse_rfc3339(text, naive_zone=ZoneInfo(zone))
        except ValueError:
            raise BadRequest(
                f"field {field!r}: {text!r} is not a time (use RFC 3339 or YYYY-MM-DD HH:MM)",
                code="bad_time",
                params={"field": field},
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(zone))
    return dt.astimezone(ZoneInfo("UTC"))


def agency_for_write(s: Session, who: Principal, agency: Any) -> Agency:
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
        ref = field_text(agency, "agency", 64, required=True)
        found = s.scalar(select(Agency).where(Agency.code == ref))
        if found is None and ref.isdigit() and len(ref) <= 12:
            found = s.get(Agency, int(ref))
        if found is None:
            raise BadRequest(
                f"no agency {ref!r}; create it with `custodian agency add {ref}`", code="bad_agency"
            )
    assert found is not None
    require(who, WRITE_REGISTRY, found.id)
    return found


def visible(q: Any, column: Any, who: Principal) -> Any:
    return q if sees_all(who) else q.where(column == who.agency_id)


def agency_codes(s: Session) -> dict[int, str]:
    return {i: c for i, c in s.execute(select(Agency.id, Agency.code))}
