"""probe(): stream facts, rotation, VFR, limits refused before decoding, unreadable files."""

from __future__ import annotations

import pytest

from transcode.limits import MediaLimits, MediaRefused, UnreadableMedia
from transcode.probe import classify, probe


def test_h264_aac_clip_is_described(make_clip):
    result = probe(make_clip())
    assert result.format.startswith("mov,mp4")
    assert result.duration_s == pytest.approx(3.0, abs=0.1)
    assert result.size > 0
    video, audio = result.video, result.audio
    assert video is not None and audio is not None
    assert (video.codec, video.width, video.height) == ("h264", 320, 240)
    assert video.avg_frame_rate == pytest.approx(25)
    assert video.rotation == 0
    assert not video.variable_frame_rate
    assert video.keyframe_interval_s == pytest.approx(2.0, abs=0.05)
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 1)
    assert classify(result) == "video"


def test_rotation_comes_from_the_display_matrix(make_clip):
    video = probe(make_clip(rotate=90)).video
    assert video is not None
    assert video.rotation == 90
    assert video.display_size == (240, 320)


def test_vfr_is_detected(make_clip):
    assert probe(make_clip(vfr=True)).video.variable_frame_rate
    assert not probe(make_clip()).video.variable_frame_rate


@pytest.mark.parametrize(
    ("kw", "kind"),
    [
        ({"codec": None, "container": "m4a"}, "audio"),
        ({"codec": None, "container": "wav"}, "audio"),
        ({"codec": "mjpeg", "container": "avi"}, "video"),
    ],
)
def test_classify(make_clip, kw, kind):
    assert classify(probe(make_clip(**kw))) == kind


def test_photo(media_dir, make_clip):
    import subprocess

    from transcode._tools import ffmpeg_exe

    jpg = media_dir / "photo.jpg"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(make_clip()), "-frames:v", "1", str(jpg)],
        check=True,
    )
    assert classify(probe(jpg)) == "photo"


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableMedia, match="empty"):
        probe(empty)


def test_text_with_mp4_extension(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(UnreadableMedia, match="not a recognised"):
        probe(fake)


def test_wrong_extension_still_probes_by_content(tmp_path, make_clip):
    renamed = tmp_path / "clip.avi"
    renamed.write_bytes(make_clip().read_bytes())
    assert probe(renamed).video.codec == "h264"


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (MediaLimits(max_width=100), "320x240 pixels"),
        (MediaLimits(max_pixels=1000), "pixels per frame"),
        (MediaLimits(max_duration_s=1), "duration of 3 s"),
    ],
)
def test_limits_refuse_before_decoding(make_clip, limits, words, monkeypatch):
    import transcode.probe as mod

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before checking limits")

    monkeypatch.setattr(mod, "_first_frame_rotation", no_decoding)
    monkeypatch.setattr(mod, "_sample_packets", no_decoding)
    with pytest.raises(MediaRefused, match=words):
        probe(make_clip(), limits)
