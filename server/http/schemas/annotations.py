"""Bookmarks and basket clips: the typed commands of server/cases/bookmarks.py."""

from __future__ import annotations

from pydantic import Field

from server.http.schemas.base import Body
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
