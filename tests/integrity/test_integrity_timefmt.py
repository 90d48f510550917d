"""The one formatter and parser of times: the signed form, the JSON form, and reading both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from integrity.timefmt import MissingOffset, as_rfc3339, iso, parse_rfc3339, rfc3339

SHANGHAI = timezone(timedelta(hours=8))


def test_signed_form_is_fixed_width_utc() -> None:
    moment = datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)
    assert rfc3339(moment) == "2024-03-05T06:30:00.000000Z"
    assert rfc3339(datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "0999-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2024, 3, 5))


def test_json_form_drops_only_a_zero_fraction() -> None:
    assert iso(datetime(2024, 3, 5, 6, 30, tzinfo=UTC)) == "2024-03-05T06:30:00Z"
    assert iso(datetime(2024, 3, 5, 6, 30, 0, 120, tzinfo=UTC)) == "2024-03-05T06:30:00.000120Z"
    assert iso(datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)) == "2024-03-05T06:30:00Z"
    assert iso(None) is None


@pytest.mark.parametrize(
    "text", ["2024-03-05T06:30:00Z", "2024-03-05T06:30:00.000000Z", "2024-03-05T14:30:00+08:00",
             "2024-03-05t06:30:00z"]
)  # fmt: skip
def test_both_forms_read_back_to_the_same_moment(text: str) -> None:
    assert parse_rfc3339(text) == datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    assert as_rfc3339(text) == "2024-03-05T06:30:00.000000Z"


def test_a_time_without_offset_is_refused_unless_its_zone_is_named() -> None:
    with pytest.raises(MissingOffset):
        parse_rfc3339("2024-03-05T14:30:00")
    camera = parse_rfc3339("2024-03-05T14:30:00", naive_zone=ZoneInfo("Asia/Shanghai"))
    assert camera == datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_rfc3339("5 March 2024")
