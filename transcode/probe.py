"""Probe a file with PyAV: container, streams, rotation, frame rate, metadata; refuse bombs early."""

from __future__ import annotations

import logging
import os
import statistics
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import av.error

from .kinds import Kind, kind_from_probe
from .limits import MediaLimits, MediaRefused, UnreadableMedia

logger = logging.getLogger(__name__)

StreamType = Literal["video", "audio", "other"]

# Packets sampled (demux only, no decoding) to judge frame-rate regularity and keyframe spacing.
SAMPLE_MAX_PACKETS = 600
SAMPLE_MAX_SPAN_S = 30.0
# Relative spread of frame durations above which a stream counts as variable frame rate.
VFR_SPREAD = 0.10

_IMAGE_FORMATS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe"})
_IMAGE_FORMAT_SUFFIX = "_pipe"
# Container tags kept on the item (lower-cased); others are dropped, so nothing surprising
# from a hostile file ends up shown verbatim as "device metadata".
_META_KEYS = {
    "make": "make",
    "com.apple.quicktime.make": "make",
    "model": "model",
    "com.apple.quicktime.model": "model",
    "location": "location",
    "location-eng": "location",
    "com.apple.quicktime.location.iso6709": "location",
    "com.android.capture.fps": "capture_fps",
    "com.apple.quicktime.software": "software",
    "encoder": "encoder",
    "device_id": "device_id",
    "deviceid": "device_id",
    "camera_id": "device_id",
    "serial": "serial",
    "serial_number": "serial",
    "com.apple.quicktime.camera.identifier": "device_id",
    "comment": "comment",
    "title": "title",
}
_META_MAX_LEN = 256


