"""Retention classes, legal holds and disposal (nothing is deleted inside retention).

Classes (settings): `ordinary` footage is kept at least `retention_default_days` (≥ 180) from
receipt; footage linked to a case as evidence is kept with the case (`retention_case_days`,
0 = permanent); `legal_hold` keeps an item until the hold is released. An item's class follows
its links and holds. After retention, disposal is a request and an approval by a second person,
both in the custody ledger. On S3 the Object Lock follows the class: a retain-until date that
only ever moves later, and the object's legal-hold flag for permanent classes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import DISPOSAL_APPROVAL, DISPOSAL_REQUEST, RETENTION
from server.catalogue.models import (
    CaseLink,
    DisposalRequest,
    EvidenceItem,
    LegalHold,
    StoredObject,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.http.access import DISPOSE, HOLD, Principal, require, require_seen, sees_all
from server.http.errors import Conflict, NotFound
from server.isotime import iso
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)

ORDINARY = "ordinary"
CASE = "case"
LEGAL_HOLD = "legal_hold"
DISPOSED = "disposed"
LEGACY_ORDINARY = frozenset({"default", ORDINARY})


def ordinary_until(item: EvidenceItem, settings: Settings) -> datetime:
    """The end of the ordinary retention: never earlier than receipt + the ordinary days."""
    floor = item.received_at + timedelta(days=settings.retention_default_days)
    if (
        item.retention_class in LEGACY_ORDINARY
        and item.retention_until
        and item.retention_until > floor
    ):
        return item.retention_until
    return floor


def active_links(s: Session, item_id: str) -> list[CaseLink]:
    return list(
        s.scalars(
            select(CaseLink).where(CaseLink.item_id == item_id, CaseLink.unlinked_at.is_(None))
        )
    )


def active_holds(s: Session, item_id: str) -> list[LegalHold]:
    return list(
        s.scalars(
            select(LegalHold).where(LegalHold.item_id == item_id, LegalHold.released_at.is_(None))
        )
    )


def target_class(s: Session, item: EvidenceItem, settings: Settings) -> tuple[str, datetime | None]:
    """The class and retain-until date the item's holds and links call for (None = no end)."""
    if item.retention_class == DISPOSED:
        return DISPOSED, item.retention_until
    if active_holds(s, item.id):
        return LEGAL_HOLD, None
    links = active_links(s, item.id)
    if links:
        if settings.retention_case_days == 0:
            return CASE, None
        last = max(link.linked_at for link in links)
        return CASE, max(
            ordinary_until(item, settings), last + timedelta(days=settings.retention_case_days)
        )
    return ORDINARY, ordinary_until(item, settings)


def object_until(s: Session, sha256: str) -> datetime | None:
    """How long a stored object must be kept: the latest retain-until of the items over it
    that are not disposed of (None, for ever, when one of them is permanent)."""
    rows = list(
        s.execute(
            select(EvidenceItem.retention_class, EvidenceItem.retention_until).where(
                EvidenceItem.sha256 == sha256
            )
        )
    )
    kept = [until for cls, until in rows if cls != DISPOSED]
    if not kept:  # every item disposed of: the dates never move earlier
        return max((until for _, until in rows if until is not None), default=None)
    if any(until is None for until in kept):
        return None
    return max(kept)  # type: ignore[type-var]


def sync_store_lock(
    store: ObjectStore | None, sha256: str, cls: str, until: datetime | None
) -> None:
    """Make the S3 Object Lock follow the class; local stores are guarded by the API alone."""
    if store is None:
        return
    if until is None:
        store.legal_hold(sha256, True)
        return
    store.set_retention(sha256, until)
    store.legal_hold(sha256, False)


def apply_class(
    s: Session,
    item: EvidenceItem,
    settings: Settings,
    store: ObjectStore | None,
    *,
    who: Principal | None,
    reason: str,
) -> dict[str, Any] | None:
    """Move the item to the class its links and holds call for; ledgered when it changes."""
    cls, until = target_class(s, item, settings)
    old_cls = ORDINARY if item.retention_class in LEGACY_ORDINARY else item.retention_class
    if cls == old_cls and until == item.retention_until:
        return None
    change = {
        "item": item.id,
        "from_class": old_cls,
        "to_class": cls,
        "from_until": iso(item.retention_until),
        "to_until": iso(until),
        "reason": reason,
    }
    item.retention_class, item.retention_until = cls, until
    s.flush()
    # Agencies delivering the same bytes share one stored object: it is kept as long as the
    # longest-kept of their items needs it.
    obj_until = object_until(s, item.sha256)
    obj = s.get(StoredObject, item.sha256)
    if obj is not None:
        obj.retention_until = obj_until
    s.flush()
    # Inside the transaction: a store failure rolls the class change back with it.
    sync_store_lock(store, item.sha256, cls, obj_until)
    append(s, actor=actor_of(who), action=RETENTION, subject=f"evidence:{item.id}", details=change)
    return change


