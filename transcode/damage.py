"""Assess whether a recording is intact, damaged but partly playable, or unplayable."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import av
import av.error

from .limits import MediaLimits, MediaRefused, UnreadableMedia
from .probe import ProbeResult, looks_like_media, probe

logger = logging.getLogger(__name__)

Status = Literal["ok", "damaged", "unplayable"]

# A recording shorter than declared by more than this is called truncated.
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_TOLERANCE_RATIO = 0.02


class Finding(StrEnum):
    """Why an assessment came out as it did (stable codes for the API and the UI)."""

    OK = "ok"
    TRUNCATED = "truncated"
    READ_ERROR = "read_error"
    INDEX_MISSING = "index_missing"
    EMPTY = "empty"
    NOT_MEDIA = "not_media"
    UNREADABLE = "unreadable"
    UNDECODABLE = "undecodable"
    REFUSED = "refused"


_REASONS: dict[Finding, tuple[str, str]] = {
    Finding.OK: ("The recording is intact.", "录像完整。"),
    Finding.TRUNCATED: (
        "The recording is cut off: {playable:.1f} s of the declared {declared:.1f} s can be "
        "played ({percent:.0f} %). The camera probably lost power while recording.",
        "录像被截断：声明时长 {declared:.1f} 秒，可播放 {playable:.1f} 秒（{percent:.0f}%）。"
        "可能是摄像设备在录制时断电。",
    ),
    Finding.READ_ERROR: (
        "The recording has unreadable data after {playable:.1f} s; the part before it can be "
        "played.",
        "录像在 {playable:.1f} 秒之后存在无法读取的数据；此前部分可以播放。",
    ),
    Finding.INDEX_MISSING: (
        "The recording's index (the MP4 'moov' box) is missing, probably because the file was "
        "cut off when the camera lost power. Without it nothing can be played; the original is "
        "kept unchanged.",
        "录像索引（MP4 的 moov 结构）缺失，可能是摄像设备断电导致文件不完整。"
        "没有索引无法播放；原始文件已原样保存。",
    ),
    Finding.EMPTY: (
        "The file is empty (0 bytes); nothing was recorded.",
        "文件为空（0 字节），没有录制内容。",
    ),
    Finding.NOT_MEDIA: (
        "The file is not an audio, video or image file; it is stored as a document.",
        "该文件不是音频、视频或图片文件，已作为文档保存。",
    ),
    Finding.UNREADABLE: (
        "The file looks like a recording but cannot be read: {detail}.",
        "该文件看似录像，但无法读取：{detail}。",
    ),
    Finding.UNDECODABLE: (
        "The file opens but not a single frame or sound can be decoded.",
        "文件可以打开，但没有任何画面或声音可以解码。",
    ),
    Finding.REFUSED: (
        "The file was not processed because it exceeds the configured limits: {detail}.",
        "文件超出系统设定的限制，未做处理：{detail}。",
    ),
}

_STATUS: dict[Finding, Status] = {
    Finding.OK: "ok",
    Finding.TRUNCATED: "damaged",
    Finding.READ_ERROR: "damaged",
}


@dataclass(frozen=True)
class Assessment:
    """The verdict on one file, with the reason in plain words (English and zh-CN)."""

    status: Status
    finding: Finding
    reason: str
    reason_zh: str
    playable_duration_s: float | None
    declared_duration_s: float | None
    probe: ProbeResult | None = None

    @property
    def recovered_fraction(self) -> float | None:
        """Share of the declared duration that can be played."""
        if not self.declared_duration_s or self.playable_duration_s is None:
            return None
        return min(1.0, self.playable_duration_s / self.declared_duration_s)


def _make(
    finding: Finding,
    *,
    playable: float | None = None,
    declared: float | None = None,
    detail: str = "",
    result: ProbeResult | None = None,
) -> Assessment:
    en, zh = _REASONS[finding]
    values = {
        "playable": playable or 0.0,
        "declared": declared or 0.0,
        "percent": 100.0 * (playable or 0.0) / declared if declared else 0.0,
        "detail": detail,
    }
    return Assessment(
        status=_STATUS.get(finding, "unplayable"),
        finding=finding,
        reason=en.format(**values),
        reason_zh=zh.format(**values),
        playable_duration_s=None if playable is None else round(playable, 3),
        declared_duration_s=None if declared is None else round(declared, 3),
        probe=result,
    )


def _unreadable(path: str, exc: UnreadableMedia) -> Assessment:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        head = b""
    if not head:
        return _make(Finding.EMPTY)
    if not looks_like_media(head):
        return _make(Finding.NOT_MEDIA)
    if "moov" in exc.reason or (len(head) >= 8 and head[4:8] == b"ftyp"):
        return _make(Finding.INDEX_MISSING)
    return _make(Finding.UNREADABLE, detail=exc.reason)


def _measure(path: str, result: ProbeResult, limits: MediaLimits) -> tuple[float, bool, bool]:
    """Demux (no decoding) the main stream: (playable seconds, read error?, decodes at all?)."""
    index = (result.video or result.audio).index  # type: ignore[union-attr]
    end = safe_end = whole_end = 0.0
    start: float | None = None
    error = False
    decodes = False
    cut = False  # a sample of the main stream reached past the end of the file
    positions = False
    file_size = os.path.getsize(path)
    with av.open(path, metadata_errors="replace") as c:
        stream = c.streams[index]
        tb = stream.time_base
        try:
            for packet in c.demux(stream):
                if packet.pts is None or tb is None:
                    continue
                t = float(packet.pts * tb)
                if start is None:
                    start = t
                if not decodes:
                    try:
                        decodes = bool(packet.decode()) or decodes
                    except av.error.FFmpegError:
                        pass
                # The packet at the cut is usually partial: count only those before it.
                safe_end, end = end, max(end, t + float((packet.duration or 0) * tb) - start)
                if packet.pos is not None and packet.pos >= 0:
                    positions = True
                    if packet.pos + packet.size >= file_size:
                        cut = True
                if not cut:
                    whole_end = end
                if end > limits.max_duration_s:
                    raise MediaRefused(
                        f"the stream runs past {limits.max_duration_s:.0f} s without ending"
                    )
        except (av.error.FFmpegError, OSError) as exc:
            logger.info("reading %s stopped at %.2f s: %s", path, end, exc)
            error = True
        if not decodes:
            # Decoders with delay emit the first frame only after a few packets.
            try:
                c.seek(0)
                decodes = next(iter(c.decode(stream)), None) is not None
            except (av.error.FFmpegError, OSError, StopIteration):
                decodes = False
    declared = result.duration_s
    truncated = bool(declared and declared - end > _tolerance(declared))
    if error or truncated:
        # Only whole samples inside the file count (salvage keeps exactly those).
        return (whole_end if positions else safe_end), error, decodes
    return end, error, decodes


def _tolerance(declared: float) -> float:
    return max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_RATIO * declared)


def assess(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> Assessment:
    """Probe and read through a file without decoding it all; never raises for bad media."""
    limits = limits or MediaLimits()
    path = os.fspath(path)
    try:
        result = probe(path, limits)
    except MediaRefused as exc:
        return _make(Finding.REFUSED, detail=exc.reason)
    except UnreadableMedia as exc:
        return _unreadable(path, exc)
    declared = result.duration_s
    if result.video is None and result.audio is None:
        return _make(Finding.NOT_MEDIA, result=result)
    try:
        playable, error, decodes = _measure(path, result, limits)
    except MediaRefused as exc:
        return _make(Finding.REFUSED, detail=exc.reason, declared=declared, result=result)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return _make(Finding.UNREADABLE, detail=str(exc), declared=declared, result=result)
    if not decodes:
        return _make(Finding.UNDECODABLE, declared=declared, result=result)
    single_image = (result.video is not None) and not declared
    if single_image:
        return _make(Finding.OK, playable=playable, declared=declared, result=result)
    if declared:
        shortfall = declared - playable
        if shortfall > _tolerance(declared):
            return _make(Finding.TRUNCATED, playable=playable, declared=declared, result=result)
    if error:
        return _make(Finding.READ_ERROR, playable=playable, declared=declared, result=result)
    return _make(Finding.OK, playable=playable, declared=declared, result=result)
