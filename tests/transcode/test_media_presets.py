"""Argv builders are pure and produce exactly the expected ffmpeg command lines."""

from __future__ import annotations

import os

import pytest

from transcode._tools import ffmpeg_exe
from transcode.presets import (
    GLOBAL_ARGS,
    audio_hls_argv,
    hls_copy_argv,
    hls_reencode_argv,
    photo_preview_argv,
    target_size,
)
from transcode.probe import ProbeResult, StreamInfo

HLS_TAIL = [
    "-hls_flags",
    "independent_segments",
    "-hls_fmp4_init_filename",
    "init.mp4",
    "-hls_playlist_type",
    "vod",
    "-hls_segment_filename",
    "/out/hls/seg-%05d.m4s",
    "-hls_segment_type",
    "fmp4",
    "-hls_time",
    "4",
    "-map_chapters",
    "-1",
    "-map_metadata",
    "-1",
]
BITEXACT = ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-flags:v", "+bitexact"]


def _probe(width: int, height: int, rotation: int = 0) -> ProbeResult:
    video = StreamInfo(
        index=0, type="video", codec="hevc", width=width, height=height, rotation=rotation
    )
    return ProbeResult(
        path="/src/in.mp4",
        format="mov,mp4,m4a,3gp,3g2,mj2",
        format_long="QuickTime / MOV",
        size=1,
        duration_s=10.0,
        bit_rate=None,
        start_time_s=0.0,
        streams=(video,),
    )


def test_copy_argv_exact():
    argv = hls_copy_argv("/src/in.mp4", "/out/hls")
    assert argv == [
        ffmpeg_exe(),
        *GLOBAL_ARGS,
        "-i",
        "/src/in.mp4",
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-f",
        "hls",
        "-c",
        "copy",
        *BITEXACT,
        *HLS_TAIL,
        "/out/hls/index.m3u8",
    ]
    assert GLOBAL_ARGS[-2:] == ("-progress", "pipe:1")


def test_copy_with_audio_reencode():
    argv = hls_copy_argv("/src/in.ts", "/out/hls", audio_to_aac=True, max_duration_s=60)
    assert argv[argv.index("-c:v") + 1] == "copy"
    assert argv[argv.index("-c:a") + 1] == "aac"
    assert argv[argv.index("-b:a") + 1] == "128k"
    assert argv[argv.index("-t") + 1] == "60"


def test_reencode_argv_exact_for_4k_hevc():
    argv = hls_reencode_argv("/src/in.mp4", "/out/hls", _probe(3840, 2160))
    assert argv == [
        ffmpeg_exe(),
        *GLOBAL_ARGS,
        "-i",
        "/src/in.mp4",
        "-filter_complex",
        "[0:v:0]scale=1920:1080[s0]",
        "-map",
        "[s0]",
        "-map",
        "0:a:0?",
        "-f",
        "hls",
        "-ac",
        "2",
        "-b:a",
        "128k",
        "-c:a",
        "aac",
        "-c:v",
        "libx264",
        "-crf",
        "23",
        *BITEXACT,
        "-force_key_frames",
        "expr:gte(t,n_forced*2)",
        "-fps_mode",
        "vfr",
        *HLS_TAIL,
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "/out/hls/index.m3u8",
    ]


def test_reencode_without_scaling_when_small():
    argv = hls_reencode_argv("/src/in.mp4", "/out/hls", _probe(640, 480))
    assert "-filter_complex" not in argv
    assert argv[argv.index("-map") + 1] == "0:v:0"


@pytest.mark.parametrize(
    ("w", "h", "rot", "expected"),
    [
        (1920, 1080, 0, (1920, 1080)),
        (3840, 2160, 0, (1920, 1080)),
        (3840, 2160, 90, (1080, 1920)),
        (2160, 3840, 0, (1080, 1920)),
        (321, 241, 0, (320, 240)),
        (4000, 3000, 0, (1440, 1080)),
        (640, 480, 270, (480, 640)),
    ],
)
def test_target_size(w, h, rot, expected):
    assert target_size(w, h, rot) == expected


def test_audio_and_photo_argv():
    a = audio_hls_argv("/src/a.wav", "/out/hls")
    assert a[a.index("-map") + 1] == "0:a:0"
    assert "-c:v" not in a and a[-1] == "/out/hls/index.m3u8"
    p = photo_preview_argv("/src/p.jpg", "/out/preview.jpg", _probe(4000, 3000))
    assert p[p.index("-filter_complex") + 1] == "[0:v:0]scale=1280:960[s0]"
    assert p[-1] == "/out/preview.jpg"
    assert p[p.index("-frames:v") + 1] == "1"


def test_dash_names_cannot_become_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = hls_copy_argv("-evil.mp4", "-y")
    src = argv[argv.index("-i") + 1]
    assert src == os.path.join(str(tmp_path), "-evil.mp4")
    # No argument after the executable besides the known options starts with the user name.
    assert "-evil.mp4" not in argv and argv[-1].startswith("/")
    assert all(not a.startswith("-evil") for a in argv)


def test_percent_in_directory_is_escaped_in_the_segment_pattern():
    argv = hls_copy_argv("/src/in.mp4", "/out/100%/hls")
    assert argv[argv.index("-hls_segment_filename") + 1] == "/out/100%%/hls/seg-%05d.m4s"
    assert argv[-1] == "/out/100%/hls/index.m3u8"


def test_control_characters_refused():
    with pytest.raises(ValueError):
        hls_copy_argv("/src/in\n.mp4", "/out")
