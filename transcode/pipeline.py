"""One recording end to end: assess, package HLS or preview, trickplay, waveform, hash all."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from integrity.manifest import DerivedFile

from ._hash import sha256_file
from ._run import Progress, run_ffmpeg
from ._tools import ffmpeg_version
from .damage import Assessment, Finding, assess
from .hls import HlsRendition, RenditionUnplayable, package_hls
from .kinds import Kind, kind_from_name, kind_from_probe
from .limits import MediaLimits, TranscodeError, TranscodeTimeout
from .photo import PhotoInfo, make_photo_outputs
from .presets import Preset, photo_preview_argv
from .renditions import GPS_TRACK, HLS_DIR, PREVIEW, SUBTITLES, THUMBNAIL, TRICKPLAY_DIR, WAVEFORM
from .selfcheck import describe
from .subtitles import TextTrack, extract_text_track
from .trickplay import Trickplay, make_trickplay
from .waveform import Waveform, make_waveform

logger = logging.getLogger(__name__)

FinalStatus = Literal["ready", "damaged", "unplayable", "stored"]


@dataclass(frozen=True)
class MediaResult:
    """Everything the worker learned and made for one source file."""

    source: str
    status: FinalStatus
    kind: Kind
    reason: str
    reason_zh: str
    assessment: Assessment
    outputs: tuple[DerivedFile, ...] = ()  # as the item's manifest names them
    hls: HlsRendition | None = None
    trickplay: Trickplay | None = None
    waveform: Waveform | None = None
    preview: str | None = None
    problems: tuple[str, ...] = ()
    attempts: tuple[dict[str, Any], ...] = ()
    selfcheck_s: float = 0.0
    photo: PhotoInfo | None = None
    text_track: TextTrack | None = None


def _salvage_limit(assessment: Assessment, limits: MediaLimits) -> float:
    """Stop just before the cut so the partial packet there is not packaged."""
    playable = assessment.playable_duration_s or 0.0
    return max(0.001, min(limits.max_duration_s, playable - 0.001))


def _stage(progress: Progress | None, lo: float, hi: float) -> Callable[[float], None] | None:
    if progress is None:
        return None
    return lambda f: progress(lo + (hi - lo) * f)


@dataclass(frozen=True)
class _Made:
    """Where the derived files go and what they are derived from."""

    outdir: str
    source_sha256: str

    def file(self, path: str, role: str, tool: str, version: str, params: Any) -> DerivedFile:
        digest, size = sha256_file(path)
        name = os.path.relpath(path, self.outdir).replace(os.sep, "/")
        return DerivedFile(name, digest, size, role, self.source_sha256, tool, version, params)


def _hls_outputs(made: _Made, hls: HlsRendition) -> list[DerivedFile]:
    common = (hls.tool, hls.tool_version, hls.parameters)
    out = [
        made.file(hls.playlist, "hls_playlist", *common),
        made.file(hls.init_segment, "hls_init", *common),
    ]
    rel = os.path.relpath(hls.directory, made.outdir).replace(os.sep, "/")
    # The chain's attempts and the check's verdict are told once, on the playlist and init;
    # repeating them on thousands of segments would only swell the manifest.
    seg_params = {k: v for k, v in hls.parameters.items() if k not in ("attempts", "selfcheck")}
    for seg in hls.segments:
        out.append(
            DerivedFile(
                f"{rel}/{seg.name}", seg.sha256, seg.size, "hls_segment", made.source_sha256,
                hls.tool, hls.tool_version, seg_params,
            )
        )  # fmt: skip
    return out


def process(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    limits: MediaLimits | None = None,
    progress: Progress | None = None,
    *,
    timeout: float | None = None,
    source_sha256: str | None = None,
) -> MediaResult:
    """Make every derived file for src under outdir; only TranscodeTimeout escapes.

    ``source_sha256``: the original's hash as catalogued (each output is derived from it);
    computed here when not given."""
    limits = limits or MediaLimits()
    src = os.path.abspath(os.fspath(src))
    outdir = os.path.abspath(os.fspath(outdir))
    assessment = assess(src, limits)
    result = assessment.probe
    base: dict[str, Any] = {
        "source": src,
        "reason": assessment.reason,
        "reason_zh": assessment.reason_zh,
        "assessment": assessment,
    }
    if assessment.finding is Finding.NOT_MEDIA:
        return MediaResult(status="stored", kind="document", **base)
    kind = kind_from_probe(result) if result is not None else kind_from_name(src, "document")
    if assessment.status == "unplayable" or result is None:
        return MediaResult(status="unplayable", kind=kind, **base)

    os.makedirs(outdir, exist_ok=True)
    made = _Made(outdir, source_sha256 or sha256_file(src)[0])
    outputs: list[DerivedFile] = []
    problems: list[str] = []
    if kind == "photo":
        return _photo(src, made, result, limits, base, progress, timeout)

    damaged = assessment.status == "damaged"
    has_video = result.video is not None
    limit = _salvage_limit(assessment, limits) if damaged else limits.max_duration_s
    try:
        hls = package_hls(
            src,
            os.path.join(outdir, HLS_DIR),
            result,
            progress=_stage(progress, 0.0, 0.8 if has_video else 0.9),
            timeout=timeout,
            max_duration_s=limit,
            salvage=damaged,
            expected_duration_s=limit if damaged else None,
        )
    except TranscodeTimeout:
        raise
    except RenditionUnplayable as exc:
        logger.warning("no playable rendition for %s: %s", src, exc)
        return _unplayable(kind, base, exc)
    except (TranscodeError, ValueError) as exc:
        logger.warning("no HLS rendition for %s: %s", src, exc)
        return MediaResult(status="unplayable", kind=kind, problems=(f"hls: {exc}",), **base)
    outputs += _hls_outputs(made, hls)
    attempts = tuple(a.record() for a in hls.attempts)
    check_s = sum(a.check_s for a in hls.attempts)

    trick: Trickplay | None = None
    if has_video:
        try:
            trick = make_trickplay(
                src,
                os.path.join(outdir, TRICKPLAY_DIR),
                result,
                max_duration_s=limits.max_duration_s,
            )
            common = (trick.tool, trick.tool_version, trick.parameters)
            for sheet in trick.sheets:
                outputs.append(made.file(sheet, "sprite", *common))
            outputs.append(made.file(trick.vtt, "vtt", *common))
        except ValueError as exc:
            problems.append(f"trickplay: {exc}")
        if progress:
            progress(0.95)

    wave: Waveform | None = None
    if result.audio is not None:
        try:
            wave = make_waveform(
                src,
                os.path.join(outdir, WAVEFORM),
                result,
                max_duration_s=limits.max_duration_s,
            )
            outputs.append(
                made.file(wave.path, "waveform", wave.tool, wave.tool_version, wave.parameters)
            )
        except ValueError as exc:
            problems.append(f"waveform: {exc}")
    text: TextTrack | None = None
    try:
        text = extract_text_track(
            src,
            os.path.join(outdir, SUBTITLES),
            os.path.join(outdir, GPS_TRACK),
            result,
            max_duration_s=limit,
        )
    except ValueError as exc:
        problems.append(f"subtitles: {exc}")
    if text is not None:
        common = (text.tool, text.tool_version, text.parameters)
        outputs.append(made.file(text.vtt, "subtitles", *common))
        if text.gps:
            outputs.append(made.file(text.gps, "gps_track", *common))
    if progress:
        progress(1.0)

    reason, reason_zh = assessment.reason, assessment.reason_zh
    if damaged:
        reason += f" A rendition of the first {hls.recovered_duration_s:.1f} s was made."
        reason_zh += f"已生成前 {hls.recovered_duration_s:.1f} 秒的可播放版本。"
    return MediaResult(
        source=src,
        status="damaged" if damaged else "ready",
        kind=kind,
        reason=reason,
        reason_zh=reason_zh,
        assessment=assessment,
        outputs=tuple(outputs),
        hls=hls,
        trickplay=trick,
        waveform=wave,
        problems=tuple(problems),
        attempts=attempts,
        selfcheck_s=round(check_s, 6),
        text_track=text,
    )


def _photo(
    src: str,
    to: _Made,
    result: Any,
    limits: MediaLimits,
    base: dict[str, Any],
    progress: Progress | None,
    timeout: float | None,
) -> MediaResult:
    """An upright preview and a scaled thumbnail (EXIF applied); ffmpeg for what Pillow cannot
    read (the preview is then as stored)."""
    preview = os.path.join(to.outdir, PREVIEW)
    thumb = os.path.join(to.outdir, THUMBNAIL)
    outputs: list[DerivedFile] = []
    info: PhotoInfo | None = None
    try:
        made = make_photo_outputs(src, preview, thumb, limits)
        info = made.info
        common = (made.tool, made.tool_version, made.parameters)
        outputs.append(to.file(preview, "preview", *common))
        outputs.append(to.file(thumb, "thumbnail", *common))
    except ValueError as exc:
        logger.info("Pillow cannot read %s (%s); ffmpeg preview", src, exc)
        try:
            run_ffmpeg(photo_preview_argv(src, preview, result), timeout=timeout)
        except TranscodeTimeout:
            raise
        except (TranscodeError, ValueError) as exc2:
            return MediaResult(
                status="unplayable", kind="photo", problems=(f"preview: {exc2}",), **base
            )
        params = {"preset": str(Preset.PHOTO_PREVIEW)}
        outputs.append(to.file(preview, "preview", "ffmpeg", ffmpeg_version(), params))
    if progress:
        progress(1.0)
    return MediaResult(
        status="ready", kind="photo", outputs=tuple(outputs), preview=preview, photo=info, **base
    )


def _unplayable(kind: Kind, base: dict[str, Any], exc: RenditionUnplayable) -> MediaResult:
    """No step of the chain passed: say so in both languages; the original stays as it is."""
    codes: list[str] = []
    errors = False
    for a in exc.attempts:
        codes += [p.split(":", 1)[0] for p in a.problems]
        errors = errors or a.error is not None
    en, zh = describe(codes)
    steps = ", ".join(str(a.step) for a in exc.attempts)
    reason = (
        f"No playable version could be made: every attempt ({steps}) failed the playback "
        f"check ({en}{'; a conversion failed' if errors else ''}). The original is kept unchanged."
    )
    reason_zh = (
        f"无法生成可播放版本：所有尝试（{len(exc.attempts)} 次）均未通过可播放性自检"
        f"（{zh}{'；转换失败' if errors else ''}）。原始文件已原样保存。"
    )
    fields = {**base, "reason": reason, "reason_zh": reason_zh}
    return MediaResult(
        status="unplayable",
        kind=kind,
        problems=(f"hls: {exc.reason}",),
        attempts=tuple(a.record() for a in exc.attempts),
        selfcheck_s=round(sum(a.check_s for a in exc.attempts), 6),
        **fields,
    )
