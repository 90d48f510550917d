"""Bookmarks and basket clips: the typed commands of server/cases/bookmarks.py."""

from __future__ import annotations

from pydantic import Field

from server.http.schemas.base import Body, Reply
from server.http.schemas.types import Seconds, Text

NOTE_MAX_CHARS = 2000
CLIP_NAME_MAX_CHARS = 200


class NewBookmark(Body):
    time_s: Seconds = Field(description="media time in seconds")
    note: Text(NOTE_MAX_CHARS) = ""  # type: ignore[valid-type]


class NewClip(Body):
    evidence_id: Text(64, required=True, strip=False)  # type: ignore[valid-type]
    in_s: Seconds
    out_s: Seconds
    name: Text(CLIP_NAME_MAX_CHARS, required=True)  # type: ignore[valid-type]


class BookmarkReply(Reply):
    id: int
    evidence_id: str
    time_s: float
    note: str
    user_id: int | None
    username: str
    created_at: str | None = Field(description="RFC 3339 UTC")
    ledger_seq: int | None


class ClipReply(Reply):
    id: int
    case_id: str
    evidence_id: str
    in_s: float
    out_s: float
    duration_s: float
    name: str
    user_id: int | None
    username: str
    created_at: str | None = Field(description="RFC 3339 UTC")
    ledger_seq: int | None


class BookmarkList(Reply):
    items: list[BookmarkReply]
    next: str | None = None


class ClipList(Reply):
    items: list[ClipReply]
    next: str | None = None
