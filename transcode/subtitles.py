"""Text streams beside the picture (dashcam GPS text, subtitles): a WebVTT track served next to
the HLS rendition, and where the text parses as coordinates, a GPS track (time, position, speed).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import av
import av.error

from ._tools import pyav_version
from .presets import safe_path
from .probe import ProbeResult

logger = logging.getLogger(__name__)

TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"})
MAX_CUES = 200_000
MAX_CUE_CHARS = 500
# A cue without a duration lasts until the next one, at most this long.
DEFAULT_CUE_S = 1.0
KNOTS_TO_KMH = 1.852

_TAGS = re.compile(r"\{[^}]*\}|<[^>]*>")
_HEMI = re.compile(
    r"(?P<ns>[NS])\s*(?P<lat>\d{1,2}(?:\.\d+)?)[°\s,;]*(?P<ew>[EW])\s*(?P<lon>\d{1,3}(?:\.\d+)?)",
    re.IGNORECASE,
)
_HEMI_AFTER = re.compile(
    r"(?P<lat>\d{1,2}\.\d+)\s*°?\s*(?P<ns>[NS])[\s,;]+(?P<lon>\d{1,3}\.\d+)\s*°?\s*(?P<ew>[EW])",
    re.IGNORECASE,
)
_SIGNED = re.compile(r"(?<![\d.])(?P<lat>-?\d{1,2}\.\d{4,})\s*[,;\s]\s*(?P<lon>-?\d{1,3}\.\d{4,})")
_SPEED = re.compile(r"(?P<v>\d{1,3}(?:\.\d+)?)\s*(?P<u>km/?h|kph|mph|kn|knots)\b", re.IGNORECASE)
_NMEA_RMC = re.compile(
    r"\$G[PN]RMC,[^,]*,A,(?P<lat>\d{2})(?P<latm>\d{2}\.\d+),(?P<ns>[NS]),"
    r"(?P<lon>\d{3})(?P<lonm>\d{2}\.\d+),(?P<ew>[EW]),(?P<kn>\d+(?:\.\d+)?)?"
)


@dataclass(frozen=True)
class GpsFix:
    """A position read from one cue's text."""

    lat: float
    lon: float
    speed_kmh: float | None = None


@dataclass(frozen=True)
class TextTrack:
    """The WebVTT file (and GPS JSON, when the text held positions) made from a text stream."""

    vtt: str
    gps: str | None
    stream_index: int
    codec: str
    cues: int
    gps_points: int
    tool: str
    tool_version: str
    parameters: dict[str, Any] = field(default_factory=dict)


def parse_gps(text: str) -> GpsFix | None:
    """Position and speed from a dashcam's text line (N30.27 E120.15 45 km/h, NMEA $GPRMC,
    or signed decimal degrees); None when it holds no plausible coordinates."""
    lat = lon = None
    speed = None
    m = _NMEA_RMC.search(text)
    if m:
        lat = int(m["lat"]) + float(m["latm"]) / 60
        lon = int(m["lon"]) + float(m["lonm"]) / 60
        lat = -lat if m["ns"].upper() == "S" else lat
        lon = -lon if m["ew"].upper() == "W" else lon
        if m["kn"]:
            speed = float(m["kn"]) * KNOTS_TO_KMH
    else:
        m = _HEMI.search(text) or _HEMI_AFTER.search(text)
        if m:
            lat, lon = float(m["lat"]), float(m["lon"])
            lat = -lat if m["ns"].upper() == "S" else lat
            lon = -lon if m["ew"].upper() == "W" else lon
        else:
            m = _SIGNED.search(text)
            if m:
                lat, lon = float(m["lat"]), float(m["lon"])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if speed is None:
        s = _SPEED.search(text)
        if s:
            unit = s["u"].lower()
            value = float(s["v"])
            speed = (
                value * 1.609344 if unit == "mph"
                else value * KNOTS_TO_KMH if unit in ("kn", "knots")
                else value
            )  # fmt: skip
    return GpsFix(round(lat, 6), round(lon, 6), None if speed is None else round(speed, 1))


