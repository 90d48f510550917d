"""Clips for exports: exact argv from the presets, and real cuts of generated recordings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from transcode._tools import ffmpeg_exe
from transcode.clip import (
    ClipMethod,
    clip_argv,
    cut_clip,
    keyframe_at_or_before,
    make_playable_copy,
    needs_playable_copy,
    playable_argv,
)
from transcode.ffargv import Filter, ffmpeg_argv, option_args
from transcode.limits import TranscodeError
from transcode.presets import GLOBAL_ARGS


def test_option_args_sorted_and_flags():
    assert option_args({"crf": 18, "c:v": "libx264", "an": None}) == [
        "-an",
        "-c:v",
        "libx264",
        "-crf",
        "18",
    ]


def test_builder_with_filter_and_input_options():
    argv = ffmpeg_argv(
        "ffmpeg",
        ("-y",),
        "/in.mp4",
        "/out.mp4",
        maps=[Filter("v:0", "scale", (640, 360)), "a:0?"],
        input_options={"ss": "1.5"},
        output_options={"f": "mp4", "c:a": "copy"},
    )
    assert argv == [
        "ffmpeg", "-y", "-ss", "1.5", "-i", "/in.mp4",
        "-filter_complex", "[0:v:0]scale=640:360[s0]",
        "-map", "[s0]", "-map", "0:a:0?", "-f", "mp4", "-c:a", "copy", "/out.mp4",
    ]  # fmt: skip


def test_copy_clip_argv_exact():
    argv = clip_argv("/src/in.mp4", "/work/clip.mp4", start=2.0, end=5.5, reencode=False)
    assert argv == [
        ffmpeg_exe(), *GLOBAL_ARGS, "-ss", "2.000000", "-i", "/src/in.mp4",
        "-map", "0:v:0?", "-map", "0:a:0?",
        "-avoid_negative_ts", "make_zero", "-c", "copy", "-movflags", "+faststart",
        "-t", "3.500000", "/work/clip.mp4",
    ]  # fmt: skip


def test_watermark_clip_argv_reencodes_and_escapes_the_text_file():
    argv = clip_argv(
        "/src/in.mp4",
        "/work/clip.mp4",
        start=1.0,
        end=2.0,
        reencode=True,
        watermark_file="/work/it's:here.txt",
        font="/fonts/cjk.ttf",
    )
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-crf") + 1] == "18"
    vf = argv[argv.index("-vf") + 1]
    assert vf.startswith("drawtext=fontfile='/fonts/cjk.ttf':textfile='/work/it\\'s\\:here.txt'")
    with pytest.raises(ValueError):
        clip_argv("/a", "/b", start=1.0, end=2.0, reencode=False, watermark_file="/w.txt")
    with pytest.raises(ValueError):
        clip_argv("/a", "/b", start=2.0, end=2.0, reencode=True)


def test_dash_names_cannot_become_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = playable_argv("-i.mov", "-y.mp4")
    assert argv[argv.index("-i") + 1] == str(tmp_path / "-i.mov")
    assert argv[-1] == str(tmp_path / "-y.mp4")


def _duration(path: Path) -> float:
    with av.open(str(path)) as c:
        return float(c.duration or 0) / 1_000_000


def test_cuts_of_a_real_recording(make_clip: Callable[..., Path], tmp_path: Path):
    src = make_clip(seconds=6, gop_s=2)
    assert keyframe_at_or_before(src, 3.1) == pytest.approx(2.0, abs=0.05)
    copy = cut_clip(src, tmp_path / "copy.mp4", in_s=3.1, out_s=5.0, precise=False)
    assert copy.method is ClipMethod.STREAM_COPY and copy.start_s == pytest.approx(2.0, abs=0.05)
    assert 2.5 < _duration(copy.path) < 3.5
    assert copy.argv[-1] == "copy.mp4" and str(src) not in copy.argv and src.name in copy.argv
    exact = cut_clip(
        src, tmp_path / "exact.mp4", in_s=3.1, out_s=5.0, precise=True, watermark="法院 · x1"
    )
    assert exact.method is ClipMethod.REENCODE and exact.start_s == 3.1
    assert 1.7 < _duration(exact.path) < 2.2
    assert not (tmp_path / "exact.watermark.txt").exists()
    assert exact.sha256 != copy.sha256 and exact.size == exact.path.stat().st_size


def test_playable_copy_of_hevc(make_clip: Callable[..., Path], tmp_path: Path):
    h264 = make_clip(seconds=2)
    assert needs_playable_copy(h264, "a.mp4") is None
    hevc = make_clip(seconds=2, codec="hevc")
    duration = needs_playable_copy(hevc, "a.mp4")
    assert duration == pytest.approx(2.0, abs=0.1)
    made = make_playable_copy(hevc, tmp_path / "p.mp4")
    with av.open(str(made.path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    assert needs_playable_copy(tmp_path / "not-media.txt", "x.txt") is None


def test_a_cut_of_a_file_that_is_not_media_fails_clearly(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(TranscodeError, match="could not cut junk.mp4"):
        cut_clip(junk, tmp_path / "c.mp4", in_s=0.0, out_s=1.0, precise=True)
