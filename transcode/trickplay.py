"""Trickplay: thumbnails about every few seconds tiled into JPEG sprite sheets with a WebVTT."""

from __future__ import annotations

import logging
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import av
import av.error
import numpy as np

from ._jpeg import JPEG_QSCALE, encode_jpeg
from ._tools import pyav_version
from .presets import safe_path
from .probe import ProbeResult
from .renditions import TRICKPLAY_VTT_NAME

logger = logging.getLogger(__name__)

Strategy = Literal["keyframes", "seek", "decode"]

VTT_NAME = TRICKPLAY_VTT_NAME
SHEET_PATTERN = "sprite-{:03d}.jpg"
# Keyframes up to this multiple of the interval apart are used as they are.
KEYFRAME_SLACK = 1.5
# For sparser keyframes, bench/media.py measured sequential decoding (non-reference frames
# skipped) against one seek per thumbnail on 1080p with a 10 s GOP: decoding 3.3 s vs seeking
# 4.5 s per minute of video (18x vs 13x real time), so sparse keyframes mean decoding.
SPARSE_STRATEGY: Strategy = "decode"


@dataclass(frozen=True)
class TrickplayCue:
    """One thumbnail: the time span it stands for and where it sits in which sheet."""

    start_s: float
    end_s: float
    sheet: str
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Trickplay:
    """Sprite sheets plus the WebVTT track that points into them."""

    directory: str
    vtt: str
    sheets: tuple[str, ...]
    tile_width: int
    tile_height: int
    cols: int
    rows: int
    cues: tuple[TrickplayCue, ...]
    strategy: Strategy
    tool: str
    tool_version: str
    parameters: dict[str, Any] = field(default_factory=dict)


def choose_strategy(probe: ProbeResult, interval_s: float) -> Strategy:
    """Keyframes only when they come at least about every interval; otherwise measured choice."""
    video = probe.video
    gap = video.keyframe_interval_s if video else None
    if gap is None or gap <= interval_s * KEYFRAME_SLACK:
        return "keyframes"
    return SPARSE_STRATEGY


def tile_size(probe: ProbeResult, width: int) -> tuple[int, int]:
    """Even tile width/height for the displayed (rotated) picture."""
    video = probe.video
    if video is None or not video.width or not video.height:
        raise ValueError("trickplay needs a sized video stream")
    dw, dh = video.display_size or (video.width, video.height)
    height = max(2, round(width * dh / dw / 2) * 2)
    return width - width % 2, height


def _tile(frame: av.VideoFrame, w: int, h: int, rotation: int) -> np.ndarray:
    quarter = (rotation // 90) % 4
    rw, rh = (h, w) if quarter % 2 else (w, h)
    arr = frame.reformat(width=rw, height=rh, format="rgb24").to_ndarray()
    # The display matrix rotation is counter-clockwise, as is np.rot90.
    return np.rot90(arr, k=quarter) if quarter else arr


def _frames(
    src: str, probe: ProbeResult, strategy: Strategy, interval_s: float, w: int, h: int
) -> Iterator[tuple[float, np.ndarray]]:
    video = probe.video
    assert video is not None
    rotation = video.rotation
    with av.open(src, metadata_errors="replace") as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        if strategy == "keyframes":
            stream.codec_context.skip_frame = "NONKEY"
        elif strategy == "decode":
            stream.codec_context.skip_frame = "NONREF"
        # Keyframes land where the encoder put them; decoded frames can match to half a frame.
        fps = video.avg_frame_rate or video.real_frame_rate or 25.0
        tolerance = interval_s / 4 if strategy == "keyframes" else 0.5 / fps
        if strategy == "seek":
            duration = probe.duration_s or video.duration_s or 0.0
            for i in range(max(1, math.ceil(duration / interval_s))):
                target = i * interval_s
                c.seek(int((start + target) / stream.time_base), stream=stream, backward=True)
                for frame in c.decode(stream):
                    if frame.time is not None and frame.time - start >= target - tolerance:
                        yield frame.time - start, _tile(frame, w, h, rotation)
                        break
            return
        next_t = 0.0
        for frame in c.decode(stream):
            if frame.time is None:
                continue
            t = frame.time - start
            if t < next_t - tolerance:
                continue
            yield t, _tile(frame, w, h, rotation)
            next_t = max(next_t, t) + interval_s


def _timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def make_trickplay(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    interval_s: float = 2.0,
    width: int = 160,
    cols: int = 10,
    rows: int = 10,
    *,
    strategy: Strategy | None = None,
    max_duration_s: float | None = None,
) -> Trickplay:
    """Write ``sprite-NNN.jpg`` sheets and ``thumbnails.vtt`` into outdir (atomically)."""
    src_path = safe_path(src)
    final = safe_path(outdir)
    strategy = strategy or choose_strategy(probe, interval_s)
    w, h = tile_size(probe, width)
    per_sheet = cols * rows
    duration = probe.duration_s or (probe.video.duration_s if probe.video else None)

    times: list[float] = []
    tiles: list[np.ndarray] = []
    try:
        for t, tile in _frames(src_path, probe, strategy, interval_s, w, h):
            if max_duration_s is not None and t > max_duration_s:
                break
            times.append(t)
            tiles.append(tile)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # A damaged tail ends the thumbnails where the decodable part ends.
        logger.info("trickplay of %s stopped at %d tiles: %s", src_path, len(tiles), exc)
    if not tiles:
        raise ValueError("no frame could be decoded for thumbnails")

    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    work = os.path.join(parent, f".{os.path.basename(final)}.partial-{uuid.uuid4().hex}")
    os.makedirs(work)
    try:
        sheets: list[str] = []
        cues: list[TrickplayCue] = []
        end_of_media = max(duration or 0.0, times[-1] + interval_s)
        for first in range(0, len(tiles), per_sheet):
            batch = tiles[first : first + per_sheet]
            name = SHEET_PATTERN.format(first // per_sheet)
            used_rows = math.ceil(len(batch) / cols)
            sheet = np.zeros((used_rows * h, min(cols, len(batch)) * w, 3), dtype=np.uint8)
            for i, tile in enumerate(batch):
                x, y = (i % cols) * w, (i // cols) * h
                sheet[y : y + h, x : x + w] = tile
                n = first + i
                start = 0.0 if n == 0 else times[n]
                end = times[n + 1] if n + 1 < len(times) else end_of_media
                cues.append(TrickplayCue(start, end, name, x, y, w, h))
            with open(os.path.join(work, name), "wb") as fh:
                fh.write(encode_jpeg(sheet))
            sheets.append(name)
        lines = ["WEBVTT", ""]
        for cue in cues:
            lines += [
                f"{_timestamp(cue.start_s)} --> {_timestamp(cue.end_s)}",
                f"{cue.sheet}#xywh={cue.x},{cue.y},{cue.w},{cue.h}",
                "",
            ]
        with open(os.path.join(work, VTT_NAME), "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(lines))
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(work, final)
    finally:
        if os.path.exists(work):
            shutil.rmtree(work, ignore_errors=True)
    return Trickplay(
        directory=final,
        vtt=os.path.join(final, VTT_NAME),
        sheets=tuple(os.path.join(final, s) for s in sheets),
        tile_width=w,
        tile_height=h,
        cols=cols,
        rows=rows,
        cues=tuple(cues),
        strategy=strategy,
        tool="pyav",
        tool_version=pyav_version(),
        parameters={
            "interval_s": interval_s,
            "width": width,
            "cols": cols,
            "rows": rows,
            "strategy": strategy,
            "jpeg_qscale": JPEG_QSCALE,
        },
    )
