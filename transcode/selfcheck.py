"""Prove an fMP4 HLS rendition playable before it is called ready: demux and decode it as a player
would, segment by segment (init + segment, as MSE receives them), and compare it with the source.

Checked: playlist (target duration, every EXTINF > 0, durations sum to the expected duration),
every segment opens, starts with a keyframe and its first frames decode, H.264/HEVC samples are
whole (length-prefixed NAL units fill each sample exactly, which is what Chromium's demuxer
verifies before decoding), timestamps present, starting near zero and increasing across
segments, video frame count and audio duration as the source says, rotation as expected.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import struct
import time
from dataclasses import dataclass
from typing import Any

import av
import av.error

from . import fmp4
from .presets import INIT_NAME, PLAYLIST_NAME
from .verdict import (  # noqa: F401  (CheckReport, Expectation, describe re-exported)
    CODE_TEXT,
    CheckReport,
    Collector,
    Expectation,
    Problem,
    StreamKind,
    describe,
)

logger = logging.getLogger(__name__)

# Durations may differ from the source by this much (a frame or an audio packet at each end, a
# damaged tail); larger gaps mean lost or invented time.
DURATION_TOLERANCE_S = 0.5
DURATION_TOLERANCE_RATIO = 0.03
# The first timestamp a player sees must be this close to zero.
START_TOLERANCE_S = 0.5
# Frame counts may differ by this much (rounding at the cut, a dropped trailing frame).
FRAME_TOLERANCE = 2
FRAME_TOLERANCE_RATIO = 0.03
# Renditions up to this size are demuxed and decoded completely; larger ones are checked from
# their fragment boxes (every sample's timing, sync flag and bounds) with the first keyframe of
# every segment decoded, which keeps the check cheap next to a stream copy.
FULL_DECODE_MAX_BYTES = 2 * 1024 * 1024
# A segment longer than this cannot be buffered whole by a browser (one keyframe per file).
MAX_SEGMENT_S = 30.0
# Segments read through one demuxer (init + segments concatenated natively, as MSE appends them).
GROUP_SEGMENTS = 100
READ_BUFFER = 1 << 20
_NAL_CODECS = frozenset({"h264", "hevc"})


def _tolerance(expected: float) -> float:
    return max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_RATIO * expected)


def parse_media_playlist(text: str) -> tuple[int | None, list[tuple[str, float]]]:
    """(target duration, [(segment, duration)]) of a VOD media playlist."""
    target: int | None = None
    entries: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                target = int(line.split(":", 1)[1])
            except ValueError:
                target = None
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line[len("#EXTINF:") :].split(",")[0])
            except ValueError:
                duration = -1.0
        elif line and not line.startswith("#"):
            entries.append((line, duration if duration is not None else -1.0))
            duration = None
    return target, entries


def _nal_length_size(codec: str, extradata: bytes | None) -> int | None:
    """Length-prefix size of NAL units from avcC / hvcC; None for Annex B or unknown."""
    if not extradata:
        return None
    if codec == "h264" and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) >= 23 and extradata[0] == 1:
        return (extradata[21] & 3) + 1
    return None


def sample_is_whole(data: memoryview | bytes, length_size: int) -> bool:
    """True when length-prefixed NAL units fill the sample exactly (none runs past its end)."""
    n = len(data)
    i = 0
    if n == 0:
        return False
    while i < n:
        if i + length_size > n:
            return False
        size = int.from_bytes(data[i : i + length_size], "big")
        i += length_size + size
    return i == n


@dataclass
class _Track:
    first: float | None = None
    end: float | None = None
    last_dts: float | None = None
    packets: int = 0

    def see(self, pts: float, dts: float, dur: float) -> None:
        self.first = pts if self.first is None else min(self.first, pts)
        self.end = pts + dur if self.end is None else max(self.end, pts + dur)
        self.last_dts = dts
        self.packets += 1

    @property
    def duration(self) -> float | None:
        if self.first is None or self.end is None:
            return None
        return self.end - self.first


def _decode(packet: av.Packet, flush: bool) -> list:
    frames = list(packet.decode())
    if not frames and flush:
        # A decoder with reorder delay holds the first frame back until drained.
        frames = list(packet.stream.codec_context.decode(None))
    return frames


def check_rendition(directory: str | os.PathLike[str], expect: Expectation) -> CheckReport:
    """Check the rendition in directory; never raises for a bad rendition, it reports it."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    directory = os.fspath(directory)
    out = Collector()
    video, audio = _Track(), _Track()
    decoded = 0
    full = False
    target: int | None = None
    entries: list[tuple[str, float]] = []
    try:
        with open(os.path.join(directory, PLAYLIST_NAME), encoding="utf-8") as fh:
            target, entries = parse_media_playlist(fh.read())
        with open(os.path.join(directory, INIT_NAME), "rb") as fh:
            init = fh.read()
    except OSError as exc:
        out.add("playlist_missing", "container", f"cannot read the rendition: {exc}")
        init = b""
    total = sum(d for _, d in entries if d > 0)
    if entries and (target is None or target < 1):
        out.add(
            "target_duration_zero",
            "container",
            f"#EXT-X-TARGETDURATION is {target}; players cannot schedule segments",
        )
    elif not entries and init:
        out.add("no_segments", "container", "the playlist lists no segment")
    for name, dur in entries:
        if dur <= 0:
            out.add("segment_zero_duration", "container", f"{name} has #EXTINF {dur:g}")
        elif dur > MAX_SEGMENT_S and expect.video:
            out.add(
                "segment_too_long",
                "video",
                f"{name} lasts {dur:.1f} s (keyframes too far apart to cut it)",
            )
    if expect.duration_s and entries:
        gap = total - expect.duration_s
        if abs(gap) > _tolerance(expect.duration_s):
            out.add(
                "duration_mismatch",
                "container",
                f"segments add up to {total:.3f} s, the source has {expect.duration_s:.3f} s",
            )
    present: list[tuple[str, int]] = []
    for name, _ in entries:
        path = os.path.join(directory, name)
        if os.sep in name or name.startswith(".") or not os.path.isfile(path):
            out.add("segment_missing", "container", f"{name} is not in the rendition")
            continue
        present.append((name, os.path.getsize(path)))
    full = sum(size for _, size in present) <= FULL_DECODE_MAX_BYTES
    frames = 0
    if not full and present:
        try:
            frames, decoded = _check_boxes(directory, present, expect, out, video, audio)
        except (fmp4.BoxError, av.error.FFmpegError, OSError, ValueError, struct.error) as exc:
            out.add("segment_unreadable", "container", f"the fragments cannot be read: {exc}")
        present = []
    for g in range(0, len(present), GROUP_SEGMENTS):
        group = present[g : g + GROUP_SEGMENTS]
        try:
            f, d = _check_group(directory, init, group, g, expect, full, out, video, audio)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            out.add("segment_unreadable", "container", f"{group[0][0]}..{group[-1][0]}: {exc}")
            continue
        frames += f
        decoded += d
    first = min((t for t in (video.first, audio.first) if t is not None), default=None)
    for kind, track in (("video", video), ("audio", audio)):
        if track.first is not None and abs(track.first) > START_TOLERANCE_S:
            out.add(
                "start_not_zero",
                kind,  # type: ignore[arg-type]
                f"the {kind} starts at {track.first:.3f} s instead of near 0",
            )
    if expect.video and entries and video.packets == 0:
        out.add("no_video", "video", "the rendition holds no video samples")
    if expect.audio and entries and audio.packets == 0:
        out.add("no_audio", "audio", "the rendition holds no audio samples")
    _check_totals(expect, out, frames, video, audio)
    problems = tuple(out.problems)
    return CheckReport(
        passed=not problems,
        problems=problems,
        segments=len(entries),
        playlist_duration_s=round(total, 6),
        expected_duration_s=expect.duration_s,
        video_frames=frames,
        video_duration_s=None if video.duration is None else round(video.duration, 6),
        audio_duration_s=None if audio.duration is None else round(audio.duration, 6),
        first_timestamp_s=None if first is None else round(first, 6),
        decoded_frames=decoded,
        full_decode=full,
        elapsed_s=round(time.perf_counter() - t0, 6),
        codes=tuple(sorted(out.counts)),
        cpu_s=round(time.process_time() - c0, 6),
    )


