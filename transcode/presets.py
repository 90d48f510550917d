"""Preset tables and pure argv builders for the ffmpeg binary (argv built by transcode.ffargv)."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any

from ._tools import ffmpeg_exe
from .ffargv import Filter, ffmpeg_argv
from .probe import ProbeResult
from .renditions import INIT_NAME, PLAYLIST_NAME, PREVIEW, SEGMENT_PATTERN


class Preset(StrEnum):
    """Every ffmpeg job this package knows how to run."""

    HLS_COPY = "hls-copy"
    HLS_COPY_AUDIO_AAC = "hls-copy-audio-aac"
    HLS_H264 = "hls-h264"
    HLS_H264_AUDIO_COPY = "hls-h264-audio-copy"
    HLS_AUDIO = "hls-audio"
    PHOTO_PREVIEW = "photo-preview"


class HlsMode(StrEnum):
    """How the video of an HLS rendition was made."""

    COPY = "copy"
    REENCODE = "reencode"


PREVIEW_NAME = PREVIEW

HLS_SEGMENT_S = 4
KEYFRAME_EVERY_S = 2
MAX_LONG_SIDE = 1920
MAX_SHORT_SIDE = 1080
PREVIEW_MAX_SIDE = 1280

# Global options go straight after the executable so ffmpeg never reads them as trailing.
GLOBAL_ARGS: tuple[str, ...] = (
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-loglevel",
    "error",
    "-y",
    "-progress",
    "pipe:1",
)

# Strip container timestamps and encoder strings so the same input gives the same bytes.
BITEXACT: dict[str, Any] = {
    "fflags": "+bitexact",
    "flags:v": "+bitexact",
    "flags:a": "+bitexact",
    "map_metadata": -1,
    "map_chapters": -1,
}

HLS_MUXER: dict[str, Any] = {
    "f": "hls",
    "hls_segment_type": "fmp4",
    "hls_time": HLS_SEGMENT_S,
    "hls_playlist_type": "vod",
    "hls_flags": "independent_segments",
    "hls_fmp4_init_filename": INIT_NAME,
}

H264_HIGH: dict[str, Any] = {
    "c:v": "libx264",
    "profile:v": "high",
    "preset": "veryfast",
    "crf": 23,
    "pix_fmt": "yuv420p",
    "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_EVERY_S})",
    "fps_mode": "vfr",
}

AAC_128K: dict[str, Any] = {"c:a": "aac", "b:a": "128k", "ac": 2}

PRESETS: dict[Preset, dict[str, Any]] = {
    Preset.HLS_COPY: {"c": "copy", **HLS_MUXER, **BITEXACT},
    Preset.HLS_COPY_AUDIO_AAC: {"c:v": "copy", **AAC_128K, **HLS_MUXER, **BITEXACT},
    Preset.HLS_H264: {**H264_HIGH, **AAC_128K, **HLS_MUXER, **BITEXACT},
    Preset.HLS_H264_AUDIO_COPY: {**H264_HIGH, "c:a": "copy", **HLS_MUXER, **BITEXACT},
    Preset.HLS_AUDIO: {**AAC_128K, **HLS_MUXER, **BITEXACT},
    Preset.PHOTO_PREVIEW: {"frames:v": 1, "q:v": 3, "f": "image2", "update": 1, **BITEXACT},
}


def safe_path(path: str | os.PathLike[str]) -> str:
    """An absolute path: it starts with "/" so it can be neither an option nor a protocol."""
    text = os.path.abspath(os.fspath(path))
    if "\n" in text or "\r" in text or "\x00" in text:
        raise ValueError("paths with control characters are not accepted")
    return text


def _argv(
    src: str | os.PathLike[str],
    out: str,
    maps: list[str | Filter],
    opts: dict[str, Any],
    *,
    genpts: bool = False,
) -> list[str]:
    return ffmpeg_argv(
        ffmpeg_exe(),
        GLOBAL_ARGS,
        safe_path(src),
        out,
        maps=maps,
        input_options=GENPTS_INPUT if genpts else None,
        output_options=opts,
    )


def _hls_output(outdir: str | os.PathLike[str], extra: dict[str, Any]) -> tuple[str, dict]:
    out = safe_path(outdir)
    # The segment name is a printf pattern: a literal "%" in the directory must be doubled.
    seg = os.path.join(out.replace("%", "%%"), SEGMENT_PATTERN)
    return os.path.join(out, PLAYLIST_NAME), {**extra, "hls_segment_filename": seg}


def _duration_cap(max_duration_s: float | None) -> dict[str, Any]:
    return {} if max_duration_s is None else {"t": f"{max_duration_s:g}"}


# Input options of the "copy with generated timestamps" fallback: AVI and some Matroska files
# carry no presentation timestamps (or none on the first packets); the demuxer makes them up.
GENPTS_INPUT: dict[str, Any] = {"fflags": "+genpts"}


# AAC in MPEG-TS (and raw .aac) carries ADTS headers; MP4 fragments need them turned into an
# AudioSpecificConfig, or the muxer refuses the packets.
ADTS_FORMATS = frozenset({"mpegts", "aac", "flv", "mpeg"})
ADTS_TO_ASC: dict[str, Any] = {"bsf:a": "aac_adtstoasc"}


def hls_copy_argv(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    audio_to_aac: bool = False,
    max_duration_s: float | None = None,
    genpts: bool = False,
    adts: bool = False,
) -> list[str]:
    """Stream-copy the first video (and audio) stream into fMP4 HLS; optionally audio → AAC.

    ``adts``: the source's AAC has ADTS headers (MPEG-TS) that a copy must convert."""
    preset = Preset.HLS_COPY_AUDIO_AAC if audio_to_aac else Preset.HLS_COPY
    bsf = ADTS_TO_ASC if adts and not audio_to_aac else {}
    playlist, opts = _hls_output(
        outdir, {**PRESETS[preset], **bsf, **_duration_cap(max_duration_s)}
    )
    return _argv(src, playlist, ["v:0", "a:0?"], opts, genpts=genpts)


