"""The officer, device and station registry: lists, changes, assignments, import, heartbeat."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from server.access import HEARTBEAT, READ_REGISTRY, WRITE_CASES, WRITE_REGISTRY, can, require
from server.errors import Forbidden, PayloadTooLarge
from server.http import appkeys as keys
from server.http.web import (
    endpoint,
    json_response,
    principal,
    read_body,
    read_checked,
    read_json,
    read_query,
)
from server.people import registry, registry_attribution, registry_common, registry_stations
from server.people.registry_import import import_rows, read_table, rows_from_json
from server.schemas import registry as schemas

routes = web.RouteTableDef()
IMPORT_MAX_BYTES = 16 * 1024 * 1024


def _zone(request: web.Request) -> str:
    return request.app[keys.SETTINGS].camera_timezone


def _offline(request: web.Request) -> int:
    return request.app[keys.SETTINGS].station_offline_seconds


async def _run(request: web.Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await request.app[keys.DB].run(fn, *args, **kwargs)


async def _read(request: web.Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Reads never take SQLite's write lock."""
    return await request.app[keys.DB].read(fn, *args, **kwargs)


# -- officers ----------------------------------------------------------------------------------
@routes.get("/api/v1/officers")
@endpoint(
    "Officers of the registry (also the case form's officer picker)",
    tags=("registry",),
    query=schemas.OfficerListQuery,
)
async def list_officers(request: web.Request) -> web.Response:
    who = principal(request)
    if not (can(who, READ_REGISTRY) or can(who, WRITE_CASES)):
        require(who, READ_REGISTRY)
    q = read_query(request, schemas.OfficerListQuery)
    items = await _read(
        request,
        registry.list_officers,
        who,
        q=q.q,
        agency=q.agency,
        status=q.status,
        unit=q.unit,
        limit=q.limit,
    )
    return json_response({"items": items, "next": None})


@routes.post("/api/v1/officers")
@endpoint(
    "Register an officer",
    tags=("registry",),
    body=schemas.NewOfficer,
    responses={201: "created", 400: "bad field", 409: "code or certificate taken"},
)
async def create_officer(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.NewOfficer)

    def create(s: Session) -> dict[str, Any]:
        o = registry.add_officer(
            s,
            who,
            code=data.get("code"),
            name=data.get("name"),
            agency=data.get("agency"),
            certificate=data.get("certificate", data.get("certificate_no", "")),
            unit=data.get("unit", ""),
            user=data.get("user"),
        )
        return registry.officer_detail(s, o)

    return json_response(await _run(request, create), status=201)


@routes.get("/api/v1/officers/{id}")
@endpoint("One officer with the devices they held", tags=("registry",))
async def get_officer(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, READ_REGISTRY)
    return json_response(
        await _read(
            request,
            lambda s: registry.officer_detail(
                s, registry.get_officer(s, request.match_info["id"], who)
            ),
        )
    )


@routes.patch("/api/v1/officers/{id}")
@endpoint(
    "Change an officer (name, certificate, unit, user; status left = leave)",
    tags=("registry",),
    body=schemas.OfficerChange,
)
async def patch_officer(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.OfficerChange)
    return json_response(
        await _run(
            request,
            lambda s: registry.officer_detail(
                s, registry.update_officer(s, who, request.match_info["id"], data)
            ),
        )
    )


@routes.get("/api/v1/officers/{id}/footage")
@endpoint(
    "An officer's footage by day (attributed through device assignments)",
    tags=("registry",),
    query=schemas.FootageQuery,
)
async def officer_footage(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, READ_REGISTRY)
    q = read_query(request, schemas.FootageQuery)
    return json_response(
        await _read(
            request,
            registry_attribution.officer_footage,
            who,
            request.match_info["id"],
            _zone(request),
            date_from=q.from_ or "",
            date_to=q.to or "",
        )
    )


# -- devices -----------------------------------------------------------------------------------
@routes.get("/api/v1/devices")
@endpoint(
    "Devices of the registry with their current holder",
    tags=("registry",),
    query=schemas.DeviceListQuery,
)
async def list_devices(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, READ_REGISTRY)
    q = read_query(request, schemas.DeviceListQuery)
    items = await _read(
        request,
        registry.list_devices,
        who,
        q=q.q,
        agency=q.agency,
        status=q.status,
        kind=q.kind,
        limit=q.limit,
    )
    return json_response({"items": items, "next": None})


@routes.post("/api/v1/devices")
@endpoint(
    "Register a device (serial as it appears in file names)",
    tags=("registry",),
    body=schemas.NewDevice,
    responses={
        201: "created",
        400: "bad field",
        404: "no such officer to hand it to",
        409: "exists",
    },
)
async def create_device(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.NewDevice)
    zone = _zone(request)

    def create(s: Session) -> dict[str, Any]:
        d = registry.add_device(
            s,
            who,
            serial=data.get("serial"),
            agency=data.get("agency"),
            model=data.get("model", ""),
            kind=data.get("kind") or "body_camera",
        )
        if data.get("officer"):
            registry.assign_device(
                s,
                who,
                d.serial,
                data["officer"],
                registry_common.parse_time(data.get("from"), "from", zone),
                registry_common.parse_time(data["to"], "to", zone) if data.get("to") else None,
            )
        return registry.device_detail(s, d)

    return json_response(await _run(request, create), status=201)


@routes.get("/api/v1/devices/unknown")
@endpoint(
    "Device serials seen on footage but not registered (for an admin to register)",
    tags=("registry",),
)
async def unknown_devices(request: web.Request) -> web.Response:
    who = principal(request)
    items = await _read(request, registry_attribution.unknown_devices, who)
    return json_response({"items": items, "next": None})


