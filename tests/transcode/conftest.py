"""Generated media for the transcode tests: small real files made by the ffmpeg binary."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from transcode._tools import ffmpeg_exe

_VIDEO_ARGS = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "hevc": [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-tag:v",
        "hvc1",
    ],
    "mjpeg": ["-c:v", "mjpeg", "-q:v", "6", "-pix_fmt", "yuvj420p"],
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "6"],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def make_clip(media_dir: Path) -> Callable[..., Path]:
    """Factory: make_clip(seconds=3, codec="h264", audio=True, ...) -> path, cached by params.

    codec=None makes an audio-only file; audio may be True (440 Hz sine at 1/8 amplitude),
    False, or "silence".
    """
    cache: dict[tuple, Path] = {}

    def make(
        seconds: float = 3,
        codec: str | None = "h264",
        audio: bool | str = True,
        fps: int = 25,
        size: str = "320x240",
        gop_s: float = 2,
        container: str = "mp4",
        rotate: int | None = None,
        faststart: bool = True,
        vfr: bool = False,
    ) -> Path:
        key = (seconds, codec, audio, fps, size, gop_s, container, rotate, faststart, vfr)
        if key in cache:
            return cache[key]
        name = "clip-" + "-".join(str(k) for k in key).replace(".", "_") + f".{container}"
        out = media_dir / name
        args: list[str] = []
        if codec:
            args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
        if audio == "silence":
            args += ["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={seconds}"]
        elif audio:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}"]
        if codec:
            args += _VIDEO_ARGS[codec]
            gop = str(max(1, round(gop_s * fps)))
            if codec == "hevc":
                args += ["-x265-params", f"log-level=error:keyint={gop}:min-keyint={gop}"]
            else:
                args += ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0"]
            if vfr:
                args += ["-vf", r"select=not(mod(n\,3))+not(mod(n\,5))", "-fps_mode", "vfr"]
        if audio:
            if container in ("wav", "avi"):
                args += ["-c:a", "pcm_s16le"]
            else:
                args += ["-c:a", "aac", "-b:a", "64k"]
        if container == "mp4" and faststart:
            args += ["-movflags", "+faststart"]
        if container == "ts":
            args += ["-f", "mpegts"]
        args += ["-shortest"] if codec and audio else []
        if rotate is None:
            _ffmpeg(*args, str(out))
        else:
            plain = media_dir / f"plain-{name}"
            _ffmpeg(*args, str(plain))
            _ffmpeg("-display_rotation", str(rotate), "-i", str(plain), "-c", "copy", str(out))
        cache[key] = out
        return out

    return make


@pytest.fixture(scope="session")
def truncate(media_dir: Path) -> Callable[[Path, float], Path]:
    """Factory: a copy of path keeping only the first fraction of its bytes."""

    def cut(path: Path, fraction: float) -> Path:
        data = path.read_bytes()
        out = media_dir / f"cut{int(fraction * 100)}-{path.name}"
        out.write_bytes(data[: int(len(data) * fraction)])
        return out

    return cut


def _decode_rendition(directory: Path) -> dict:
    """Concatenate init + all segments of an HLS rendition and decode every frame."""
    playlist = (directory / "index.m3u8").read_text()
    names = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    data = (directory / "init.mp4").read_bytes() + b"".join(
        (directory / n).read_bytes() for n in names
    )
    info: dict = {"video_frames": 0, "audio_samples": 0, "rotation": None, "size": None}
    last_video = 0.0
    with av.open(io.BytesIO(data)) as c:
        info["video_codec"] = c.streams.video[0].codec_context.name if c.streams.video else None
        info["audio_codec"] = c.streams.audio[0].codec_context.name if c.streams.audio else None
        info["audio_rate"] = c.streams.audio[0].sample_rate if c.streams.audio else None
        for frame in c.decode(*c.streams.video, *c.streams.audio):
            if isinstance(frame, av.VideoFrame):
                if info["video_frames"] == 0:
                    info["rotation"] = int(round(frame.rotation)) % 360
                    info["size"] = (frame.width, frame.height)
                info["video_frames"] += 1
                last_video = max(last_video, frame.time or 0.0)
            else:
                info["audio_samples"] += frame.samples
    info["last_video_time"] = last_video
    info["segments"] = names
    return info


def _load_json(path: Path | str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def decode_rendition() -> Callable[[Path], dict]:
    """Decode a whole HLS rendition (init + every segment) with PyAV."""
    return _decode_rendition


@pytest.fixture(scope="session")
def load_json() -> Callable[[Path | str], dict]:
    return _load_json