def target_size(width: int, height: int, rotation: int = 0) -> tuple[int, int]:
    """Display size kept up to 1080p (long side 1920, short side 1080), even, aspect kept."""
    if rotation % 180:
        width, height = height, width
    long_max, short_max = (
        (MAX_LONG_SIDE, MAX_SHORT_SIDE) if width >= height else (MAX_SHORT_SIDE, MAX_LONG_SIDE)
    )
    scale = min(1.0, long_max / width, short_max / height)
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def hls_reencode_argv(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    *,
    max_duration_s: float | None = None,
    audio_copy: bool = False,
    genpts: bool = False,
) -> list[str]:
    """Re-encode to H.264 high + AAC fMP4 HLS, upright (ffmpeg autorotates), at most 1080p.

    ``audio_copy`` re-encodes the video only (the audio is already AAC and plays)."""
    video = probe.video
    if video is None or not video.width or not video.height:
        raise ValueError("hls_reencode_argv needs a probe with a sized video stream")
    v: str | Filter = "v:0"
    w, h = target_size(video.width, video.height, video.rotation)
    if (w, h) != video.display_size:
        v = Filter("v:0", "scale", (w, h))
    preset = Preset.HLS_H264_AUDIO_COPY if audio_copy else Preset.HLS_H264
    bsf = ADTS_TO_ASC if audio_copy and probe.format in ADTS_FORMATS else {}
    playlist, opts = _hls_output(
        outdir, {**PRESETS[preset], **bsf, **_duration_cap(max_duration_s)}
    )
    return _argv(src, playlist, [v, "a:0?"], opts, genpts=genpts)


def audio_hls_argv(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    max_duration_s: float | None = None,
    genpts: bool = False,
) -> list[str]:
    """Encode the first audio stream to AAC 128k fMP4 HLS (audio-only recordings)."""
    playlist, opts = _hls_output(
        outdir, {**PRESETS[Preset.HLS_AUDIO], **_duration_cap(max_duration_s)}
    )
    return _argv(src, playlist, ["a:0"], opts, genpts=genpts)


def photo_preview_argv(
    src: str | os.PathLike[str], out_jpg: str | os.PathLike[str], probe: ProbeResult
) -> list[str]:
    """One JPEG preview of a photo, at most 1280 px on its long side."""
    video = probe.video
    if video is None or not video.width or not video.height:
        raise ValueError("photo_preview_argv needs a probe with a sized image stream")
    v: str | Filter = "v:0"
    scale = min(1.0, PREVIEW_MAX_SIDE / max(video.width, video.height))
    if scale < 1.0:
        w = max(2, int(video.width * scale) // 2 * 2)
        h = max(2, int(video.height * scale) // 2 * 2)
        v = Filter("v:0", "scale", (w, h))
    return _argv(src, safe_path(out_jpg), [v], dict(PRESETS[Preset.PHOTO_PREVIEW]))
