"""Package a recording as fMP4 HLS: stream copy when browsers can play it, else re-encode."""

from __future__ import annotations

import io
import logging
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import av
import av.error

from ._hash import sha256_file
from ._run import Progress, run_ffmpeg
from ._tools import ffmpeg_exe, ffmpeg_version, pyav_version
from .limits import TranscodeError, TranscodeTimeout
from .presets import (
    HLS_MUXER,
    INIT_NAME,
    PLAYLIST_NAME,
    SEGMENT_PATTERN,
    HlsMode,
    Preset,
    audio_hls_argv,
    hls_copy_argv,
    hls_reencode_argv,
    safe_path,
)
from .probe import ProbeResult

logger = logging.getLogger(__name__)

# What a browser's MSE H.264 decoder accepts: 8-bit 4:2:0 in the common profiles.
COPYABLE_VIDEO = frozenset({"h264"})
COPYABLE_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
COPYABLE_PROFILES = frozenset(
    {None, "Baseline", "Constrained Baseline", "Main", "Extended", "High"}
)
COPYABLE_AUDIO = frozenset({"aac"})
HASH_THREADS = 2
# bench/media.py (10 min 1080p, 1 GB, 2 cores): package_hls with the in-process PyAV copy ran at
# 0.97x the speed of a bare `ffmpeg -c copy -f hls`; a bare PyAV remux and the ffmpeg binary are
# within disk-write noise of each other (0.8x-1.8x across runs). PyAV is kept for plain copies
# because a read error at a truncated tail simply ends the rendition and no process is spawned;
# set "ffmpeg" to use the binary (tested too). Audio re-encodes and all video re-encodes use
# the ffmpeg binary.
COPY_ENGINE = "pyav"


@dataclass(frozen=True)
class HlsSegment:
    """One media segment of the rendition."""

    name: str
    duration_s: float
    size: int
    sha256: str


@dataclass(frozen=True)
class HlsRendition:
    """A finished fMP4 HLS rendition and how it was made."""

    directory: str
    playlist: str
    init_segment: str
    segments: tuple[HlsSegment, ...]
    mode: HlsMode
    preset: Preset
    tool: str
    tool_version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    recovered_duration_s: float = 0.0


def choose_preset(probe: ProbeResult) -> Preset:
    """Stream copy for browser-playable H.264 (+AAC or no audio); re-encode anything else."""
    video, audio = probe.video, probe.audio
    if video is None:
        if audio is None:
            raise ValueError("nothing to package: no audio or video stream")
        return Preset.HLS_AUDIO
    copyable = (
        video.codec in COPYABLE_VIDEO
        and (video.pix_fmt in COPYABLE_PIX_FMTS or video.pix_fmt is None)
        and video.profile in COPYABLE_PROFILES
    )
    if not copyable:
        return Preset.HLS_H264
    if audio is None or audio.codec in COPYABLE_AUDIO:
        return Preset.HLS_COPY
    return Preset.HLS_COPY_AUDIO_AAC


def build_argv(
    preset: Preset,
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    max_duration_s: float | None = None,
) -> list[str]:
    """Argv for a preset (pure)."""
    if preset is Preset.HLS_COPY:
        return hls_copy_argv(src, outdir, max_duration_s=max_duration_s)
    if preset is Preset.HLS_COPY_AUDIO_AAC:
        return hls_copy_argv(src, outdir, audio_to_aac=True, max_duration_s=max_duration_s)
    if preset is Preset.HLS_H264:
        return hls_reencode_argv(src, outdir, probe, max_duration_s=max_duration_s)
    if preset is Preset.HLS_AUDIO:
        return audio_hls_argv(src, outdir, max_duration_s=max_duration_s)
    raise ValueError(f"{preset} is not an HLS preset")


def parse_playlist(text: str) -> list[tuple[str, float]]:
    """(segment name, duration) pairs of a VOD media playlist."""
    out: list[tuple[str, float]] = []
    duration: float | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} has no #EXTINF")
            out.append((line, duration))
            duration = None
    return out


