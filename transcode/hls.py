"""Package a recording as fMP4 HLS: stream copy when browsers can play it, else re-encode."""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import av
import av.error

from ._hash import sha256_file
from ._run import Progress, run_ffmpeg
from ._tools import ffmpeg_exe, ffmpeg_version, pyav_version
from .limits import TranscodeError, TranscodeTimeout
from .presets import (
    ADTS_FORMATS,
    INIT_NAME,
    PLAYLIST_NAME,
    HlsMode,
    Preset,
    audio_hls_argv,
    hls_copy_argv,
    hls_reencode_argv,
    safe_path,
)
from .probe import ProbeResult
from .remux import pyav_copy, pyav_copy_options, sample_inside  # noqa: F401 (re-exported)
from .selfcheck import CheckReport, Expectation, check_rendition, parse_media_playlist

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
    step: str = "copy"
    attempts: tuple[Any, ...] = ()
    check: Any = None


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


def _parameters(argv: list[str], src: str, outdir: str) -> dict[str, Any]:
    # Paths are replaced so the recorded parameters do not depend on where the job ran.
    shown = ["ffmpeg"]
    for arg in argv[1:]:
        shown.append(arg.replace(outdir.replace("%", "%%"), "{out}").replace(outdir, "{out}"))
    shown = ["{src}" if a == src else a for a in shown]
    return {"argv": shown}


class Step(StrEnum):
    """The fallback chain: each step is tried only when the one before failed its self-check."""

    COPY = "copy"
    COPY_GENPTS = "copy-genpts"
    REENCODE_VIDEO = "reencode-video"
    REENCODE_AUDIO = "reencode-audio"
    REENCODE = "reencode"
    AUDIO = "audio"
    AUDIO_GENPTS = "audio-genpts"


# Problems that generated timestamps cannot cure: go straight to a re-encode.
_NOT_TIMESTAMPS = frozenset({"rotation_lost", "segment_too_long"})


@dataclass(frozen=True)
class Attempt:
    """One step of the chain as it went: what ran, and what the self-check said."""

    step: Step
    preset: Preset
    tool: str
    passed: bool
    problems: tuple[str, ...] = ()
    error: str | None = None
    package_s: float = 0.0
    check_s: float = 0.0

    def record(self) -> dict[str, Any]:
        """The attempt as it goes into the derivation (no timings: they vary run to run)."""
        return {
            "step": str(self.step),
            "preset": str(self.preset),
            "tool": self.tool,
            "passed": self.passed,
            "problems": list(self.problems),
            "error": self.error,
        }


class RenditionUnplayable(TranscodeError):
    """No step of the fallback chain produced a rendition that passed the self-check."""

    def __init__(self, reason: str, attempts: tuple[Attempt, ...]) -> None:
        super().__init__(reason)
        self.attempts = attempts


def _preset_of(step: Step, probe: ProbeResult) -> Preset:
    audio = probe.audio
    aac = audio is None or audio.codec in COPYABLE_AUDIO
    if step in (Step.COPY, Step.COPY_GENPTS):
        return Preset.HLS_COPY if aac else Preset.HLS_COPY_AUDIO_AAC
    if step is Step.REENCODE_AUDIO:
        return Preset.HLS_COPY_AUDIO_AAC
    if step is Step.REENCODE_VIDEO:
        return Preset.HLS_H264_AUDIO_COPY if aac and audio is not None else Preset.HLS_H264
    if step in (Step.AUDIO, Step.AUDIO_GENPTS):
        return Preset.HLS_AUDIO
    return Preset.HLS_H264


def step_argv(
    step: Step,
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    max_duration_s: float | None = None,
) -> list[str]:
    """Argv of one step of the chain (pure)."""
    preset = _preset_of(step, probe)
    genpts = step in (Step.COPY_GENPTS, Step.REENCODE_AUDIO, Step.AUDIO_GENPTS)
    if step in (Step.COPY, Step.COPY_GENPTS, Step.REENCODE_AUDIO):
        return hls_copy_argv(
            src,
            outdir,
            audio_to_aac=preset is Preset.HLS_COPY_AUDIO_AAC,
            max_duration_s=max_duration_s,
            genpts=genpts,
            adts=probe.format in ADTS_FORMATS,
        )
    if step in (Step.AUDIO, Step.AUDIO_GENPTS):
        return audio_hls_argv(src, outdir, max_duration_s=max_duration_s, genpts=genpts)
    return hls_reencode_argv(
        src,
        outdir,
        probe,
        max_duration_s=max_duration_s,
        audio_copy=preset is Preset.HLS_H264_AUDIO_COPY,
    )


