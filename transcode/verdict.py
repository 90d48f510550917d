"""What the playback self-check concludes: the expectation, each problem, the report, and the
problems in plain words (English, zh-CN) for the reason shown to people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

StreamKind = Literal["video", "audio", "container"]
# Problems reported per kind before the rest are only counted.
MAX_PROBLEMS_PER_CODE = 3


@dataclass(frozen=True)
class Expectation:
    """What the rendition must hold, from the source's probe (or the salvage for damaged files)."""

    duration_s: float | None
    video: bool
    audio: bool
    video_frames: int | None = None
    frame_rate: float | None = None
    audio_duration_s: float | None = None
    rotation: int | None = None


@dataclass(frozen=True)
class Problem:
    """One failed check; ``code`` is stable, ``stream`` says which stream a fallback must fix."""

    code: str
    stream: StreamKind
    detail: str


@dataclass(frozen=True)
class CheckReport:
    """The verdict on one rendition with the measurements behind it."""

    passed: bool
    problems: tuple[Problem, ...]
    segments: int
    playlist_duration_s: float
    expected_duration_s: float | None
    video_frames: int
    video_duration_s: float | None
    audio_duration_s: float | None
    first_timestamp_s: float | None
    decoded_frames: int
    full_decode: bool
    elapsed_s: float
    codes: tuple[str, ...] = field(default=())
    cpu_s: float = 0.0  # CPU time of the check itself (wall time varies with machine load)

    def streams(self) -> set[str]:
        """Which streams the problems concern."""
        return {p.stream for p in self.problems}

    def summary(self) -> str:
        """One line for logs and the derivation record."""
        if self.passed:
            return (
                f"passed: {self.segments} segments, {self.playlist_duration_s:.3f} s, "
                f"{self.video_frames} video frames"
            )
        return "; ".join(f"{p.code}: {p.detail}" for p in self.problems[:6])


class Collector:
    """Problems as a check finds them, at most a few of each kind."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {}

    def add(self, code: str, stream: StreamKind, detail: str) -> None:
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < MAX_PROBLEMS_PER_CODE:
            self.problems.append(Problem(code, stream, detail))
        elif n == MAX_PROBLEMS_PER_CODE:
            self.problems.append(Problem(code, stream, "(further occurrences not listed)"))


# Plain words for each check, for the reason shown to people (English, zh-CN).
CODE_TEXT: dict[str, tuple[str, str]] = {
    "playlist_missing": ("the playlist is missing", "播放列表缺失"),
    "no_segments": ("the playlist lists no segment", "播放列表没有分段"),
    "target_duration_zero": (
        "the playlist declares zero-length segments",
        "播放列表的分段时长为零",
    ),
    "segment_zero_duration": ("a segment has zero duration", "存在时长为零的分段"),
    "duration_mismatch": ("the length differs from the source", "时长与原始文件不符"),
    "segment_missing": ("a segment file is missing", "分段文件缺失"),
    "segment_unreadable": ("a segment cannot be read", "分段无法读取"),
    "segment_empty": ("a segment holds no audio or video", "分段中没有音视频"),
    "codec_config_missing": ("the video decoder configuration is missing", "缺少视频解码配置"),
    "video_size_unknown": ("the video has no frame size", "视频缺少画面尺寸"),
    "timestamps_missing": ("samples have no timestamps", "样本缺少时间戳"),
    "timestamps_not_increasing": ("timestamps do not increase", "时间戳未递增"),
    "segment_starts_without_keyframe": (
        "a segment does not start with a keyframe",
        "分段不以关键帧开始",
    ),
    "sample_truncated": ("video samples are cut short", "视频样本不完整"),
    "decode_failed": ("frames do not decode", "画面或声音无法解码"),
    "rotation_lost": ("the picture rotation was lost", "画面旋转信息丢失"),
    "segment_without_video": ("a segment has no video", "分段中没有视频"),
    "start_not_zero": ("timestamps do not start at zero", "时间戳未从零开始"),
    "no_video": ("the video is missing", "视频缺失"),
    "no_audio": ("the audio is missing", "音频缺失"),
    "frame_count_mismatch": ("frames are missing", "画面帧数与原始文件不符"),
    "video_duration_mismatch": (
        "the video length differs from the source",
        "视频时长与原始文件不符",
    ),
    "audio_duration_mismatch": (
        "the audio length differs from the source",
        "音频时长与原始文件不符",
    ),
    "segment_too_long": ("a segment is too long to buffer", "分段过长，无法缓冲"),
}


def describe(codes: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """The problems as plain words: (English, zh-CN)."""
    seen = [c for c in dict.fromkeys(codes) if c in CODE_TEXT]
    en = "; ".join(CODE_TEXT[c][0] for c in seen) or "the rendition could not be made"
    zh = "；".join(CODE_TEXT[c][1] for c in seen) or "无法生成播放版本"
    return en, zh