@dataclass(frozen=True)
class StreamInfo:
    """One stream as the container declares it (plus a few cheap measurements)."""

    index: int
    type: StreamType
    codec: str
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    rotation: int = 0
    avg_frame_rate: float | None = None
    real_frame_rate: float | None = None
    variable_frame_rate: bool = False
    keyframe_interval_s: float | None = None
    frames: int | None = None
    channels: int | None = None
    sample_rate: int | None = None
    duration_s: float | None = None
    bit_rate: int | None = None
    media_type: str | None = None  # what libav calls it: video, audio, subtitle, data, attachment

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown, after applying the rotation."""
        if self.width is None or self.height is None:
            return None
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class ProbeResult:
    """What a file is, read from its headers and a short packet sample."""

    path: str
    format: str
    format_long: str
    size: int
    duration_s: float | None
    bit_rate: int | None
    start_time_s: float | None
    streams: tuple[StreamInfo, ...]
    creation_time: str | None = None
    make: str | None = None
    model: str | None = None
    location: str | None = None
    device_ids: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def video(self) -> StreamInfo | None:
        """The first video stream, if any."""
        return next((s for s in self.streams if s.type == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        """The first audio stream, if any."""
        return next((s for s in self.streams if s.type == "audio"), None)


def _rate(value: Fraction | None) -> float | None:
    if value is None or value <= 0:
        return None
    return float(value)


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _clean(value: str) -> str:
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text[:_META_MAX_LEN].strip()


def _check_limits(
    container: av.container.InputContainer, duration_s: float | None, limits: MediaLimits
) -> None:
    """Refuse from header values alone, before a single frame is decoded."""
    if len(container.streams) > limits.max_streams:
        raise MediaRefused(
            f"the file declares {len(container.streams)} streams; the limit is {limits.max_streams}"
        )
    if duration_s is not None and duration_s > limits.max_duration_s:
        raise MediaRefused(
            f"the file declares a duration of {duration_s:.0f} s; "
            f"the limit is {limits.max_duration_s:.0f} s"
        )
    for stream in container.streams.video:
        cc = stream.codec_context
        w, h = cc.width or 0, cc.height or 0
        if w > limits.max_width or h > limits.max_height:
            raise MediaRefused(
                f"the video is {w}x{h} pixels; the limit is {limits.max_width}x{limits.max_height}"
            )
        if w * h > limits.max_pixels:
            raise MediaRefused(
                f"the video has {w * h} pixels per frame; the limit is {limits.max_pixels}"
            )
        rate = _rate(stream.average_rate) or _rate(stream.base_rate)
        if rate is not None and rate > limits.max_frame_rate:
            raise MediaRefused(
                f"the video declares {rate:.0f} frames per second; "
                f"the limit is {limits.max_frame_rate:.0f}"
            )
        if stream.duration is not None and stream.time_base is not None:
            sd = float(stream.duration * stream.time_base)
            if sd > limits.max_duration_s:
                raise MediaRefused(
                    f"a stream declares a duration of {sd:.0f} s; "
                    f"the limit is {limits.max_duration_s:.0f} s"
                )


def _sample_packets(path: str, video_index: int) -> tuple[bool, float | None]:
    """Demux (no decoding) the first packets: (variable frame rate?, max keyframe gap in s)."""
    pts: list[int] = []
    key_pts: list[int] = []
    time_base: Fraction | None = None
    try:
        with av.open(path, metadata_errors="replace") as c:
            stream = c.streams[video_index]
            time_base = stream.time_base
            span_limit = int(SAMPLE_MAX_SPAN_S / time_base) if time_base else None
            for packet in c.demux(stream):
                if packet.pts is None:
                    continue
                pts.append(packet.pts)
                if packet.is_keyframe:
                    key_pts.append(packet.pts)
                if len(pts) >= SAMPLE_MAX_PACKETS:
                    break
                if span_limit is not None and packet.pts - pts[0] > span_limit:
                    break
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        logger.debug("packet sample of %s stopped: %s", path, exc)
    if time_base is None or len(pts) < 3:
        return False, None
    ordered = sorted(set(pts))
    deltas = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a]
    vfr = False
    if len(deltas) >= 2:
        med = statistics.median(deltas)
        vfr = med > 0 and (max(deltas) - min(deltas)) / med > VFR_SPREAD
    keys = sorted(set(key_pts))
    if len(keys) >= 2:
        gap = max(b - a for a, b in zip(keys, keys[1:], strict=False))
    else:
        # One keyframe in the whole sample: the gap is at least the sampled span.
        gap = ordered[-1] - ordered[0]
    return vfr, float(gap * time_base)


def _first_frame_rotation(path: str, video_index: int) -> int:
    """Rotation from the display matrix, as the decoder attaches it to the first frame."""
    try:
        with av.open(path, metadata_errors="replace") as c:
            stream = c.streams[video_index]
            for frame in c.decode(stream):
                return int(round(frame.rotation)) % 360
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        logger.debug("rotation probe of %s failed: %s", path, exc)
    return 0


def probe(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> ProbeResult:
    """Describe a media file; raise UnreadableMedia or MediaRefused with a plain reason."""
    limits = limits or MediaLimits()
    path = os.fspath(path)
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise UnreadableMedia(f"the file cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise UnreadableMedia("the file is empty (0 bytes)")
    try:
        container = av.open(path, metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableMedia(_open_reason(path, exc)) from exc

    with container:
        if not container.streams.video and not container.streams.audio:
            raise UnreadableMedia("the file contains no audio or video streams")
        duration_s = container.duration / 1_000_000 if container.duration else None
        _check_limits(container, duration_s, limits)
        fmt = container.format
        meta = {k.lower(): _clean(v) for k, v in container.metadata.items()}
        raw_streams = []
        for stream in container.streams:
            smeta = {k.lower(): _clean(v) for k, v in stream.metadata.items()}
            for k, v in smeta.items():
                meta.setdefault(k, v)
            raw_streams.append((stream, smeta))
        infos: list[StreamInfo] = []
        for stream, smeta in raw_streams:
            infos.append(_stream_info(path, stream, smeta))
        start_s = container.start_time / 1_000_000 if container.start_time is not None else None
        result_meta: dict[str, str] = {}
        for key, value in meta.items():
            name = _META_KEYS.get(key)
            if name and value and name not in result_meta:
                result_meta[name] = value
        device_ids = tuple(
            v for k, v in sorted(result_meta.items()) if k in {"device_id", "serial"}
        )
        return ProbeResult(
            path=path,
            format=fmt.name,
            format_long=fmt.long_name or fmt.name,
            size=size,
            duration_s=duration_s,
            bit_rate=container.bit_rate or None,
            start_time_s=start_s,
            streams=tuple(infos),
            creation_time=meta.get("creation_time") or None,
            make=result_meta.get("make"),
            model=result_meta.get("model"),
            location=result_meta.get("location"),
            device_ids=device_ids,
            metadata=tuple(sorted(result_meta.items())),
        )


def _stream_info(path: str, stream: av.stream.Stream, smeta: dict[str, str]) -> StreamInfo:
    cc = stream.codec_context
    codec = cc.name if cc is not None else "unknown"
    common = {
        "index": stream.index,
        "codec": codec,
        "profile": stream.profile or None,
        "duration_s": _seconds(stream.duration, stream.time_base),
        "bit_rate": getattr(cc, "bit_rate", None) or None,
        "media_type": stream.type,
    }
    if stream.type == "video":
        rotation = _first_frame_rotation(path, stream.index)
        if not rotation and smeta.get("rotate", "").lstrip("-").isdigit():
            # Old muxers wrote a clockwise "rotate" tag instead of a display matrix.
            rotation = (-int(smeta["rotate"])) % 360
        vfr, key_gap = _sample_packets(path, stream.index)
        return StreamInfo(
            type="video",
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.pix_fmt,
            rotation=rotation,
            avg_frame_rate=_rate(stream.average_rate),
            real_frame_rate=_rate(stream.base_rate),
            variable_frame_rate=vfr,
            keyframe_interval_s=key_gap,
            frames=stream.frames or None,
            **common,
        )
    if stream.type == "audio":
        return StreamInfo(
            type="audio",
            channels=cc.channels,
            sample_rate=cc.sample_rate,
            frames=stream.frames or None,
            **common,
        )
    return StreamInfo(type="other", **common)


def _open_reason(path: str, exc: Exception) -> str:
    with open(path, "rb") as fh:
        head = fh.read(64)
    if looks_like_media(head):
        return f"the file looks like a media container but cannot be opened ({_short(exc)})"
    return "the file is not a recognised audio, video or image file"


def _short(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__


def looks_like_media(head: bytes) -> bool:
    """True when the first bytes carry a common audio/video/image container signature."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return True
    signatures = (
        b"RIFF",
        b"\x1a\x45\xdf\xa3",  # Matroska / WebM
        b"OggS",
        b"fLaC",
        b"ID3",
        b"\xff\xd8\xff",  # JPEG
        b"\x89PNG",
        b"FLV",
        b"0&\xb2u\x8ef\xcf\x11",  # ASF / WMV
        b"\x00\x00\x01\xba",  # MPEG-PS
    )
    if head.startswith(signatures):
        return True
    return bool(head) and head[0] == 0x47 and (len(head) < 189 or head[188] == 0x47)


def is_image_format(fmt: str) -> bool:
    """True for the demuxers of still images (image2, png_pipe, jpeg_pipe, ...)."""
    return fmt in _IMAGE_FORMATS or fmt.endswith(_IMAGE_FORMAT_SUFFIX)


def classify(result: ProbeResult) -> Kind:
    """The evidence kind of a probed file (see transcode.kinds, the one classifier)."""
    return kind_from_probe(result)