def first_steps(probe: ProbeResult) -> list[Step]:
    """Where the chain starts: copy for browser-playable H.264, else a re-encode."""
    preset = choose_preset(probe)
    if preset is Preset.HLS_AUDIO:
        return [Step.AUDIO]
    if preset is Preset.HLS_H264:
        return [Step.REENCODE]
    return [Step.COPY]


def next_step(tried: list[Step], report: CheckReport | None) -> Step | None:
    """The step after a failure, from which streams the self-check found at fault."""
    last = tried[-1]
    if last in (Step.REENCODE, Step.AUDIO_GENPTS):
        return None
    if last is Step.AUDIO:
        return Step.AUDIO_GENPTS
    codes = set(report.codes) if report is not None else set()
    if last is Step.COPY and (not codes or not codes <= _NOT_TIMESTAMPS):
        return Step.COPY_GENPTS
    if last in (Step.COPY, Step.COPY_GENPTS):
        streams = report.streams() if report is not None else {"video"}
        if streams == {"audio"}:
            return Step.REENCODE_AUDIO
        if "audio" not in streams:
            return Step.REENCODE_VIDEO
    return Step.REENCODE


def expectation(
    probe: ProbeResult, duration_s: float | None, *, salvaged: bool, rotation: int | None
) -> Expectation:
    """What a rendition of this source must hold (duration capped, or the salvaged part)."""
    video, audio = probe.video, probe.audio
    frames = None
    if video is not None and not salvaged and not video.variable_frame_rate and video.frames:
        declared = probe.duration_s or 0.0
        frames = video.frames if not duration_s or duration_s >= declared - 0.01 else None
    audio_duration = None
    if audio is not None and audio.duration_s and not salvaged:
        audio_duration = min(audio.duration_s, duration_s) if duration_s else audio.duration_s
    return Expectation(
        duration_s=duration_s,
        video=video is not None,
        audio=audio is not None,
        video_frames=frames,
        frame_rate=None if video is None or video.variable_frame_rate else video.avg_frame_rate,
        audio_duration_s=audio_duration,
        rotation=rotation,
    )


_COPY_STEPS = frozenset({Step.COPY, Step.COPY_GENPTS, Step.REENCODE_AUDIO})


