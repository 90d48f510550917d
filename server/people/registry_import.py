"""Bulk import of officers and devices from the spreadsheets agencies keep (CSV or XLSX), with a
dry run that reports every bad row and writes nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.access import WRITE_REGISTRY, Principal, require
from server.catalogue.models import Agency, Device, Officer
from server.errors import BadRequest, CustodianError
from server.people import registry, registry_common
from server.people.registry_vocab import DEVICE_KINDS

KINDS = ("officers", "devices")
# Column headers as agencies write them (Chinese or English) -> the field.
HEADERS: dict[str, str] = {
    "code": "code",
    "officer_code": "code",
    "警号": "code",
    "编号": "code",
    "人员编号": "code",
    "name": "name",
    "姓名": "name",
    "certificate": "certificate",
    "certificate_no": "certificate",
    "执法证号": "certificate",
    "执法证件编号": "certificate",
    "证件号": "certificate",
    "unit": "unit",
    "单位": "unit",
    "科室": "unit",
    "中队": "unit",
    "科室/中队": "unit",
    "agency": "agency",
    "机构": "agency",
    "执法机关": "agency",
    "user": "user",
    "账号": "user",
    "serial": "serial",
    "设备编号": "serial",
    "序列号": "serial",
    "model": "model",
    "型号": "model",
    "kind": "kind",
    "类型": "kind",
    "设备类型": "kind",
    "officer": "officer",
    "持有人": "officer",
    "持有人警号": "officer",
    "使用人": "officer",
    "from": "from",
    "assigned_from": "from",
    "起始时间": "from",
    "分配时间": "from",
    "to": "to",
    "assigned_to": "to",
    "结束时间": "to",
}
KIND_WORDS = {
    "执法记录仪": "body_camera",
    "记录仪": "body_camera",
    "车载": "dashcam",
    "行车记录仪": "dashcam",
    "手持": "handheld",
    "录音笔": "recorder",
    "录像机": "recorder",
    "监控": "cctv",
    "视频监控": "cctv",
}
REQUIRED = {"officers": ("code", "name"), "devices": ("serial",)}


def read_table(data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8, UTF-8 with BOM or GB18030 as Excel writes it) or an XLSX's first
    sheet, keyed by the known field each header names; header on the first row."""
    if not data.strip():
        raise BadRequest("the file is empty", code="bad_import")
    if data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    else:
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes nearly anything
            raise BadRequest("the file is neither UTF-8 nor GB18030 text", code="bad_import")
        rows = [list(r) for r in csv.reader(io.StringIO(text))]
    if not rows:
        raise BadRequest("the file has no header row", code="bad_import")
    header = [
        HEADERS.get(str(h or "").strip().lower(), HEADERS.get(str(h or "").strip(), ""))
        for h in rows[0]
    ]
    if not any(header):
        raise BadRequest(
            "no known column in the header row (e.g. code, name, certificate, unit, "
            "serial, model, kind, officer, from)",
            code="bad_import",
        )
    if len(rows) - 1 > registry_common.IMPORT_MAX_ROWS:
        raise BadRequest(
            f"more than {registry_common.IMPORT_MAX_ROWS} rows; split the file", code="bad_import"
        )
    out = []
    for r in rows[1:]:
        row = {
            f: str(v if v is not None else "").strip() for f, v in zip(header, r, strict=False) if f
        }
        out.append(row)
    return out


