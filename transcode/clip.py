"""Clips for court exports: cut [in, out) of a recording, or make a browser-playable copy.

A clip is a stream copy from the keyframe at or before the requested start (no generation
loss; it may start a little early) or a precise H.264 re-encode, always when a watermark is
burned in. Command lines are built from the presets below; the times are validated numbers and
every path is ours (see presets.safe_path), so nothing from a user reaches the argv as text
except the watermark, which ffmpeg reads from a file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import av
import av.error

from ._hash import sha256_file
from ._run import Progress, run_ffmpeg
from ._tools import ffmpeg_exe
from .ffargv import ffmpeg_argv
from .limits import TranscodeError
from .presets import GLOBAL_ARGS, safe_path

CLIP_TIMEOUT_S = 3600
BROWSER_VIDEO_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".webm"})
PLAYABLE_PURPOSE = "browser_playable_copy"


class ClipPreset(StrEnum):
    """Every ffmpeg job of a clip."""

    COPY = "clip-copy"
    H264 = "clip-h264"
    PLAYABLE_H264 = "playable-h264"


class ClipMethod(StrEnum):
    """How a clip was made, as the package records it."""

    STREAM_COPY = "stream_copy"
    REENCODE = "reencode"


_MP4 = {"movflags": "+faststart"}
_AAC = {"c:a": "aac", "b:a": "128k"}
_H264 = {"c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p"}

CLIP_PRESETS: dict[ClipPreset, dict[str, Any]] = {
    ClipPreset.COPY: {"c": "copy", "avoid_negative_ts": "make_zero", **_MP4},
    ClipPreset.H264: {**_H264, "crf": 18, **_AAC, **_MP4},
    ClipPreset.PLAYABLE_H264: {**_H264, "crf": 20, **_AAC, **_MP4},
}
WATERMARK_STYLE = (
    "fontcolor=white@0.75",
    "fontsize=max(12\\,h/22)",
    "box=1",
    "boxcolor=black@0.35",
    "boxborderw=6",
    "x=12",
    "y=h-th-12",
)


@dataclass(frozen=True)
class CutClip:
    """A clip cut into a file: how, from what, and its hash."""

    path: Path
    sha256: str
    size: int
    method: ClipMethod
    start_s: float
    end_s: float
    argv: tuple[str, ...]  # as recorded: without the executable, paths by file name only


@dataclass(frozen=True)
class PlayableCopy:
    """A whole-length H.264/AAC MP4 copy of an original a browser cannot play."""

    path: Path
    sha256: str
    size: int
    argv: tuple[str, ...]  # as recorded, like CutClip.argv


def keyframe_at_or_before(path: str | os.PathLike[str], moment: float) -> float:
    """The time of the last video keyframe at or before `moment` (0.0 without video)."""
    with av.open(os.fspath(path)) as container:
        if not container.streams.video:
            return 0.0
        stream = container.streams.video[0]
        base = stream.time_base
        start = stream.start_time or 0
        best = 0.0
        for packet in container.demux(stream):
            if packet.pts is None or base is None:
                continue
            t = float((packet.pts - start) * base)
            if t > moment + 1e-6:
                break
            if packet.is_keyframe:
                best = t
        return best


def _drawtext_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def watermark_filter(text_file: str | os.PathLike[str], font: str | None = None) -> str:
    """The drawtext filter that burns the text of `text_file` into the lower left corner."""
    parts = [f"textfile='{_drawtext_escape(safe_path(text_file))}'", *WATERMARK_STYLE]
    if font:
        parts.insert(0, f"fontfile='{_drawtext_escape(safe_path(font))}'")
    return "drawtext=" + ":".join(parts)


def clip_argv(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    start: float,
    end: float,
    reencode: bool,
    watermark_file: str | os.PathLike[str] | None = None,
    font: str | None = None,
) -> list[str]:
    """The ffmpeg command line of one clip of [start, end) s of `source`."""
    if not 0 <= start < end:
        raise ValueError(f"a clip needs 0 <= start < end, got [{start}, {end})")
    if watermark_file is not None and not reencode:
        raise ValueError("a watermark is burned in: the clip must be re-encoded")
    opts = dict(CLIP_PRESETS[ClipPreset.H264 if reencode else ClipPreset.COPY])
    opts["t"] = f"{end - start:.6f}"
    if watermark_file is not None:
        opts["vf"] = watermark_filter(watermark_file, font)
    return ffmpeg_argv(
        ffmpeg_exe(),
        GLOBAL_ARGS,
        safe_path(source),
        safe_path(out),
        maps=["v:0?", "a:0?"],
        input_options={"ss": f"{start:.6f}"},
        output_options=opts,
    )


def playable_argv(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[str]:
    """ffmpeg argv of a whole-length H.264/AAC MP4 copy for browsers."""
    return ffmpeg_argv(
        ffmpeg_exe(),
        GLOBAL_ARGS,
        safe_path(source),
        safe_path(out),
        maps=["v:0", "a:0?"],
        output_options=CLIP_PRESETS[ClipPreset.PLAYABLE_H264],
    )


def _recorded(argv: list[str], *paths: str | os.PathLike[str]) -> tuple[str, ...]:
    """The argv as a package records it: no executable, our paths by their file name."""
    ours = {safe_path(p): Path(p).name for p in paths}
    return tuple(ours.get(a, a) for a in argv[1:])


def _run(
    argv: list[str],
    out: Path,
    what: str,
    duration_s: float | None,
    progress: Progress | None,
    timeout: float,
) -> None:
    try:
        run_ffmpeg(argv, duration_s=duration_s, progress=progress, timeout=timeout)
    except TranscodeError as exc:
        raise TranscodeError(f"ffmpeg could not {what}: {exc.reason}", exc.stderr_tail) from exc
    if not out.exists() or out.stat().st_size == 0:
        raise TranscodeError(f"ffmpeg could not {what}: no output")


def cut_clip(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    in_s: float,
    out_s: float,
    precise: bool,
    watermark: str | None = None,
    font: str | None = None,
    progress: Progress | None = None,
    timeout: float = CLIP_TIMEOUT_S,
) -> CutClip:
    """Cut [in_s, out_s) of source into out: a stream copy from the keyframe at or before in_s,
    or a precise re-encode (always when a watermark is burned in)."""
    out = Path(out)
    reencode = precise or watermark is not None
    start = in_s if reencode else keyframe_at_or_before(source, in_s)
    text_file = None
    if watermark is not None:
        text_file = out.with_suffix(".watermark.txt")
        text_file.write_text(watermark, encoding="utf-8")
    argv = clip_argv(
        source, out, start=start, end=out_s, reencode=reencode, watermark_file=text_file, font=font
    )
    try:
        _run(
            argv,
            out,
            f"cut {Path(source).name} [{in_s}, {out_s})",
            out_s - start,
            progress,
            timeout,
        )
    finally:
        if text_file is not None:
            text_file.unlink(missing_ok=True)
    digest, size = sha256_file(out)
    method = ClipMethod.REENCODE if reencode else ClipMethod.STREAM_COPY
    return CutClip(out, digest, size, method, round(start, 6), out_s, _recorded(argv, source, out))


def needs_playable_copy(path: str | os.PathLike[str], name: str) -> float | None:
    """The duration (s) of a video original a browser cannot play (HEVC, MPEG-4 part 2, AVI…),
    so a package gets an H.264 copy of it; None when it plays as it is or is not video."""
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                return None
            codec = container.streams.video[0].codec_context.name
            duration = float(container.duration or 0) / 1_000_000
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    if codec in BROWSER_VIDEO_CODECS and Path(name).suffix.lower() in BROWSER_CONTAINERS:
        return None
    return duration


def make_playable_copy(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    timeout: float = CLIP_TIMEOUT_S,
) -> PlayableCopy:
    """Transcode source into out (see playable_argv)."""
    out = Path(out)
    argv = playable_argv(source, out)
    _run(argv, out, f"make a playable copy of {Path(source).name}", None, progress, timeout)
    digest, size = sha256_file(out)
    return PlayableCopy(out, digest, size, _recorded(argv, source, out))
