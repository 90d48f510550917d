"""RFC 3339 UTC timestamps, in the one textual form every signed record uses."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds and a trailing 'Z'."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time is ambiguous evidence; refuse rather than guess a zone.
        raise ValueError("naive datetime: a timezone-aware time is required")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    """The current time as an RFC 3339 UTC string."""
    return rfc3339(datetime.now(UTC))


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime (offset required)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return moment.astimezone(UTC)


def as_rfc3339(value: str | datetime) -> str:
    """Normalise a datetime or RFC 3339 string to the canonical UTC string form."""
    if isinstance(value, datetime):
        return rfc3339(value)
    return rfc3339(parse_rfc3339(value))