@routes.get("/api/v1/devices/flagged")
@endpoint(
    "Items whose file name names another officer than the registry (officer_mismatch) or "
    "whose device had no holder (unassigned)",
    tags=("registry",),
    params={"flag": "officer_mismatch (default), unassigned, no_time, unknown_device"},
)
async def flagged(request: web.Request) -> web.Response:
    who = principal(request)
    flag = request.query.get("flag", "officer_mismatch")
    items = await _read(request, registry_attribution.flagged_items, who, flag)
    return json_response({"items": items, "next": None})


@routes.get("/api/v1/devices/{id}")
@endpoint("One device with its assignment history", tags=("registry",))
async def get_device(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, READ_REGISTRY)
    return json_response(
        await _read(
            request,
            lambda s: registry.device_detail(
                s, registry.get_device(s, request.match_info["id"], who)
            ),
        )
    )


@routes.patch("/api/v1/devices/{id}")
@endpoint(
    "Change a device: model, kind, status (in_service, repair, retired)",
    tags=("registry",),
    body=schemas.DeviceChange,
    responses={200: "the device", 409: "already retired"},
)
async def patch_device(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.DeviceChange)

    def change(s: Session) -> dict[str, Any]:
        d = registry.get_device(s, request.match_info["id"], who, WRITE_REGISTRY)
        d = registry.set_device_status(s, who, d.serial, str(data.get("status") or d.status), data)
        return registry.device_detail(s, d)

    return json_response(await _run(request, change))


@routes.post("/api/v1/devices/{id}/assignments")
@endpoint(
    "Hand a device to an officer from a time (to a time)",
    tags=("registry",),
    body=schemas.Assignment,
    responses={201: "assigned", 409: "overlaps another assignment"},
)
async def assign(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.Assignment)
    zone = _zone(request)

    def run(s: Session) -> dict[str, Any]:
        d = registry.get_device(s, request.match_info["id"], who, WRITE_REGISTRY)
        registry.assign_device(
            s,
            who,
            d.serial,
            data.get("officer"),
            registry_common.parse_time(data.get("from"), "from", zone),
            registry_common.parse_time(data["to"], "to", zone) if data.get("to") else None,
        )
        return registry.device_detail(s, d)

    return json_response(await _run(request, run), status=201)


@routes.post("/api/v1/devices/{id}/reattribute")
@endpoint(
    "Attribute the device's past items again from its assignments (each change ledgered)",
    tags=("registry",),
)
async def reattribute(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    return json_response(
        await _run(
            request,
            registry_attribution.reattribute,
            who,
            request.match_info["id"],
            request.app[keys.SIGNING_KEY],
        )
    )


# -- import ------------------------------------------------------------------------------------
@routes.post("/api/v1/registry/import")
@endpoint(
    'Import officers or devices from a CSV or XLSX body, or JSON {"rows": [...]} '
    "(dry_run=1 checks only and lists every bad row)",
    tags=("registry",),
    query=schemas.ImportQuery,
    responses={
        200: "what was (or would be) imported, and every bad row",
        400: "not a table, or no rows (bad_import)",
        413: "file too large",
    },
)
async def import_table(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    q = read_query(request, schemas.ImportQuery)
    kind = q.kind
    dry = q.dry_run.lower() in ("1", "true", "yes")
    if request.content_type == "application/json":
        rows = rows_from_json(await read_json(request))
    else:
        data = await request.content.read(IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise PayloadTooLarge(
                f"import file over {IMPORT_MAX_BYTES} bytes; split it", code="too_large"
            )
        rows = read_table(data)
    zone = _zone(request)
    fn = _read if dry else _run  # a dry run writes nothing
    return json_response(
        await fn(request, import_rows, who, kind, rows, dry_run=dry, agency=q.agency, zone=zone)
    )


# -- stations ----------------------------------------------------------------------------------
@routes.get("/api/v1/stations")
@endpoint("Docking stations: last contact, backlog, free disk, online/offline", tags=("registry",))
async def list_stations(request: web.Request) -> web.Response:
    who = principal(request)
    items = await _read(request, registry_stations.list_stations, who, _offline(request))
    return json_response({"items": items, "next": None, "offline_after_seconds": _offline(request)})


@routes.post("/api/v1/stations")
@endpoint(
    "Register a station (id, agency, location, its account)",
    tags=("registry",),
    body=schemas.NewStation,
    responses={201: "created", 409: "exists"},
)
async def create_station(request: web.Request) -> web.Response:
    who = principal(request)
    require(who, WRITE_REGISTRY)
    data = await read_checked(request, schemas.NewStation)
    offline = _offline(request)

    def create(s: Session) -> dict[str, Any]:
        st = registry_stations.add_station(
            s,
            who,
            code=data.get("code"),
            agency=data.get("agency"),
            location=data.get("location", ""),
            user=data.get("user"),
        )
        return registry_stations.station_json(st, offline)

    return json_response(await _run(request, create), status=201)


@routes.post("/api/v1/stations/heartbeat")
@endpoint("A station agent's minute report", tags=("registry",), body=schemas.Heartbeat)
async def station_heartbeat(request: web.Request) -> web.Response:
    who = principal(request)
    if not can(who, HEARTBEAT):
        raise Forbidden(f"role {who.role!r} may not report a station heartbeat", code="forbidden")
    report = await read_body(request, schemas.Heartbeat)
    return json_response(
        await _run(
            request, registry_stations.heartbeat, who, report.model_dump(), _offline(request)
        )
    )


@routes.get("/api/v1/stations/{id}")
@endpoint("One station with its recent deliveries", tags=("registry",))
async def get_station(request: web.Request) -> web.Response:
    who = principal(request)
    return json_response(
        await _read(
            request,
            registry_stations.station_detail,
            who,
            request.match_info["id"],
            _offline(request),
        )
    )
