"""Spot checks and rectification orders (抽查, 责令限期整改): request schemas.
server/cases/spotcheck.py still reads dicts; the routes validate with these first."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.http.schemas.base import Body, Query
from server.http.schemas.types import Int, Rfc3339, Text

MAX_SAMPLE = 200  # server.cases.spotcheck.MAX_SAMPLE
MAX_NOTE = 2000
MAX_PROBLEMS = 100


class SpotCheckDraw(Body):
    agency: Text(64, required=True)  # type: ignore[valid-type]
    from_: Rfc3339 | None = Field(None, alias="from")
    to: Rfc3339 | None = None
    size: Int(1, MAX_SAMPLE) = 5  # type: ignore[valid-type]
    seed: Text(64) = Field("", description="default: a random one (ledgered)")  # type: ignore[valid-type]
    note: Text(MAX_NOTE) = ""  # type: ignore[valid-type]


class Problem(Body):
    item: Text(100) = Field("", description="a checklist item id")  # type: ignore[valid-type]
    note: Text(MAX_NOTE, required=True)  # type: ignore[valid-type]


class Score(Body):
    results: Annotated[dict[str, Literal["pass", "fail", "na"]], Field(max_length=200)] = Field(
        default_factory=dict, description="checklist item id -> pass, fail or na"
    )
    problems: Annotated[list[Problem], Field(max_length=MAX_PROBLEMS)] = Field(default_factory=list)


class OrderRequest(Body):
    deadline: Rfc3339 = Field(description="in the future")
    requirement: Text(MAX_NOTE, required=True)  # type: ignore[valid-type]
    case_ids: Annotated[list[Text(64, required=True)], Field(max_length=MAX_SAMPLE)] | None = (  # type: ignore[valid-type]
        None
    )


class OrderResponse(Body):
    response: Text(10000, required=True)  # type: ignore[valid-type]


class ReportQuery(Query):
    error_codes = {"format": "bad_format", "pending_days": "bad_field"}

    agency: str | None = Field(
        None, description="agency code (default: every agency the caller supervises)"
    )
    from_: Rfc3339 | None = Field(
        None, alias="from", description="cases opened at or after (RFC 3339)"
    )
    to: Rfc3339 | None = Field(None, description="cases opened before (RFC 3339)")
    pending_days: Annotated[float, Field(ge=0, le=3650)] = Field(
        3, description="an undecided approval request older than this is overdue"
    )
    format: Literal["json", "csv", "xlsx"] = "json"
    table: Literal["summary", "articles", "overdue", "officers", "trend"] = Field(
        "summary", description="for csv: the table (articles lists case numbers)"
    )
    lang: str | None = Field(None, description="zh-CN (default) or en; else Accept-Language")
