"""Reviewer annotations: bookmarks at a time of an item, and clips in a case's export basket.

Both are custody acts (Art. 4: every step leaves a trace), so each one is appended to the ledger
as an ``annotation`` in the same transaction that saves it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import ANNOTATION
from server.catalogue.models import BasketClip, Bookmark, EvidenceItem
from server.custody.ledger import actor_of, append
from server.http.access import EXPORT, READ_CASES, READ_EVIDENCE, WRITE_CASES, Principal, require
from server.http.errors import BadRequest
from server.http.schemas.annotations import (  # noqa: F401 (the limits, re-exported)
    CLIP_NAME_MAX_CHARS,
    NOTE_MAX_CHARS,
    BookmarkReply,
    ClipReply,
    NewBookmark,
    NewClip,
)
from server.intake.evidence import get_item
from server.isotime import iso

LIST_MAX = 1000


def _duration(item: EvidenceItem) -> float | None:
    return item.duration_s  # a typed column since migration 0202 (was media_info.probe)


def bookmark_json(b: Bookmark) -> dict[str, Any]:
    return BookmarkReply(
        id=b.id,
        evidence_id=b.item_id,
        time_s=b.time_s,
        note=b.note,
        user_id=b.user_id,
        username=b.username,
        created_at=iso(b.created_at),
        ledger_seq=b.ledger_seq,
    ).model_dump(mode="json")


def add_bookmark(s: Session, item_id: str, who: Principal, new: NewBookmark) -> dict[str, Any]:
    """Save a bookmark at a time of an item, ledgered as an annotation."""
    item = get_item(s, item_id, who)
    require(who, WRITE_CASES, item.agency_id)
    time_s, note = new.time_s, new.note
    duration = _duration(item)
    if duration is not None and time_s > duration + 1.0:
        raise BadRequest(
            f"time_s {time_s} is past the end of the recording ({duration:.3f} s)", code="bad_field"
        )
    b = Bookmark(
        item_id=item.id, user_id=who.user_id, username=who.username, time_s=time_s, note=note
    )
    s.add(b)
    s.flush()
    entry = append(
        s,
        actor=actor_of(who),
        action=ANNOTATION,
        subject=f"evidence:{item.id}",
        details={
            "what": "bookmark",
            "bookmark_id": b.id,
            "time_s": time_s,
            "note": note,
            "sha256": item.sha256,
        },
    )
    b.ledger_seq = entry.seq
    return bookmark_json(b)


def list_bookmarks(s: Session, item_id: str, who: Principal) -> dict[str, Any]:
    """Bookmarks of an item in time order."""
    item = get_item(s, item_id, who)
    require(who, READ_EVIDENCE, item.agency_id)
    rows = s.scalars(
        select(Bookmark)
        .where(Bookmark.item_id == item.id)
        .order_by(Bookmark.time_s, Bookmark.id)
        .limit(LIST_MAX)
    )
    return {"items": [bookmark_json(b) for b in rows], "next": None}


def _case(s: Session, ref: str, who: Principal, action: str) -> tuple[int | None, str]:
    """The agency and id of a case (by id or number) the caller may act on."""
    from server.cases.lookups import get_case

    case = get_case(s, ref, who, action)
    return case.agency_id, str(case.id)


def clip_json(c: BasketClip) -> dict[str, Any]:
    return ClipReply(
        id=c.id,
        case_id=c.case_id,
        evidence_id=c.item_id,
        in_s=c.in_s,
        out_s=c.out_s,
        duration_s=round(c.out_s - c.in_s, 3),
        name=c.name,
        user_id=c.user_id,
        username=c.username,
        created_at=iso(c.created_at),
        ledger_seq=c.ledger_seq,
    ).model_dump(mode="json")


def add_clip(s: Session, case_id: str, who: Principal, new: NewClip) -> dict[str, Any]:
    """Put a clip (item, in, out, name) into a case's export basket, ledgered as an annotation."""
    agency_id, case_key = _case(s, case_id, who, EXPORT)
    item = get_item(s, new.evidence_id, who)
    if agency_id is not None and item.agency_id != agency_id:
        raise BadRequest("the item belongs to another agency than the case", code="bad_field")
    in_s, out_s, name = new.in_s, new.out_s, new.name
    if out_s <= in_s:
        raise BadRequest("out_s must be after in_s", code="bad_field")
    duration = _duration(item)
    if duration is not None and out_s > duration + 1.0:
        raise BadRequest(
            f"out_s {out_s} is past the end of the recording ({duration:.3f} s)", code="bad_field"
        )
    c = BasketClip(
        case_id=case_key,
        item_id=item.id,
        in_s=in_s,
        out_s=out_s,
        name=name,
        user_id=who.user_id,
        username=who.username,
    )
    s.add(c)
    s.flush()
    entry = append(
        s,
        actor=actor_of(who),
        action=ANNOTATION,
        subject=f"case:{case_key}",
        details={
            "what": "basket_clip",
            "clip_id": c.id,
            "evidence_id": item.id,
            "sha256": item.sha256,
            "in_s": in_s,
            "out_s": out_s,
            "name": name,
        },
    )
    c.ledger_seq = entry.seq
    return clip_json(c)


def list_clips(s: Session, case_id: str, who: Principal) -> dict[str, Any]:
    """The export basket of a case, oldest first."""
    _, case_key = _case(s, case_id, who, READ_CASES)
    rows = s.scalars(
        select(BasketClip)
        .where(BasketClip.case_id == case_key)
        .order_by(BasketClip.id)
        .limit(LIST_MAX)
    )
    return {"items": [clip_json(c) for c in rows], "next": None}
