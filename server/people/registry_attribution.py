"""Whose footage an item is: the device that recorded it and who held that camera at recorded_at,
checked against the officer the file names; re-attribution, unknown serials, flagged items and
an officer's footage by day."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from integrity.ledger import ATTRIBUTE, REATTRIBUTE
from server.access import READ_REGISTRY, WRITE_REGISTRY, Principal, require
from server.catalogue.models import (
    Device,
    DeviceAssignment,
    EvidenceItem,
    ItemAttribution,
    Officer,
    utcnow,
)
from server.custody.ledger import append
from server.isotime import iso
from server.people.registry import get_device, get_officer, holder_at, officer_json
from server.people.registry_common import LIST_MAX, actor, agency_codes, parse_time, visible
from server.people.registry_stations import touch_station

logger = logging.getLogger(__name__)


def _attribution(
    s: Session, item: EvidenceItem, claimed: str | None
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
    return {
        "device_serial": a.device_serial,
        "device_id": a.device_id,
        "officer_id": a.officer_id,
        "officer_code": o.code if o else None,
        "officer_name": o.name if o else None,
        "certificate": o.certificate_no if o else None,
        "unit": o.unit if o else None,
        "claimed_officer": a.claimed_officer,
        "flag": a.flag,
        "updated_at": iso(a.updated_at),
    }


def _apply(
    s: Session,
    item: EvidenceItem,
    row: ItemAttribution | None,
    d: Device | None,
    o: Officer | None,
    flag: str,
    claimed: str | None,
) -> ItemAttribution:
    if row is None:
        row = ItemAttribution(
            item_id=item.id,
            agency_id=item.agency_id,
            device_serial=item.device_id or "",
            claimed_officer=claimed,
        )
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
        touch_station(s, item.station_id, item.agency_id, who)
    if not item.device_id:
        return
    claimed = item.officer_id
    d, o, flag = _attribution(s, item, claimed)
    _apply(s, item, None, d, o, flag, claimed)
    s.flush()
    append(
        s,
        actor=actor(who),
        action=ATTRIBUTE,
        subject=f"evidence:{item.id}",
        details={
            "device": item.device_id,
            "officer": o.code if o else None,
            "claimed_officer": claimed,
            "flag": flag,
            "recorded_at": iso(item.recorded_at),
        },
    )
    if flag in ("officer_mismatch", "unknown_device"):
        logger.warning(
            "item %s: attribution %s (device %s, file names officer %s, registry %s)",
            item.id,
            flag,
            item.device_id,
            claimed,
            o.code if o else None,
        )


def reattribute(s: Session, who: Principal, device: Any, key: Any = None) -> dict[str, Any]:
    """Run attribution again for every item of a device (after registering or assigning it):
    each item whose officer or flag changes gets a ledger entry and, given the signing key, a
    new signed manifest version naming the officer (the earlier versions stay)."""
    d = get_device(s, device, who, WRITE_REGISTRY)
    items = list(
        s.scalars(
            select(EvidenceItem).where(
                EvidenceItem.device_id == d.serial, EvidenceItem.agency_id == d.agency_id
            )
        )
    )
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
        append(
            s,
            actor=actor(who),
            action=REATTRIBUTE,
            subject=f"evidence:{item.id}",
            details={
                "device": d.serial,
                "before": {
                    "officer": old_officer.code if old_officer else None,
                    "flag": before[1],
                    "item_officer_id": old_code,
                },
                "after": {"officer": o.code if o else None, "flag": flag},
                "claimed_officer": claimed,
            },
        )
        if key is not None and item.officer_id != old_code:
            from server.custody.manifests import latest_manifest, write_manifest

            if latest_manifest(s, item.id) is not None:
                write_manifest(s, item, key=key)
        changed.append(item.id)
    return {
        "device": d.serial,
        "items": len(items),
        "reattributed": len(changed),
        "item_ids": changed,
    }


def unknown_devices(s: Session, who: Principal) -> list[dict[str, Any]]:
    """Serials seen on footage that the registry does not know, with how many items."""
    require(who, READ_REGISTRY)
    q = (
        select(
            ItemAttribution.device_serial,
            ItemAttribution.agency_id,
            func.count(),
            func.min(EvidenceItem.recorded_at),
            func.max(EvidenceItem.recorded_at),
        )
        .join(EvidenceItem, EvidenceItem.id == ItemAttribution.item_id)
        .where(ItemAttribution.flag == "unknown_device")
        .group_by(ItemAttribution.device_serial, ItemAttribution.agency_id)
        .order_by(ItemAttribution.device_serial)
    )
    q = visible(q, ItemAttribution.agency_id, who)
    codes = agency_codes(s)
    known = {(d.serial, d.agency_id) for d in s.scalars(select(Device))}
    # A serial registered since its footage came in stays listed until it is re-attributed.
    return [
        {
            "serial": serial,
            "agency_id": ag,
            "agency": codes.get(ag) if ag else None,
            "items": n,
            "first_recorded_at": iso(first),
            "last_recorded_at": iso(last),
            "registered": (serial, ag) in known,
        }
        for serial, ag, n, first, last in s.execute(q)
    ]


def flagged_items(
    s: Session, who: Principal, flag: str = "officer_mismatch", limit: int = 200
) -> list[dict[str, Any]]:
    """Items whose attribution needs a person (the file name disagrees, no assignment)."""
    require(who, READ_REGISTRY)
    q = (
        select(EvidenceItem, ItemAttribution)
        .join(ItemAttribution, ItemAttribution.item_id == EvidenceItem.id)
        .where(ItemAttribution.flag == flag)
        .order_by(EvidenceItem.recorded_at.desc())
        .limit(max(1, min(limit, LIST_MAX)))
    )
    q = visible(q, EvidenceItem.agency_id, who)
    return [
        {
            "id": i.id,
            "original_filename": i.original_filename,
            "recorded_at": iso(i.recorded_at),
            "device_id": i.device_id,
            "officer_id": i.officer_id,
            "attribution": attribution_json(a, s),
        }
        for i, a in s.execute(q)
    ]


def officer_item_clause(officer_ids: Iterable[int]) -> Any:
    """Items recorded on a device while one of these officers held it (from the assignments
    themselves, so footage catalogued before its camera was registered counts too)."""
    held = (
        select(DeviceAssignment.id)
        .join(Device, Device.id == DeviceAssignment.device_id)
        .where(
            DeviceAssignment.officer_id.in_(list(officer_ids)),
            Device.serial == EvidenceItem.device_id,
            Device.agency_id == EvidenceItem.agency_id,
            DeviceAssignment.valid_from <= EvidenceItem.recorded_at,
            or_(
                DeviceAssignment.valid_to.is_(None),
                DeviceAssignment.valid_to > EvidenceItem.recorded_at,
            ),
        )
        .correlate(EvidenceItem)
    )
    return held.exists()


def unit_item_clause(unit: str) -> Any:
    """Items of the officers of a unit (科室/中队): recorded on a camera one of them held, or
    naming one of them when no device says otherwise."""
    ids = select(Officer.id).where(Officer.unit == unit)
    codes = select(Officer.code).where(Officer.unit == unit)
    held = (
        select(DeviceAssignment.id)
        .join(Device, Device.id == DeviceAssignment.device_id)
        .where(
            DeviceAssignment.officer_id.in_(ids),
            Device.serial == EvidenceItem.device_id,
            Device.agency_id == EvidenceItem.agency_id,
            DeviceAssignment.valid_from <= EvidenceItem.recorded_at,
            or_(
                DeviceAssignment.valid_to.is_(None),
                DeviceAssignment.valid_to > EvidenceItem.recorded_at,
            ),
        )
        .correlate(EvidenceItem)
    )
    return or_(held.exists(), EvidenceItem.officer_id.in_(codes))


def officer_footage(
    s: Session,
    who: Principal,
    ref: Any,
    zone: str,
    *,
    date_from: str = "",
    date_to: str = "",
    limit: int = 500,
) -> dict[str, Any]:
    """An officer's footage grouped by local day (the camera zone), newest first."""
    o = get_officer(s, ref, who)
    require(who, "evidence.read", o.agency_id)
    # An item names the registry's officer when the registry knows one, else the file's claim.
    q = select(EvidenceItem).where(
        EvidenceItem.agency_id == o.agency_id,
        or_(officer_item_clause([o.id]), EvidenceItem.officer_id == o.code),
    )
    if date_from:
        q = q.where(EvidenceItem.recorded_at >= parse_time(date_from, "from", zone))
    if date_to:
        end = parse_time(date_to, "to", zone)
        if len(str(date_to)) <= 10:
            end += timedelta(days=1)
        q = q.where(EvidenceItem.recorded_at < end)
    rows = list(
        s.scalars(
            q.order_by(EvidenceItem.recorded_at.desc().nulls_last()).limit(max(1, min(limit, 2000)))
        )
    )
    tz = ZoneInfo(zone)
    days: dict[str, list[dict[str, Any]]] = {}
    for i in rows:
        day = i.recorded_at.astimezone(tz).date().isoformat() if i.recorded_at else "unknown"
        a = s.get(ItemAttribution, i.id)
        days.setdefault(day, []).append(
            {
                "id": i.id,
                "original_filename": i.original_filename,
                "kind": i.kind,
                "status": i.status,
                "recorded_at": iso(i.recorded_at),
                "device_id": i.device_id,
                "size": i.size,
                "flag": a.flag if a else None,
                "claimed_officer": a.claimed_officer if a else None,
            }
        )
    codes = agency_codes(s)
    return {
        "officer": officer_json(o, codes.get(o.agency_id)),
        "days": [{"date": d, "items": items} for d, items in days.items()],
        "count": len(rows),
    }
