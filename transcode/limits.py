"""Media limits that protect workers from decompression bombs and endless streams."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaLimits:
    """Upper bounds checked from container headers before anything is decoded."""

    max_width: int = 7680
    max_height: int = 4320
    max_pixels: int = 7680 * 4320
    max_duration_s: float = 6 * 3600
    max_streams: int = 32
    max_frame_rate: float = 1000.0


class MediaError(Exception):
    """Base class for media failures; ``reason`` is a plain-words explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaRefused(MediaError):
    """The file declares dimensions, durations or counts beyond the configured limits."""


class UnreadableMedia(MediaError):
    """The file cannot be opened as audio, video or image (empty, not media, or broken)."""


class TranscodeError(MediaError):
    """An ffmpeg run failed; ``stderr_tail`` keeps the last lines it printed."""

    def __init__(self, reason: str, stderr_tail: str = "") -> None:
        super().__init__(reason)
        self.stderr_tail = stderr_tail


class TranscodeTimeout(TranscodeError):
    """An ffmpeg run exceeded its time limit and was killed."""
