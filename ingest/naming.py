"""What a clip's name and sidecar say about it: device, officer, start time (UTC), case, stage."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from integrity.timefmt import iso, parse_rfc3339

logger = logging.getLogger(__name__)

DEFAULT_NAMING = Path(__file__).resolve().parent.parent / "config" / "naming.toml"
SIDECAR_KEYS = ("device_id", "officer_id", "recorded_at", "station_id", "case", "stage")
SIDECAR_MAX_BYTES = 64 * 1024


class NamingError(Exception):
    """The naming config is wrong (names the file and key)."""


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    time_format: str


@dataclass(frozen=True)
class Naming:
    patterns: tuple[Pattern, ...]
    timezone: str = "Asia/Shanghai"
    zone: Any = field(default=None, compare=False)

    def local_zone(self) -> tzinfo:
        """The zone of the cameras' clocks."""
        return self.zone or ZoneInfo(self.timezone)

    def local_to_utc(self, dt: datetime) -> datetime:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.local_zone())
        return dt.astimezone(UTC)


def load_naming(path: str | Path | None = None, timezone: str | None = None) -> Naming:
    """Read naming patterns from TOML (config/naming.toml by default)."""
    path = Path(path) if path else DEFAULT_NAMING
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NamingError(f"naming file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise NamingError(f"naming file {path} is not valid TOML: {exc}") from None
    zone_name = timezone or data.get("timezone", "Asia/Shanghai")
    try:
        zone = ZoneInfo(zone_name)
    except Exception:
        raise NamingError(f"{path}: unknown timezone {zone_name!r}") from None
    patterns = []
    for i, p in enumerate(data.get("pattern", [])):
        where = f"{path}: pattern {i + 1}"
        try:
            rx = re.compile(p["regex"])
        except KeyError:
            raise NamingError(f"{where}: key 'regex' is required") from None
        except re.error as exc:
            raise NamingError(f"{where}: bad regex: {exc}") from None
        patterns.append(
            Pattern(p.get("name", f"pattern{i + 1}"), rx, p.get("time_format", "%Y%m%d%H%M%S"))
        )
    return Naming(tuple(patterns), zone_name, zone)


def _parse_time(text: str, fmt: str) -> datetime | None:
    digits_only = not re.sub(r"%[YmdHMS]", "", fmt)
    value = re.sub(r"\D", "", text) if digits_only else text
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def from_name(name: str, naming: Naming) -> dict[str, str]:
    """device_id, officer_id, recorded_at (RFC 3339 UTC) from the first matching pattern."""
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    for p in naming.patterns:
        m = p.regex.match(stem)
        if not m:
            continue
        groups = m.groupdict()
        out: dict[str, str] = {}
        if groups.get("device"):
            out["device_id"] = groups["device"]
        if groups.get("officer"):
            out["officer_id"] = groups["officer"]
        if groups.get("time"):
            dt = _parse_time(groups["time"], p.time_format)
            if dt is None:
                continue  # digits that are not a time: try the next pattern
            out["recorded_at"] = iso(naming.local_to_utc(dt))
        return out
    return {}


def sidecar_paths(path: Path) -> list[Path]:
    """Where a clip's sidecar may be: <name>.json, then <stem>.json."""
    return [path.with_name(path.name + ".json"), path.with_suffix(".json")]


def from_sidecar(path: Path, naming: Naming) -> dict[str, str]:
    """The sidecar's known keys, as text; recorded_at converted to UTC."""
    for side in sidecar_paths(path):
        if side == path or not side.is_file():
            continue
        try:
            if side.stat().st_size > SIDECAR_MAX_BYTES:
                logger.warning("sidecar %s is over %d bytes; ignored", side, SIDECAR_MAX_BYTES)
                return {}
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("sidecar %s is not readable JSON (%s); ignored", side, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        out = {k: str(data[k]) for k in SIDECAR_KEYS if data.get(k) not in (None, "")}
        if "recorded_at" in out:
            try:
                dt = parse_rfc3339(out["recorded_at"], naive_zone=naming.local_zone())
                out["recorded_at"] = iso(naming.local_to_utc(dt))
            except ValueError:
                logger.warning(
                    "sidecar %s: recorded_at %r is not a time; ignored", side, out["recorded_at"]
                )
                del out["recorded_at"]
        return out
    return {}


def describe(path: Path, naming: Naming) -> dict[str, str]:
    """Everything the station knows about a clip: name patterns, then the sidecar on top."""
    return {**from_name(path.name, naming), **from_sidecar(path, naming)}
