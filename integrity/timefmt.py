"""The one formatter and the one parser of times in Custodian: RFC 3339 UTC.

`rfc3339` is the textual form of every signed or sealed record (ledger entries and their
details, manifests, tree heads, packages): microseconds and a trailing "Z", always, so one
moment has one text. `iso` is the same moment for JSON answers and forms, with the fraction
left out when it is zero (what the API has always shown). `parse_rfc3339` reads both back."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


class MissingOffset(ValueError):
    """A time without a UTC offset where one is required (the zone would be a guess)."""


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds and a trailing 'Z'."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time is ambiguous evidence; refuse rather than guess a zone.
        raise ValueError("naive datetime: a timezone-aware time is required")
    # isoformat, not strftime: strftime drops the leading zeros of years before 1000.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a Z for JSON, without a zero fraction ("2024-03-05T06:30:00Z").

    The catalogue only holds aware UTC times; a naive one is read as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return rfc3339(moment).replace(".000000Z", "Z")


def utc_now() -> str:
    """The current time as an RFC 3339 UTC string."""
    return rfc3339(datetime.now(UTC))


def parse_rfc3339(text: str, *, naive_zone: tzinfo | None = None) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime.

    A time without an offset raises MissingOffset, unless the caller names the zone such times
    are in (a camera's clock, the catalogue's UTC); nothing else is guessed."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        if naive_zone is None:
            raise MissingOffset(f"timestamp without offset: {text!r}")
        moment = moment.replace(tzinfo=naive_zone)
    return moment.astimezone(UTC)


def as_rfc3339(value: str | datetime) -> str:
    """Normalise a datetime or RFC 3339 string to the canonical UTC string form."""
    if isinstance(value, datetime):
        return rfc3339(value)
    return rfc3339(parse_rfc3339(value))