class _ConcatReader:
    """A read-only file over init + segments, for paths the concat protocol cannot name."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.sizes = [os.path.getsize(p) for p in paths]
        self.total = sum(self.sizes)
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.total - self.pos
        out = bytearray()
        offset = 0
        for path, size in zip(self.paths, self.sizes, strict=True):
            if len(out) >= n or self.pos >= self.total:
                break
            if self.pos < offset + size:
                with open(path, "rb") as fh:
                    fh.seek(self.pos - offset)
                    chunk = fh.read(min(n - len(out), offset + size - self.pos))
                out += chunk
                self.pos += len(chunk)
            offset += size
        return bytes(out)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.total}[whence]
        self.pos = max(0, min(self.total, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos


def _open_group(directory: str, names: list[str]) -> av.container.InputContainer:
    paths = [os.path.join(directory, INIT_NAME)] + [os.path.join(directory, n) for n in names]
    if any("|" in p for p in paths):
        return av.open(_ConcatReader(paths), "r", format="mp4", buffer_size=READ_BUFFER)
    # ffmpeg's concat protocol reads the files natively, one after the other.
    return av.open("concat:" + "|".join(paths), "r", format="mp4", buffer_size=READ_BUFFER)


def _check_group(
    directory: str,
    init: bytes,
    group: list[tuple[str, int]],
    first_index: int,
    expect: Expectation,
    full: bool,
    out: Collector,
    video: _Track,
    audio: _Track,
) -> tuple[int, int]:
    """Demux init + a run of segments as one stream; packet positions say which segment a
    sample came from. Returns (video samples, decoded frames)."""
    names = [n for n, _ in group]
    starts: list[int] = []
    offset = len(init)
    for _, size in group:
        starts.append(offset)
        offset += size
    frames = decoded = 0
    with _open_group(directory, names) as c:
        vs = c.streams.video[0] if c.streams.video else None
        au = c.streams.audio[0] if c.streams.audio else None
        streams = [s for s in (vs, au) if s is not None]
        if not streams:
            out.add("segment_empty", "container", f"{names[0]} holds no audio or video stream")
            return 0, 0
        length_size = None
        vtb = float(vs.time_base) if vs is not None and vs.time_base else None
        atb = float(au.time_base) if au is not None and au.time_base else None
        if vs is not None:
            cc = vs.codec_context
            if cc.name in _NAL_CODECS:
                length_size = _nal_length_size(cc.name, bytes(cc.extradata or b""))
                if length_size is None:
                    out.add(
                        "codec_config_missing",
                        "video",
                        f"the {cc.name} stream has no avcC/hvcC configuration",
                    )
            if not cc.width or not cc.height:
                out.add("video_size_unknown", "video", "the video has no frame size")
        seen_video = [False] * len(group)
        seen_audio = [False] * len(group)
        seg_frames = [0] * len(group)
        rotation_pending = first_index == 0
        vdec = 0
        for packet in c.demux(*streams):
            if packet.size == 0:
                continue
            is_video = packet.stream is vs
            kind: StreamKind = "video" if is_video else "audio"
            track = video if is_video else audio
            tb = vtb if is_video else atb
            seg = bisect.bisect_right(starts, packet.pos) - 1 if packet.pos is not None else -1
            seg = max(0, seg)
            name = names[seg]
            if packet.pts is None or packet.dts is None or tb is None:
                out.add("timestamps_missing", kind, f"{name}: a {kind} sample has no timestamp")
                continue
            pts, dts = packet.pts * tb, packet.dts * tb
            dur = (packet.duration or 0) * tb
            if track.last_dts is not None and dts <= track.last_dts:
                out.add(
                    "timestamps_not_increasing",
                    kind,
                    f"{name}: {kind} dts {dts:.3f} s after {track.last_dts:.3f} s",
                )
            track.see(pts, dts, dur)
            if is_video:
                frames += 1
                seg_frames[seg] += 1
                first = not seen_video[seg]
                seen_video[seg] = True
                if first and not packet.is_keyframe:
                    out.add(
                        "segment_starts_without_keyframe",
                        "video",
                        f"{name} (segment {first_index + seg}) does not start with a keyframe",
                    )
                if length_size is not None and not sample_is_whole(memoryview(packet), length_size):
                    out.add(
                        "sample_truncated",
                        "video",
                        f"{name}: a video sample at {pts:.3f} s is cut short or overruns",
                    )
                if not (first or full):
                    continue
                try:
                    if first and not full:
                        # A keyframe decodes on its own: start clean, decode it, drain it out.
                        assert vs is not None  # is_video
                        vs.codec_context.flush_buffers()
                    got = _decode(packet, flush=first and not full)
                except av.error.FFmpegError as exc:
                    out.add("decode_failed", "video", f"{name}: video at {pts:.3f} s: {exc}")
                    got = []
                if first and not got and not full:
                    out.add(
                        "decode_failed", "video", f"{name}: the first video frame does not decode"
                    )
                if got and rotation_pending and expect.rotation is not None:
                    rotation_pending = False
                    seen = int(round(got[0].rotation)) % 360
                    if seen != expect.rotation % 360:
                        out.add(
                            "rotation_lost",
                            "video",
                            f"frames show rotation {seen}, expected {expect.rotation}",
                        )
                decoded += len(got)
                vdec += len(got)
            else:
                first = not seen_audio[seg]
                seen_audio[seg] = True
                if first or full:
                    try:
                        decoded += len(_decode(packet, flush=False))
                    except av.error.FFmpegError as exc:
                        out.add("decode_failed", "audio", f"{name}: audio at {pts:.3f} s: {exc}")
        if full and vs is not None:
            try:
                tail = len(vs.codec_context.decode(None))
            except av.error.FFmpegError:
                tail = 0
            decoded += tail
            vdec += tail
            if frames and vdec < frames - FRAME_TOLERANCE:
                out.add(
                    "decode_failed",
                    "video",
                    f"only {vdec} of {frames} video samples decode to frames",
                )
        if vs is not None:
            for i, n in enumerate(seg_frames):
                if n == 0:
                    out.add("segment_without_video", "video", f"{names[i]} has no video samples")
    return frames, decoded


def _check_boxes(
    directory: str,
    present: list[tuple[str, int]],
    expect: Expectation,
    out: Collector,
    video: _Track,
    audio: _Track,
) -> tuple[int, int]:
    """The long-rendition path: sample tables from the moof boxes (timestamps, sync flags,
    sample bounds), and only the first keyframe of each segment (plus the first audio sample)
    read and decoded. Returns (video samples, decoded frames)."""
    init_path = os.path.join(directory, INIT_NAME)
    tracks = fmp4.read_init(init_path)
    vid = next((t for t in tracks.values() if t.handler == "vide"), None)
    aid = next((t for t in tracks.values() if t.handler == "soun"), None)
    frames = decoded = 0
    with av.open(init_path, format="mp4") as c:
        vcc = c.streams.video[0].codec_context if c.streams.video else None
        acc = c.streams.audio[0].codec_context if c.streams.audio else None
        length_size = None
        if vcc is not None and vcc.name in _NAL_CODECS:
            length_size = _nal_length_size(vcc.name, bytes(vcc.extradata or b""))
            if length_size is None:
                out.add(
                    "codec_config_missing",
                    "video",
                    f"the {vcc.name} stream has no avcC/hvcC configuration",
                )
        for index, (name, size) in enumerate(present):
            path = os.path.join(directory, name)
            seg_video = 0
            with open(path, "rb") as fh:
                for frag in fmp4.read_segment(path, tracks):
                    track_info = tracks.get(frag.track_id)
                    if track_info is None or not track_info.timescale or not frag.count:
                        continue
                    is_video = vid is not None and frag.track_id == vid.track_id
                    if not is_video and (aid is None or frag.track_id != aid.track_id):
                        continue
                    kind: StreamKind = "video" if is_video else "audio"
                    track = video if is_video else audio
                    scale = 1.0 / track_info.timescale
                    first, last = frag.first, frag.last
                    assert first is not None and last is not None
                    dts0 = frag.first_dts * scale
                    if (
                        track.last_dts is not None and dts0 <= track.last_dts
                    ) or frag.zero_durations:
                        out.add(
                            "timestamps_not_increasing",
                            kind,
                            f"{name}: {kind} timestamps do not increase at {dts0:.3f} s",
                        )
                    track.first = (
                        (frag.min_pts or 0) * scale
                        if track.first is None
                        else min(track.first, (frag.min_pts or 0) * scale)
                    )
                    end = (frag.max_end or 0) * scale
                    track.end = end if track.end is None else max(track.end, end)
                    track.last_dts = last.dts * scale
                    track.packets += frag.count
                    if frag.min_pos < 0 or frag.max_byte_end > size or frag.empty_samples:
                        out.add(
                            "sample_truncated",
                            kind,
                            f"{name}: a {kind} sample lies outside the segment",
                        )
                    if is_video:
                        seg_video += frag.count
                        if seg_video == frag.count and not first.sync:
                            out.add(
                                "segment_starts_without_keyframe",
                                "video",
                                f"{name} (segment {index}) does not start with a keyframe",
                            )
                        if vcc is not None and seg_video == frag.count:
                            data = _read_at(fh, first.pos, first.size)
                            decoded += _decode_alone(vcc, data, name, "video", out)
                            if length_size is not None:
                                for smp_data in (data, _read_at(fh, last.pos, last.size)):
                                    if not sample_is_whole(smp_data, length_size):
                                        out.add(
                                            "sample_truncated",
                                            "video",
                                            f"{name}: a video sample is cut short or overruns",
                                        )
                    elif acc is not None:
                        # The first and the last sample: a cut at the end of a file shows there.
                        for smp in (first, last):
                            try:
                                acc.flush_buffers()
                                acc.decode(av.Packet(_read_at(fh, smp.pos, smp.size)))
                            except av.error.FFmpegError as exc:
                                out.add("decode_failed", "audio", f"{name}: audio: {exc}")
            frames += seg_video
            if vid is not None and seg_video == 0:
                out.add("segment_without_video", "video", f"{name} has no video samples")
    if expect.rotation is not None and vid is not None and present:
        _check_first_rotation(directory, present[0][0], expect.rotation, out)
    return frames, decoded


def _read_at(fh: Any, pos: int, size: int) -> bytes:
    fh.seek(pos)
    return fh.read(size)


def _decode_alone(cc: Any, data: bytes, name: str, kind: StreamKind, out: Collector) -> int:
    """Decode one keyframe from a clean decoder state; 0 frames is a failure."""
    try:
        cc.flush_buffers()
        frames = list(cc.decode(av.Packet(data))) or list(cc.decode(None))
    except av.error.FFmpegError as exc:
        out.add("decode_failed", kind, f"{name}: the first {kind} frame: {exc}")
        return 0
    if not frames:
        out.add("decode_failed", kind, f"{name}: the first {kind} frame does not decode")
    return len(frames)


def _check_first_rotation(directory: str, first: str, expected: int, out: Collector) -> None:
    with _open_group(directory, [first]) as c:
        if not c.streams.video:
            return
        for frame in c.decode(c.streams.video[0]):
            seen = int(round(frame.rotation)) % 360
            if seen != expected % 360:
                out.add(
                    "rotation_lost", "video", f"frames show rotation {seen}, expected {expected}"
                )
            return


def _check_totals(
    expect: Expectation, out: Collector, frames: int, video: _Track, audio: _Track
) -> None:
    if expect.video and video.packets:
        wanted = expect.video_frames
        if wanted is None and expect.frame_rate and expect.duration_s:
            wanted = round(expect.duration_s * expect.frame_rate)
        if wanted:
            if abs(frames - wanted) > max(FRAME_TOLERANCE, FRAME_TOLERANCE_RATIO * wanted):
                out.add(
                    "frame_count_mismatch",
                    "video",
                    f"{frames} video frames, the source has {wanted}",
                )
        if expect.duration_s and video.duration is not None:
            if abs(video.duration - expect.duration_s) > _tolerance(expect.duration_s):
                out.add(
                    "video_duration_mismatch",
                    "video",
                    f"video lasts {video.duration:.3f} s, expected {expect.duration_s:.3f} s",
                )
    if expect.audio and audio.packets and audio.duration is not None:
        wanted_a = expect.audio_duration_s or expect.duration_s
        if wanted_a and not math.isclose(audio.duration, wanted_a, abs_tol=_tolerance(wanted_a)):
            out.add(
                "audio_duration_mismatch",
                "audio",
                f"audio lasts {audio.duration:.3f} s, expected {wanted_a:.3f} s",
            )