def retention_json(s: Session, item: EvidenceItem, settings: Settings) -> dict[str, Any]:
    cls = ORDINARY if item.retention_class in LEGACY_ORDINARY else item.retention_class
    until = item.retention_until if cls != ORDINARY else ordinary_until(item, settings)
    holds = active_holds(s, item.id)
    return {
        "item": item.id,
        "class": cls,
        "until": iso(until),
        "permanent": until is None,
        "legal_holds": [
            {
                "id": h.id,
                "reason": h.reason,
                "placed_by": h.placed_by,
                "placed_at": iso(h.placed_at),
            }
            for h in holds
        ],
    }


def set_legal_hold(
    s: Session,
    item: EvidenceItem,
    who: Principal,
    hold: bool,
    reason: str,
    settings: Settings,
    store: ObjectStore | None,
) -> dict[str, Any]:
    """Place (hold=True) or release a legal hold; the class follows."""
    require(who, HOLD, item.agency_id)
    if item.retention_class == DISPOSED:
        raise Conflict("the item was disposed of", code="disposed")
    now = utcnow()
    holds = active_holds(s, item.id)
    if hold and not holds:
        s.add(LegalHold(item_id=item.id, reason=reason, placed_by=who.user_id, placed_at=now))
    elif not hold:
        for h in holds:
            h.released_by, h.released_at, h.release_reason = who.user_id, now, reason
    s.flush()
    apply_class(
        s,
        item,
        settings,
        store,
        who=who,
        reason=("legal hold placed: " if hold else "legal hold released: ") + reason,
    )
    return retention_json(s, item, settings)


def _disposable(s: Session, item: EvidenceItem, settings: Settings, now: datetime) -> None:
    """Conflict unless the item is out of every retention."""
    if item.retention_class == DISPOSED:
        raise Conflict("the item was already disposed of", code="disposed")
    if active_holds(s, item.id):
        raise Conflict("the item is under a legal hold", code="inside_retention")
    if active_links(s, item.id):
        raise Conflict(
            "the item is evidence in a case and is kept with it", code="inside_retention"
        )
    until = ordinary_until(item, settings)
    if until > now:
        raise Conflict(
            f"the item is inside its retention until {iso(until)}", code="inside_retention"
        )


def request_json(r: DisposalRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "evidence_id": r.item_id,
        "reason": r.reason,
        "state": r.state,
        "requested_by": r.requested_by,
        "requested_at": iso(r.requested_at),
        "decided_by": r.decided_by,
        "decided_at": iso(r.decided_at),
        "decision_note": r.decision_note,
    }


def request_disposal(
    s: Session, item: EvidenceItem, who: Principal, reason: str, settings: Settings
) -> dict[str, Any]:
    """Ask for an item to be disposed of after its retention (a second person approves)."""
    require(who, DISPOSE, item.agency_id)
    _disposable(s, item, settings, utcnow())
    pending = s.scalar(
        select(DisposalRequest).where(
            DisposalRequest.item_id == item.id, DisposalRequest.state == "pending"
        )
    )
    if pending is not None:
        raise Conflict(f"disposal request {pending.id} is already pending", code="pending")
    req = DisposalRequest(
        item_id=item.id, reason=reason, requested_by=who.user_id, requested_at=utcnow()
    )
    s.add(req)
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=DISPOSAL_REQUEST,
        subject=f"evidence:{item.id}",
        details={"request": req.id, "reason": reason},
    )
    return request_json(req)


def approve_disposal(
    s: Session, request_id: str, who: Principal, note: str, settings: Settings
) -> dict[str, Any]:
    """Approve a pending disposal: by someone other than the requester, after retention."""
    req = s.get(DisposalRequest, request_id) if len(request_id) <= 64 else None
    if req is None:
        raise NotFound(f"no disposal request {request_id}")
    item = s.get(EvidenceItem, req.item_id)
    assert item is not None
    require_seen(who, DISPOSE, item.agency_id, f"disposal request {request_id}")
    if req.state != "pending":
        raise Conflict(f"the request is {req.state}", code="not_pending")
    if req.requested_by == who.user_id:
        raise Conflict(
            "a disposal must be approved by a second person, not the requester", code="same_person"
        )
    _disposable(s, item, settings, utcnow())
    req.state, req.decided_by, req.decided_at, req.decision_note = (
        "approved",
        who.user_id,
        utcnow(),
        note,
    )
    old = item.retention_class
    item.retention_class = DISPOSED
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=DISPOSAL_APPROVAL,
        subject=f"evidence:{item.id}",
        details={
            "request": req.id,
            "requested_by": req.requested_by,
            "note": note,
            "from_class": old,
            "to_class": DISPOSED,
        },
    )
    return request_json(req)


def list_requests(s: Session, who: Principal, state: str | None) -> list[dict[str, Any]]:
    """Disposal requests the caller may decide on (their agency's, or all for cross-agency roles)."""
    require(who, DISPOSE)
    q = select(DisposalRequest).join(EvidenceItem, EvidenceItem.id == DisposalRequest.item_id)
    if not sees_all(who):
        q = q.where(EvidenceItem.agency_id == who.agency_id)
    if state:
        q = q.where(DisposalRequest.state == state)
    return [
        request_json(r)
        for r in s.scalars(q.order_by(DisposalRequest.requested_at.desc()).limit(500))
    ]
