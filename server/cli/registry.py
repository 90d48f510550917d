"""`custodian officer …`, `custodian device …`, `custodian station …` and
`custodian registry import`: the registry from the command line."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.errors import CustodianError


def _who(command: str) -> Any:
    from server.people.registry_common import cli_principal

    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers)
        user = "unknown"
    return cli_principal(f"custodian {command} ({user})")


def _key(args: argparse.Namespace) -> Any:
    """The server's signing key when this data folder has one (re-attribution signs a new
    manifest version); None otherwise."""
    from server.cli.common import settings_from
    from server.custody.signing import load_existing_key

    return load_existing_key(settings_from(args))


def _with_db(args: argparse.Namespace, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    from server.cli.common import open_db, settings_from

    settings = settings_from(args)
    db = open_db(settings)
    try:
        return db.call(fn, *a, **kw)
    finally:
        db.close()


def _zone(args: argparse.Namespace) -> str:
    from server.cli.common import settings_from

    return settings_from(args).camera_timezone


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    from server.cli.common import out

    if not rows:
        out.print("(none)", markup=False)
        return
    t = Table(*headers, show_lines=False, highlight=False)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


# -- officers ----------------------------------------------------------------------------------
def cmd_officer_add(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry

    o = _with_db(
        args,
        lambda s: registry.officer_json(
            registry.add_officer(
                s,
                _who("officer add"),
                code=args.code,
                name=args.name,
                agency=args.agency,
                certificate=args.certificate or "",
                unit=args.unit or "",
                user=args.user,
            )
        ),
    )
    out.print(
        f"officer [cyan]{o['code']}[/] {o['name']} registered (id {o['id']}"
        + (f", certificate {o['certificate']}" if o["certificate"] else "")
        + (f", unit {o['unit']}" if o["unit"] else "")
        + ")",
        markup=True,
    )
    return 0


def cmd_officer_list(args: argparse.Namespace) -> int:
    from server.people import registry

    rows = _with_db(
        args,
        registry.list_officers,
        _who("officer list"),
        q=args.q or "",
        agency=args.agency or "",
        status=args.status or "",
        unit=args.unit or "",
    )
    _table(
        ["code", "name", "certificate", "unit", "agency", "status"],
        [
            [o["code"], o["name"], o["certificate"], o["unit"], o["agency"], o["status"]]
            for o in rows
        ],
    )
    return 0


def cmd_officer_leave(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry, registry_common

    at = registry_common.parse_time(args.at, "--at", _zone(args)) if args.at else None
    o = _with_db(
        args,
        lambda s: registry.officer_json(
            registry.leave_officer(s, _who("officer leave"), args.code, at)
        ),
    )
    out.print(
        f"officer {o['code']} {o['name']} has left ({o['left_at']}); their devices are "
        "unassigned, their history is kept",
        markup=False,
    )
    return 0


# -- devices -----------------------------------------------------------------------------------
def cmd_device_add(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry

    d = _with_db(
        args,
        lambda s: registry.device_json(
            s,
            registry.add_device(
                s,
                _who("device add"),
                serial=args.serial,
                agency=args.agency,
                model=args.model or "",
                kind=args.kind,
            ),
        ),
    )
    out.print(f"device {d['serial']} ({d['kind']}) registered (id {d['id']})", markup=False)
    return 0


def cmd_device_assign(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry, registry_attribution, registry_common

    zone = _zone(args)
    key = _key(args) if args.reattribute else None
    start = registry_common.parse_time(args.start, "--from", zone)
    end = registry_common.parse_time(args.end, "--to", zone) if args.end else None

    def run(s: Any) -> dict[str, Any]:
        who = _who("device assign")
        registry.assign_device(s, who, args.serial, args.officer, start, end)
        result = (
            registry_attribution.reattribute(s, who, args.serial, key) if args.reattribute else None
        )
        return {"result": result}

    done = _with_db(args, run)
    out.print(
        f"device {args.serial} assigned to officer {args.officer} from {start.isoformat()}"
        + (f" to {end.isoformat()}" if end else "")
        + (
            f"; {done['result']['reattributed']} past item(s) re-attributed"
            if done["result"]
            else ""
        ),
        markup=False,
    )
    return 0


def cmd_device_retire(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry

    _with_db(args, registry.set_device_status, _who("device retire"), args.serial, "retired")
    out.print(f"device {args.serial} retired; its open assignment ended now", markup=False)
    return 0


def cmd_device_list(args: argparse.Namespace) -> int:
    from server.people import registry

    rows = _with_db(
        args,
        registry.list_devices,
        _who("device list"),
        q=args.q or "",
        agency=args.agency or "",
        status=args.status or "",
    )
    _table(
        ["serial", "model", "kind", "agency", "status", "holder"],
        [
            [
                d["serial"],
                d["model"],
                d["kind"],
                d["agency"],
                d["status"],
                f"{d['officer_code']} {d['officer_name']}" if d["officer_code"] else "",
            ]
            for d in rows
        ],
    )
    return 0


def cmd_device_reattribute(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry_attribution

    r = _with_db(
        args, registry_attribution.reattribute, _who("device reattribute"), args.serial, _key(args)
    )
    out.print(
        f"device {r['device']}: {r['reattributed']} of {r['items']} item(s) re-attributed",
        markup=False,
    )
    return 0


# -- stations ----------------------------------------------------------------------------------
def cmd_station_list(args: argparse.Namespace) -> int:
    from server.cli.common import settings_from
    from server.people import registry_stations

    offline = settings_from(args).station_offline_seconds
    rows = _with_db(args, registry_stations.list_stations, _who("station list"), offline)
    _table(
        [
            "station",
            "agency",
            "location",
            "state",
            "last contact",
            "files waiting",
            "bytes waiting",
            "disk free",
            "last error",
        ],
        [
            [
                st["code"],
                st["agency"],
                st["location"],
                st["state"],
                st["last_contact"] or "never",
                st["files_waiting"],
                st["bytes_waiting"],
                st["disk_free"],
                st["last_error"],
            ]
            for st in rows
        ],
    )
    return 0


def cmd_station_add(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people import registry_stations

    _with_db(
        args,
        lambda s: registry_stations.add_station(
            s,
            _who("station add"),
            code=args.code,
            agency=args.agency,
            location=args.location or "",
            user=args.user,
        ),
    )
    out.print(f"station {args.code} registered", markup=False)
    return 0


# -- import ------------------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from server.cli.common import out
    from server.people.registry_import import import_rows, read_table

    path = Path(args.file)
    if not path.is_file():
        raise CustodianError(f"{path} is not a file", code="bad_argument")
    rows = read_table(path.read_bytes())
    zone = _zone(args)
    r = _with_db(
        args,
        import_rows,
        _who("registry import"),
        args.kind,
        rows,
        dry_run=args.dry_run,
        agency=args.agency or "",
        zone=zone,
    )
    for e in r["errors"]:
        out.print(f"row {e['row']} ({e['key']}): " + "; ".join(e["errors"]), markup=False)
    verb = "would import" if r["dry_run"] else "imported"
    out.print(
        f"{r['kind']}: {r['ok']} good row(s) ({verb} {r['ok'] if r['dry_run'] else r['imported']}), "
        f"{r['bad']} bad row(s)",
        markup=False,
    )
    return 1 if r["bad"] else 0


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the registry's commands on the `custodian` parser."""
    from server.people.registry_vocab import DEVICE_KINDS, OFFICER_STATUSES

    p = sub.add_parser("officer", help="the officer registry (执法人员)")
    osub = p.add_subparsers(dest="officer_command", required=True, metavar="ACTION")
    pa = osub.add_parser("add", help="register an officer")
    pa.add_argument("code", help="officer code as cameras write it into file names, e.g. 010001")
    pa.add_argument("--name", required=True, help="full name")
    pa.add_argument("--agency", required=True, metavar="CODE", help="agency code")
    pa.add_argument("--certificate", metavar="NO", help="执法证号, unique in the agency")
    pa.add_argument("--unit", metavar="U", help="unit (科室/中队)")
    pa.add_argument("--user", metavar="NAME", help="link to this Custodian account")
    common(pa)
    pa.set_defaults(func=cmd_officer_add)
    pa = osub.add_parser("list", help="list officers")
    pa.add_argument("--q", help="code, name, certificate or unit contains")
    pa.add_argument("--agency", metavar="CODE")
    pa.add_argument("--status", choices=OFFICER_STATUSES)
    pa.add_argument("--unit", metavar="U")
    common(pa)
    pa.set_defaults(func=cmd_officer_list)
    pa = osub.add_parser("leave", help="an officer left: devices unassigned, history kept")
    pa.add_argument("code", help="officer code")
    pa.add_argument("--at", metavar="TIME", help="when (default now)")
    common(pa)
    pa.set_defaults(func=cmd_officer_leave)

    p = sub.add_parser("device", help="the recorder registry (执法记录仪) and its assignments")
    dsub = p.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    pa = dsub.add_parser("add", help="register a device")
    pa.add_argument("serial", help="serial (设备编号) as the camera writes it into file names")
    pa.add_argument("--agency", required=True, metavar="CODE", help="agency code")
    pa.add_argument("--model", metavar="M", help="model")
    pa.add_argument(
        "--kind",
        metavar="K",
        default="body_camera",
        help=f"one of {', '.join(DEVICE_KINDS)} (default body_camera)",
    )
    common(pa)
    pa.set_defaults(func=cmd_device_add)
    pa = dsub.add_parser("assign", help="hand a device to an officer from a time")
    pa.add_argument("serial")
    pa.add_argument("officer", metavar="OFFICER_CODE")
    pa.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="TIME",
        help="RFC 3339, or local 'YYYY-MM-DD HH:MM' in camera_timezone",
    )
    pa.add_argument("--to", dest="end", metavar="TIME", help="end (default: until the next one)")
    pa.add_argument(
        "--reattribute",
        action="store_true",
        help="then attribute the device's past items again (ledgered)",
    )
    common(pa)
    pa.set_defaults(func=cmd_device_assign)
    pa = dsub.add_parser("retire", help="retire a device (its open assignment ends now)")
    pa.add_argument("serial")
    common(pa)
    pa.set_defaults(func=cmd_device_retire)
    pa = dsub.add_parser("list", help="list devices with their current holder")
    pa.add_argument("--q", help="serial, model or holder contains")
    pa.add_argument("--agency", metavar="CODE")
    pa.add_argument("--status", choices=("in_service", "repair", "retired"))
    common(pa)
    pa.set_defaults(func=cmd_device_list)
    pa = dsub.add_parser("reattribute", help="attribute a device's past items again")
    pa.add_argument("serial")
    common(pa)
    pa.set_defaults(func=cmd_device_reattribute)

    p = sub.add_parser("station", help="docking stations (采集站)")
    ssub = p.add_subparsers(dest="station_command", required=True, metavar="ACTION")
    pa = ssub.add_parser("list", help="stations with last contact, backlog, online/offline")
    common(pa)
    pa.set_defaults(func=cmd_station_list)
    pa = ssub.add_parser("add", help="register a station ahead of its first heartbeat")
    pa.add_argument("code", help="the id the agent runs with (--station)")
    pa.add_argument("--agency", required=True, metavar="CODE")
    pa.add_argument("--location", help="where it stands")
    pa.add_argument("--user", metavar="NAME", help="its station account")
    common(pa)
    pa.set_defaults(func=cmd_station_add)

    p = sub.add_parser("registry", help="bulk import of officers and devices")
    rsub = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    pa = rsub.add_parser("import", help="import a CSV or XLSX; exit 1 when a row is bad")
    pa.add_argument("kind", choices=("officers", "devices"))
    pa.add_argument("file", help="CSV (UTF-8 or GB18030) or XLSX, header on the first row")
    pa.add_argument("--agency", metavar="CODE", help="for rows without an agency column")
    pa.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    common(pa)
    pa.set_defaults(func=cmd_import)