def output_rotation(directory: str, first_segment: str) -> int | None:
    """Rotation a player will see: decode the first frame of init + first segment."""
    with open(os.path.join(directory, INIT_NAME), "rb") as fh:
        data = fh.read()
    with open(os.path.join(directory, first_segment), "rb") as fh:
        data += fh.read()
    try:
        with av.open(io.BytesIO(data)) as c:
            if not c.streams.video:
                return None
            for frame in c.decode(video=0):
                return int(round(frame.rotation)) % 360
    except av.error.FFmpegError as exc:
        logger.warning("could not check rotation of %s: %s", directory, exc)
    return None


def _parameters(argv: list[str], src: str, outdir: str) -> dict[str, Any]:
    # Paths are replaced so the recorded parameters do not depend on where the job ran.
    shown = ["ffmpeg"]
    for arg in argv[1:]:
        shown.append(arg.replace(outdir.replace("%", "%%"), "{out}").replace(outdir, "{out}"))
    shown = ["{src}" if a == src else a for a in shown]
    return {"argv": shown}


def _run_into(
    preset: Preset,
    src: str,
    workdir: str,
    probe: ProbeResult,
    progress: Progress | None,
    timeout: float | None,
    max_duration_s: float | None,
) -> list[str]:
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    if preset is Preset.HLS_COPY and COPY_ENGINE == "pyav":
        return pyav_copy(src, workdir, probe, progress, timeout, max_duration_s)
    argv = build_argv(preset, src, workdir, probe, max_duration_s)
    run_ffmpeg(argv, duration_s=probe.duration_s, progress=progress, timeout=timeout)
    return argv


def pyav_copy_options(workdir: str) -> dict[str, str]:
    """Muxer options of the in-process copy: the same HLS settings as the ffmpeg preset."""
    opts = {k: str(v) for k, v in HLS_MUXER.items() if k != "f"}
    opts["hls_segment_filename"] = os.path.join(workdir.replace("%", "%%"), SEGMENT_PATTERN)
    opts["fflags"] = "+bitexact"
    return opts