def _text_of(codec: str, data: bytes) -> str:
    if codec == "mov_text":
        n = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
        data = data[2 : 2 + n]
    text = data.decode("utf-8", "replace")
    if codec in ("ass", "ssa"):
        # Matroska ASS packets: ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        parts = text.split(",", 8)
        text = parts[8] if len(parts) == 9 else text
        text = text.replace("\\N", "\n").replace("\\n", "\n")
    text = _TAGS.sub("", text)
    text = "".join(ch for ch in text if ch.isprintable() or ch == "\n")
    # "-->" and blank lines would end a WebVTT cue early.
    lines = [ln.strip().replace("-->", "→") for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines)[:MAX_CUE_CHARS]


def _ts(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def text_stream(probe: ProbeResult) -> int | None:
    """Index of the first text (subtitle / GPS text) stream, if any."""
    for s in probe.streams:
        if s.type == "other" and s.codec in TEXT_CODECS:
            return s.index
    return None


def _write(path: str, text: str) -> None:
    tmp = f"{path}.partial-{uuid.uuid4().hex}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def extract_text_track(
    src: str | os.PathLike[str],
    out_vtt: str | os.PathLike[str],
    out_gps: str | os.PathLike[str],
    probe: ProbeResult,
    *,
    max_duration_s: float | None = None,
) -> TextTrack | None:
    """Write the WebVTT track (and the GPS JSON when cues carry positions); None when the
    recording has no text stream or it holds no cue."""
    index = text_stream(probe)
    if index is None:
        return None
    src_path, vtt_path, gps_path = safe_path(src), safe_path(out_vtt), safe_path(out_gps)
    raw: list[tuple[float, float | None, str]] = []
    codec = ""
    try:
        with av.open(src_path, metadata_errors="replace") as c:
            stream = c.streams[index]
            codec = stream.codec_context.name if stream.codec_context else ""
            start = c.start_time / 1_000_000 if c.start_time else 0.0
            for packet in c.demux(stream):
                if packet.pts is None or packet.size == 0 or packet.time_base is None:
                    continue
                t = float(packet.pts * packet.time_base) - start
                if max_duration_s is not None and t >= max_duration_s:
                    break
                dur = float(packet.duration * packet.time_base) if packet.duration else None
                text = _text_of(codec, bytes(packet))
                if text:
                    raw.append((max(0.0, t), dur, text))
                if len(raw) >= MAX_CUES:
                    break
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        logger.info("text stream of %s stopped: %s", src_path, exc)
    if not raw:
        return None
    raw.sort(key=lambda r: r[0])
    lines = ["WEBVTT", ""]
    points: list[dict[str, Any]] = []
    for i, (t, dur, text) in enumerate(raw):
        nxt = raw[i + 1][0] if i + 1 < len(raw) else None
        end = t + (dur if dur else DEFAULT_CUE_S)
        if nxt is not None and not dur:
            end = min(end, nxt) if nxt > t else end
        lines += [f"{_ts(t)} --> {_ts(max(end, t + 0.001))}", text, ""]
        fix = parse_gps(text)
        if fix is not None:
            points.append({"t": round(t, 3), "end": round(end, 3), "lat": fix.lat,
                           "lon": fix.lon, "speed_kmh": fix.speed_kmh})  # fmt: skip
    os.makedirs(os.path.dirname(vtt_path), exist_ok=True)
    _write(vtt_path, "\n".join(lines))
    gps_written = None
    if points:
        doc = {"version": 1, "source_stream": index, "points": points}
        _write(gps_path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
        gps_written = gps_path
    return TextTrack(
        vtt=vtt_path,
        gps=gps_written,
        stream_index=index,
        codec=codec,
        cues=len(raw),
        gps_points=len(points),
        tool="pyav",
        tool_version=pyav_version(),
        parameters={"stream": index, "codec": codec, "format": "webvtt"},
    )
