"""Export requests (sealed court packages): request schema. server/exports/job.py still reads
the dict while it is being reworked; the route validates with this first."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from server.http.schemas.base import Body
from server.http.schemas.types import Flag, Seconds, Text

MAX_TEXT, MAX_PURPOSE, CLIP_NAME_MAX = 500, 1000, 120  # server.exports.job


class ClipRequest(Body):
    evidence_id: Text(64, required=True, strip=False)  # type: ignore[valid-type]
    in_s: Seconds
    out_s: Seconds
    name: Text(CLIP_NAME_MAX, strip=False) | None = None  # type: ignore[valid-type]
    precise: Flag = Field(False, description="re-encode for a frame-exact cut")


class ExportRequest(Body):
    error_codes = {"clips": "bad_clip"}

    recipient: Text(MAX_TEXT, required=True) = Field(  # type: ignore[valid-type]
        description="who receives the package (written into bag-info.txt)"
    )
    purpose: Text(MAX_PURPOSE, required=True) = "诉讼 / court proceedings"  # type: ignore[valid-type]
    items: Annotated[list[Text(64, required=True, strip=False)], Field(min_length=1)] | None = (  # type: ignore[valid-type]
        Field(None, description="linked evidence ids (default: every linked item)")
    )
    clips: list[ClipRequest] | None = Field(
        None, description="clips to cut (default: the case's basket)"
    )
    watermark: Flag = Field(False, description="burn recipient and export id into clip copies")