def pyav_copy(
    src: str,
    workdir: str,
    probe: ProbeResult,
    progress: Progress | None,
    timeout: float | None,
    max_duration_s: float | None,
) -> list[str]:
    """Stream-copy in process: demux, skip packets without dts, mux into the hls muxer.

    A read error part-way (a truncated source) ends the rendition there instead of failing.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    duration = probe.duration_s or 0.0
    last = -1.0
    playlist = os.path.join(workdir, PLAYLIST_NAME)
    with av.open(src, metadata_errors="replace") as inp:
        streams = [inp.streams.video[0], *inp.streams.audio[:1]]
        with av.open(playlist, "w", format="hls", options=pyav_copy_options(workdir)) as out:
            mapping = {}
            for s in streams:
                o = out.add_stream_from_template(s)
                o.metadata.clear()
                mapping[s.index] = o
            start = inp.start_time / 1_000_000 if inp.start_time else 0.0
            try:
                for packet in inp.demux(streams):
                    if packet.dts is None:
                        continue
                    t = float(packet.dts * packet.time_base) - start
                    if max_duration_s is not None and t >= max_duration_s:
                        continue
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TranscodeTimeout(f"stream copy did not finish within {timeout:g} s")
                    if progress is not None and duration and t - last >= 1.0:
                        last = t
                        progress(min(1.0, max(0.0, t / duration)))
            except av.error.FFmpegError as exc:
                logger.info("stream copy of %s stopped early: %s", src, exc)
    if progress is not None:
        progress(1.0)
    return ["pyav-remux", "{src}", *(f"-{k}={v}" for k, v in sorted(HLS_MUXER.items()))]


def package_hls(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
    max_duration_s: float | None = None,
    salvage: bool = False,
) -> HlsRendition:
    """Write ``outdir/index.m3u8``, ``init.mp4`` and ``seg-NNNNN.m4s`` atomically.

    The work happens in a sibling temp dir renamed into place at the end, so a killed job
    leaves no half rendition. ``salvage`` accepts an ffmpeg error if segments were written
    (a truncated source whose prefix is still playable).
    """
    src_path = safe_path(src)
    final = safe_path(outdir)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    work = os.path.join(parent, f".{os.path.basename(final)}.partial-{uuid.uuid4().hex}")
    try:
        preset = choose_preset(probe)
        argv = _attempt(preset, src_path, work, probe, progress, timeout, max_duration_s, salvage)
        if preset is not Preset.HLS_H264 and argv is None:
            # Copy failed outright (odd bitstream): fall back to a re-encode.
            preset = Preset.HLS_H264
        if argv is None:
            argv = _attempt(
                preset, src_path, work, probe, progress, timeout, max_duration_s, salvage, True
            )
        entries = _entries(work)
        video = probe.video
        if (
            preset in (Preset.HLS_COPY, Preset.HLS_COPY_AUDIO_AAC)
            and video is not None
            and video.rotation
            and output_rotation(work, entries[0][0]) != video.rotation
        ):
            logger.info("stream copy lost the rotation of %s; re-encoding upright", src_path)
            preset = Preset.HLS_H264
            argv = _attempt(
                preset, src_path, work, probe, progress, timeout, max_duration_s, salvage, True
            )
            entries = _entries(work)

        names = [name for name, _ in entries]
        with ThreadPoolExecutor(HASH_THREADS) as pool:
            digests = list(pool.map(lambda n: sha256_file(os.path.join(work, n)), names))
        segments = tuple(
            HlsSegment(name=name, duration_s=dur, size=size, sha256=digest)
            for (name, dur), (digest, size) in zip(entries, digests, strict=True)
        )
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(work, final)
    finally:
        if os.path.exists(work):
            shutil.rmtree(work, ignore_errors=True)
    in_process = argv[0] == "pyav-remux"
    mode = HlsMode.REENCODE if preset in (Preset.HLS_H264, Preset.HLS_AUDIO) else HlsMode.COPY
    return HlsRendition(
        directory=final,
        playlist=os.path.join(final, PLAYLIST_NAME),
        init_segment=os.path.join(final, INIT_NAME),
        segments=segments,
        mode=mode,
        preset=preset,
        tool="pyav" if in_process else "ffmpeg",
        tool_version=pyav_version() if in_process else ffmpeg_version(),
        parameters={"preset": str(preset), **_parameters(argv, src_path, work)},
        recovered_duration_s=round(sum(s.duration_s for s in segments), 6),
    )


def _attempt(
    preset: Preset,
    src: str,
    work: str,
    probe: ProbeResult,
    progress: Progress | None,
    timeout: float | None,
    max_duration_s: float | None,
    salvage: bool,
    last_chance: bool = False,
) -> list[str] | None:
    """One ffmpeg run; None when a copy failed and a re-encode is worth trying."""
    try:
        return _run_into(preset, src, work, probe, progress, timeout, max_duration_s)
    except TranscodeError as exc:
        if type(exc) is not TranscodeError:  # timeouts are final
            raise
        if salvage and _has_segments(work):
            logger.info("salvaged a partial rendition of %s: %s", src, exc.reason)
            return build_argv(preset, src, work, probe, max_duration_s)
        if last_chance or preset in (Preset.HLS_H264, Preset.HLS_AUDIO):
            raise
        logger.warning("stream copy of %s failed (%s); trying a re-encode", src, exc.reason)
        return None


def _has_segments(work: str) -> bool:
    try:
        return bool(_entries(work))
    except (OSError, ValueError, TranscodeError):
        return False


def _entries(work: str) -> list[tuple[str, float]]:
    playlist = os.path.join(work, PLAYLIST_NAME)
    if not os.path.exists(playlist):
        raise TranscodeError("ffmpeg wrote no playlist")
    with open(playlist, encoding="utf-8") as fh:
        entries = parse_playlist(fh.read())
    if not entries:
        raise TranscodeError("ffmpeg wrote a playlist without segments")
    for name, _ in entries:
        if os.sep in name or name.startswith("."):
            raise TranscodeError(f"unexpected segment name {name!r}")
    return entries


def tool_argv0() -> str:
    """The ffmpeg executable used for HLS."""
    return ffmpeg_exe()