def rows_from_json(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """{"rows": [{column: value, …}, …]} (the same columns as a spreadsheet's header)."""
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequest("rows must be a list of objects", code="bad_import")
    if len(rows) > registry_common.IMPORT_MAX_ROWS:
        raise BadRequest(
            f"more than {registry_common.IMPORT_MAX_ROWS} rows; split them", code="bad_import"
        )
    out = []
    for r in rows:
        row = {}
        for k, v in r.items():
            field = HEADERS.get(str(k).strip().lower(), HEADERS.get(str(k).strip(), ""))
            if field and isinstance(v, str | int | float):
                row[field] = str(v).strip()
        out.append(row)
    return out


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from datetime import datetime

    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile/openpyxl raise many kinds on a broken workbook
        raise BadRequest(f"not a readable XLSX workbook: {exc}", code="bad_import") from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for r in ws.iter_rows(values_only=True):
            rows.append([v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in r])
        return rows
    finally:
        wb.close()


def _p(code: str, message: str, **params: Any) -> dict[str, Any]:
    """One problem of a row: a stable code and its parameters (the UI words them per
    language) and the English message."""
    return {"code": code, "params": params, "message": message}


def _kind_value(value: str) -> str:
    return KIND_WORDS.get(value, value)


def import_rows(
    s: Session,
    who: Principal,
    kind: str,
    rows: list[Mapping[str, str]],
    *,
    dry_run: bool,
    agency: str = "",
    zone: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Check every row (required fields, formats, duplicates in the file and in the catalogue);
    unless dry_run, register the good rows (each ledgered as its own act). Row numbers are the
    spreadsheet's (the header is row 1)."""
    require(who, WRITE_REGISTRY)
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}", code="bad_import")
    errors: list[dict[str, Any]] = []
    good: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    seen_cert: dict[tuple[str, str], int] = {}
    agencies: dict[str, Agency | CustodianError] = {}
    # What the catalogue holds already, read once (not once per row).
    known: dict[str, Any] = {
        "codes": set(s.scalars(select(Officer.code))),
        "certs": {
            (a, c) for a, c in s.execute(select(Officer.agency_id, Officer.certificate_no)) if c
        },
        "serials": set(s.scalars(select(Device.serial))),
        "officers": {o.code: o for o in s.scalars(select(Officer))} if kind == "devices" else {},
    }
    for n, raw in enumerate(rows, start=2):
        if not any(raw.values()):
            continue  # blank line
        row: dict[str, Any] = {**raw, "agency": raw.get("agency") or agency}
        problems = [_p("empty", f"{f} is empty", field=f) for f in REQUIRED[kind] if not row.get(f)]
        ref = row["agency"] or ""
        if ref not in agencies:  # each agency named in the file is looked up once
            try:
                agencies[ref] = registry_common.agency_for_write(s, who, ref or None)
            except CustodianError as exc:
                agencies[ref] = exc
        found = agencies[ref]
        ag = found if isinstance(found, Agency) else None
        if ag is None:
            assert isinstance(found, CustodianError)
            problems.append(_p(found.code, found.message))
        try:
            if kind == "officers":
                problems += _check_officer(s, row, ag, n, seen, seen_cert, known)
            else:
                problems += _check_device(row, ag, n, seen, zone, known)
        except CustodianError as exc:
            problems.append(_p(exc.code, exc.message))
        if problems:
            errors.append(
                {
                    "row": n,
                    "key": row.get("code") or row.get("serial") or "",
                    "errors": [p["message"] for p in problems],
                    "problems": problems,
                }
            )
        else:
            good.append((n, {**row, "_agency": ag}))
    imported = 0
    if not dry_run:
        for _n, row in good:
            if kind == "officers":
                registry.add_officer(
                    s,
                    who,
                    code=row["code"],
                    name=row["name"],
                    agency=row["_agency"],
                    certificate=row.get("certificate", ""),
                    unit=row.get("unit", ""),
                    user=row.get("user") or None,
                    checked=True,
                )
            else:
                d = registry.add_device(
                    s,
                    who,
                    serial=row["serial"],
                    agency=row["_agency"],
                    model=row.get("model", ""),
                    kind=_kind_value(row.get("kind", "")) or "body_camera",
                    checked=True,
                )
                if row.get("officer"):
                    registry.assign_device(
                        s, who, d.serial, row["officer"], row["_from"], row.get("_to")
                    )
            imported += 1
    return {
        "kind": kind,
        "dry_run": dry_run,
        "rows": len(good) + len(errors),
        "ok": len(good),
        "bad": len(errors),
        "imported": imported,
        "errors": errors,
    }


def _check_officer(
    s: Session,
    row: dict[str, Any],
    ag: Agency | None,
    n: int,
    seen: dict[str, int],
    seen_cert: dict[tuple[str, str], int],
    known: dict[str, Any],
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    code = row.get("code", "")
    if code:
        if not registry_common.CODE_RE.match(code):
            problems.append(
                _p(
                    "bad_code",
                    f"officer code {code!r} may hold only letters, digits, '.', '_', '-'",
                    field="code",
                    value=code,
                )
            )
        elif code in seen:
            problems.append(
                _p(
                    "repeats",
                    f"officer code {code!r} repeats row {seen[code]}",
                    field="code",
                    value=code,
                    row=seen[code],
                )
            )
        elif code in known["codes"]:
            problems.append(
                _p(
                    "exists",
                    f"officer code {code!r} is already registered",
                    field="code",
                    value=code,
                )
            )
        seen.setdefault(code, n)
    if len(row.get("name", "")) > 200:
        problems.append(_p("too_long", "name is longer than 200 characters", field="name", max=200))
    cert = row.get("certificate", "")
    if cert and ag is not None:
        key = (ag.code, cert)
        if len(cert) > 100:
            problems.append(
                _p(
                    "too_long",
                    "certificate is longer than 100 characters",
                    field="certificate",
                    max=100,
                )
            )
        elif key in seen_cert:
            problems.append(
                _p(
                    "repeats",
                    f"certificate {cert!r} repeats row {seen_cert[key]}",
                    field="certificate",
                    value=cert,
                    row=seen_cert[key],
                )
            )
        elif (ag.id, cert) in known["certs"]:
            problems.append(
                _p(
                    "exists",
                    f"certificate {cert!r} is already registered in {ag.code}",
                    field="certificate",
                    value=cert,
                )
            )
        seen_cert.setdefault(key, n)
    if len(row.get("unit", "")) > 200:
        problems.append(_p("too_long", "unit is longer than 200 characters", field="unit", max=200))
    if row.get("user"):
        try:
            registry.resolve_user(s, row["user"], ag.id if ag else None)
        except CustodianError as exc:
            problems.append(_p(exc.code, exc.message, value=row["user"]))
    return problems


def _check_device(
    row: dict[str, Any],
    ag: Agency | None,
    n: int,
    seen: dict[str, int],
    zone: str,
    known: dict[str, Any],
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    serial = row.get("serial", "")
    if serial:
        if not registry_common.CODE_RE.match(serial):
            problems.append(
                _p(
                    "bad_code",
                    f"serial {serial!r} may hold only letters, digits, '.', '_', '-'",
                    field="serial",
                    value=serial,
                )
            )
        elif serial in seen:
            problems.append(
                _p(
                    "repeats",
                    f"serial {serial!r} repeats row {seen[serial]}",
                    field="serial",
                    value=serial,
                    row=seen[serial],
                )
            )
        elif serial in known["serials"]:
            problems.append(
                _p(
                    "exists",
                    f"device {serial!r} is already registered",
                    field="serial",
                    value=serial,
                )
            )
        seen.setdefault(serial, n)
    kind = _kind_value(row.get("kind", ""))
    if kind and kind not in DEVICE_KINDS:
        problems.append(
            _p(
                "bad_kind",
                f"kind {row['kind']!r} is not one of {', '.join(DEVICE_KINDS)}",
                value=row["kind"],
            )
        )
    if len(row.get("model", "")) > 200:
        problems.append(
            _p("too_long", "model is longer than 200 characters", field="model", max=200)
        )
    officer = row.get("officer", "")
    if officer:
        o = known["officers"].get(officer)
        if o is None:
            problems.append(
                _p(
                    "no_officer",
                    f"no officer {officer!r} (import the officers first)",
                    value=officer,
                )
            )
        elif ag is not None and o.agency_id != ag.id:
            problems.append(
                _p(
                    "officer_agency",
                    f"officer {officer!r} belongs to another agency",
                    value=officer,
                )
            )
        elif o.status == "left":
            problems.append(_p("officer_left", f"officer {officer!r} has left", value=officer))
        if not row.get("from"):
            problems.append(
                _p("empty", "from is empty (when the officer received the device)", field="from")
            )
        else:
            try:
                row["_from"] = registry_common.parse_time(row["from"], "from", zone)
                if row.get("to"):
                    row["_to"] = registry_common.parse_time(row["to"], "to", zone)
                    if row["_to"] <= row["_from"]:
                        problems.append(_p("to_before_from", "to is not after from"))
            except CustodianError as exc:
                problems.append(_p("bad_time", exc.message, value=row.get("to") or row["from"]))
    return problems