def package_hls(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    probe: ProbeResult,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
    max_duration_s: float | None = None,
    salvage: bool = False,
    expected_duration_s: float | None = None,
    steps: list[Step] | None = None,
) -> HlsRendition:
    """Write ``outdir/index.m3u8``, ``init.mp4`` and ``seg-NNNNN.m4s`` atomically, proven
    playable by the self-check; walk the fallback chain until a step passes.

    The work happens in a sibling temp dir renamed into place at the end, so a killed job
    leaves no half rendition. ``salvage`` keeps only whole samples inside a truncated file and
    accepts an ffmpeg error once segments were written. ``steps`` names the only steps to try.
    Raises RenditionUnplayable (with every attempt) when no step passes.
    """
    src_path = safe_path(src)
    final = safe_path(outdir)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    work = os.path.join(parent, f".{os.path.basename(final)}.partial-{uuid.uuid4().hex}")
    if expected_duration_s is None:
        declared = probe.duration_s
        expected_duration_s = (
            min(declared, max_duration_s) if declared and max_duration_s else declared
        )
    video = probe.video
    # One time limit for the whole chain; progress never goes back when a step is retried.
    deadline = None if timeout is None else time.monotonic() + timeout
    progress = _monotonic(progress)
    pending = list(steps) if steps is not None else first_steps(probe)
    tried: list[Step] = []
    attempts: list[Attempt] = []
    passed: tuple[Step, list[str], CheckReport] | None = None
    try:
        while pending:
            step = pending.pop(0)
            tried.append(step)
            preset = _preset_of(step, probe)
            t0 = time.perf_counter()
            report: CheckReport | None = None
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TranscodeTimeout(f"packaging did not finish within {timeout:g} s")
            try:
                argv = _run_step(
                    step, src_path, work, probe, progress, left, max_duration_s, salvage
                )
            except TranscodeTimeout:
                raise
            except (TranscodeError, ValueError, av.error.FFmpegError) as exc:
                reason = getattr(exc, "reason", None) or str(exc)
                attempts.append(
                    Attempt(
                        step,
                        preset,
                        _tool_of(step, probe),
                        False,
                        error=reason,
                        package_s=time.perf_counter() - t0,
                    )  # fmt: skip
                )
                logger.info("%s of %s failed: %s", step, src_path, reason)
            else:
                t1 = time.perf_counter()
                _normalise_playlist(work)
                # Only a rotated source can lose (copy) or keep (re-encode) its rotation.
                rotation = None
                if video is not None and video.rotation:
                    rotation = video.rotation if step in _COPY_STEPS else 0
                report = check_rendition(
                    work,
                    expectation(probe, expected_duration_s, salvaged=salvage, rotation=rotation),
                )
                attempts.append(
                    Attempt(
                        step,
                        preset,
                        "pyav" if argv[0] == "pyav-remux" else "ffmpeg",
                        report.passed,
                        problems=tuple(f"{p.code}: {p.detail}" for p in report.problems),
                        package_s=t1 - t0,
                        check_s=report.elapsed_s,
                    )
                )
                if report.passed:
                    passed = (step, argv, report)
                    break
                logger.warning("self-check of %s (%s) failed: %s", src_path, step, report.summary())
            if not pending and steps is None:
                nxt = next_step(tried, report)
                if nxt is not None and nxt not in tried:
                    pending.append(nxt)
        if passed is None:
            raise RenditionUnplayable(
                "no rendition passed the playback self-check: "
                + " | ".join(f"{a.step}: {a.error or '; '.join(a.problems[:2])}" for a in attempts),
                tuple(attempts),
            )
        step, argv, report = passed
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
    preset = _preset_of(step, probe)
    mode = HlsMode.COPY if step in _COPY_STEPS else HlsMode.REENCODE
    return HlsRendition(
        directory=final,
        playlist=os.path.join(final, PLAYLIST_NAME),
        init_segment=os.path.join(final, INIT_NAME),
        segments=segments,
        mode=mode,
        preset=preset,
        tool="pyav" if in_process else "ffmpeg",
        tool_version=pyav_version() if in_process else ffmpeg_version(),
        parameters={
            "preset": str(preset),
            "step": str(step),
            **_parameters(argv, src_path, work),
            "attempts": [a.record() for a in attempts],
            "selfcheck": {
                "passed": True,
                "segments": report.segments,
                "duration_s": report.playlist_duration_s,
                "video_frames": report.video_frames,
                "full_decode": report.full_decode,
            },
        },
        recovered_duration_s=round(sum(s.duration_s for s in segments), 6),
        step=str(step),
        attempts=tuple(attempts),
        check=report,
    )


def _monotonic(progress: Progress | None) -> Progress | None:
    if progress is None:
        return None
    best = [0.0]

    def report(fraction: float) -> None:
        if fraction >= best[0]:
            best[0] = fraction
            progress(fraction)

    return report


def _tool_of(step: Step, probe: ProbeResult) -> str:
    if step is Step.COPY and _preset_of(step, probe) is Preset.HLS_COPY and COPY_ENGINE == "pyav":
        return "pyav"
    return "ffmpeg"


def _run_step(
    step: Step,
    src: str,
    work: str,
    probe: ProbeResult,
    progress: Progress | None,
    timeout: float | None,
    max_duration_s: float | None,
    salvage: bool,
) -> list[str]:
    """Run one step into a fresh work dir; a salvage keeps what was written before an error."""
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    if _tool_of(step, probe) == "pyav":
        return pyav_copy(src, work, probe, progress, timeout, max_duration_s, salvage=salvage)
    argv = step_argv(step, src, work, probe, max_duration_s)
    try:
        run_ffmpeg(argv, duration_s=probe.duration_s, progress=progress, timeout=timeout)
    except TranscodeError as exc:
        if type(exc) is not TranscodeError or not (salvage and _has_segments(work)):
            raise
        logger.info("salvaged a partial rendition of %s: %s", src, exc.reason)
    return argv


def _normalise_playlist(work: str) -> None:
    """A clip shorter than half a second gets #EXT-X-TARGETDURATION:0 from the muxer; the
    spec wants the rounded longest segment at most the target, and at least 1."""
    path = os.path.join(work, PLAYLIST_NAME)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return
    target, entries = parse_media_playlist(text)
    if not entries or target is None or target >= 1:
        return
    longest = max(d for _, d in entries)
    if longest <= 0:
        return  # zero-length segments stay visible to the self-check
    fixed = max(1, math.ceil(longest - 1e-6))
    text = text.replace(f"#EXT-X-TARGETDURATION:{target}\n", f"#EXT-X-TARGETDURATION:{fixed}\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


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
