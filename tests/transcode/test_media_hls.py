"""package_hls on generated media: copy when possible, re-encode otherwise, always playable."""

from __future__ import annotations

import os

import pytest

from transcode.hls import package_hls
from transcode.presets import HlsMode, Preset
from transcode.probe import probe


def _package(src, tmp_path, **kw):
    return package_hls(src, tmp_path / "hls", probe(src), **kw)


def test_h264_aac_is_stream_copied_and_decodes_end_to_end(make_clip, tmp_path, decode_rendition):
    src = make_clip(seconds=9)
    seen: list[float] = []
    r = _package(src, tmp_path, progress=seen.append, timeout=60)
    assert r.mode is HlsMode.COPY and r.preset is Preset.HLS_COPY
    assert r.tool == "pyav" and r.tool_version  # in-process copy, chosen by bench/media.py
    assert os.path.basename(r.playlist) == "index.m3u8"
    assert os.path.basename(r.init_segment) == "init.mp4"
    assert [s.name for s in r.segments] == ["seg-00000.m4s", "seg-00001.m4s", "seg-00002.m4s"]
    assert all(len(s.sha256) == 64 and s.size > 0 for s in r.segments)
    assert r.recovered_duration_s == pytest.approx(9.0, abs=0.1)
    info = decode_rendition(tmp_path / "hls")
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["video_frames"] == pytest.approx(25 * 9, abs=2)
    assert info["audio_samples"] == pytest.approx(48000 * 9, rel=0.02)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    # Written atomically: nothing but the final directory is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls"]
    text = open(r.playlist).read()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and '#EXT-X-MAP:URI="init.mp4"' in text


def test_packaging_is_deterministic(make_clip, tmp_path):
    src = make_clip()
    a = package_hls(src, tmp_path / "a", probe(src))
    b = package_hls(src, tmp_path / "b", probe(src))
    assert a.segments == b.segments
    for name in ("index.m3u8", "init.mp4"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a.parameters == b.parameters


def test_reencode_is_deterministic(make_clip, tmp_path):
    src = make_clip(codec="hevc", seconds=2)
    a = package_hls(src, tmp_path / "a", probe(src))
    b = package_hls(src, tmp_path / "b", probe(src))
    assert a.segments == b.segments


@pytest.mark.parametrize(
    "kw",
    [
        {"codec": "hevc"},
        {"codec": "mjpeg", "container": "avi"},
        {"codec": "mpeg4", "container": "avi"},
    ],
    ids=["hevc", "mjpeg-avi", "mpeg4-avi"],
)
def test_unplayable_codecs_are_reencoded_to_h264(make_clip, tmp_path, decode_rendition, kw):
    src = make_clip(**kw)
    r = _package(src, tmp_path)
    assert r.mode is HlsMode.REENCODE and r.preset is Preset.HLS_H264
    info = decode_rendition(tmp_path / "hls")
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["size"] == (320, 240)
    assert info["video_frames"] == pytest.approx(75, abs=2)


def test_cctv_mpegts_plays(make_clip, tmp_path, decode_rendition):
    src = make_clip(container="ts", audio=False, seconds=5)
    r = _package(src, tmp_path)
    assert r.mode is HlsMode.COPY
    info = decode_rendition(tmp_path / "hls")
    assert info["video_frames"] == pytest.approx(125, abs=2)
    assert r.recovered_duration_s == pytest.approx(5.0, abs=0.2)


def test_h264_with_pcm_audio_copies_video_and_encodes_audio(make_clip, tmp_path, decode_rendition):
    src = make_clip(container="avi")
    r = _package(src, tmp_path)
    assert r.preset is Preset.HLS_COPY_AUDIO_AAC and r.mode is HlsMode.COPY
    info = decode_rendition(tmp_path / "hls")
    assert info["audio_codec"] == "aac" and info["video_frames"] == pytest.approx(75, abs=2)


@pytest.mark.parametrize("container", ["m4a", "wav"])
def test_audio_only_becomes_aac_hls(make_clip, tmp_path, decode_rendition, container):
    src = make_clip(codec=None, container=container, seconds=6)
    r = _package(src, tmp_path)
    assert r.preset is Preset.HLS_AUDIO
    info = decode_rendition(tmp_path / "hls")
    assert info["video_codec"] is None and info["audio_codec"] == "aac"
    assert info["audio_samples"] / info["audio_rate"] == pytest.approx(6.0, abs=0.1)


def test_rotated_phone_video_keeps_its_orientation(make_clip, tmp_path, decode_rendition):
    src = make_clip(rotate=90)
    r = _package(src, tmp_path)
    info = decode_rendition(tmp_path / "hls")
    if r.mode is HlsMode.COPY:
        assert info["rotation"] == 90  # display matrix carried over
    else:
        assert info["size"] == (240, 320)  # re-encoded upright


def test_rotated_hevc_is_reencoded_upright(make_clip, tmp_path, decode_rendition):
    src = make_clip(codec="hevc", rotate=90, seconds=2)
    _package(src, tmp_path)
    info = decode_rendition(tmp_path / "hls")
    assert info["size"] == (240, 320) and info["rotation"] == 0


def test_vfr_source_keeps_its_duration(make_clip, tmp_path, decode_rendition):
    src = make_clip(vfr=True, seconds=6)
    r = _package(src, tmp_path)
    assert r.recovered_duration_s == pytest.approx(6.0, abs=0.3)
    info = decode_rendition(tmp_path / "hls")
    assert info["last_video_time"] == pytest.approx(6.0, abs=0.3)


def test_rerun_replaces_previous_output(make_clip, tmp_path):
    src = make_clip()
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls" / "stale.m4s").write_bytes(b"old")
    _package(src, tmp_path)
    assert not (tmp_path / "hls" / "stale.m4s").exists()


def test_ffmpeg_binary_copy_engine_matches(make_clip, tmp_path, decode_rendition, monkeypatch):
    import transcode.hls as hls

    monkeypatch.setattr(hls, "COPY_ENGINE", "ffmpeg")
    src = make_clip(rotate=90)
    r = _package(src, tmp_path)
    assert r.mode is HlsMode.COPY and r.tool == "ffmpeg"
    info = decode_rendition(tmp_path / "hls")
    assert info["rotation"] == 90 and info["video_frames"] == pytest.approx(75, abs=2)
