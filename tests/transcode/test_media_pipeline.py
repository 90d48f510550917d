"""process(): every kind of input reaches a final status; damaged files are salvaged."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from transcode.damage import Finding, assess
from transcode.limits import MediaLimits
from transcode.pipeline import process


def _fingerprint(path):
    st = os.stat(path)
    return hashlib.sha256(open(path, "rb").read()).hexdigest(), st.st_size, st.st_mtime_ns


def test_truncated_with_index_at_front_is_damaged_and_salvaged(
    make_clip, truncate, tmp_path, decode_rendition
):
    cut = truncate(make_clip(seconds=10, faststart=True), 0.5)
    a = assess(cut)
    assert a.status == "damaged" and a.finding is Finding.TRUNCATED
    assert a.declared_duration_s == pytest.approx(10, abs=0.1)
    assert 2 < a.playable_duration_s < 8
    assert "cut off" in a.reason and "截断" in a.reason_zh
    r = process(cut, tmp_path / "out")
    assert r.status == "damaged" and r.hls is not None
    assert r.hls.recovered_duration_s == pytest.approx(a.playable_duration_s, abs=2.1)
    assert "rendition of the first" in r.reason
    info = decode_rendition(tmp_path / "out" / "hls")
    assert info["video_frames"] == pytest.approx(25 * a.playable_duration_s, abs=3)
    assert r.trickplay is not None and r.trickplay.cues


def test_truncated_with_index_at_end_is_unplayable(make_clip, truncate, tmp_path):
    cut = truncate(make_clip(seconds=4, faststart=False), 0.6)
    r = process(cut, tmp_path / "out")
    assert r.status == "unplayable" and r.assessment.finding is Finding.INDEX_MISSING
    assert "moov" in r.reason and r.kind == "video" and r.outputs == ()


def test_full_pipeline_outputs_are_hashed_and_deterministic(make_clip, tmp_path):
    src = make_clip(seconds=5)
    before = _fingerprint(src)
    os.chmod(src, stat.S_IRUSR | stat.S_IRGRP)
    try:
        seen: list[float] = []
        a = process(src, tmp_path / "a", progress=seen.append)
        b = process(src, tmp_path / "b")
    finally:
        os.chmod(src, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
    assert _fingerprint(src) == before  # the original is never touched
    assert a.status == "ready" and a.kind == "video" and a.problems == ()
    roles = sorted({o.role for o in a.outputs})
    assert roles == [
        "hls_init",
        "hls_playlist",
        "hls_segment",
        "sprite",
        "vtt",
        "waveform",
    ]
    for o in a.outputs:
        path = tmp_path / "a" / o.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == o.sha256
        assert path.stat().st_size == o.size and o.tool in ("ffmpeg", "pyav") and o.tool_version
    assert [(o.name, o.sha256) for o in a.outputs] == [(o.name, o.sha256) for o in b.outputs]
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_photo_gets_a_preview(media_dir, make_clip, tmp_path):
    import subprocess

    from transcode._tools import ffmpeg_exe

    jpg = media_dir / "pipeline-photo.jpg"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(make_clip()), "-frames:v", "1", str(jpg)],
        check=True,
    )
    r = process(jpg, tmp_path / "out")
    assert r.status == "ready" and r.kind == "photo"
    assert [o.role for o in r.outputs] == ["preview", "thumbnail"] and os.path.exists(r.preview)


def _text_mp4(d):
    p = d / "notes.mp4"
    p.write_text("meeting notes, not a video\n" * 40)
    return p


def _empty(d):
    p = d / "empty.mp4"
    p.write_bytes(b"")
    return p


def _pdf(d):
    p = d / "report.pdf"
    p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return p


def _garbage_mp4(d):
    p = d / "garbage.mp4"
    p.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    return p


@pytest.mark.parametrize(
    ("make", "status", "finding"),
    [
        (_text_mp4, "stored", Finding.NOT_MEDIA),
        (_pdf, "stored", Finding.NOT_MEDIA),
        (_empty, "unplayable", Finding.EMPTY),
        (_garbage_mp4, "unplayable", Finding.INDEX_MISSING),
    ],
    ids=["text-as-mp4", "pdf", "zero-byte", "garbage-after-ftyp"],
)
def test_hostile_and_non_media_files_reach_a_final_status(tmp_path, make, status, finding):
    r = process(make(tmp_path), tmp_path / "out")
    assert (r.status, r.assessment.finding) == (status, finding)
    assert r.reason and r.reason_zh and r.outputs == ()


@pytest.mark.parametrize(
    "limits",
    [MediaLimits(max_width=200, max_height=200), MediaLimits(max_duration_s=1.0)],
    ids=["absurd-dimensions", "too-long"],
)
def test_limits_give_unplayable_with_reason(make_clip, tmp_path, limits):
    r = process(make_clip(), tmp_path / "out", limits)
    assert r.status == "unplayable" and r.assessment.finding is Finding.REFUSED
    assert "limit" in r.reason and r.outputs == ()


def test_endless_stream_without_declared_duration_is_refused(make_clip, tmp_path):
    # An MPEG-TS declares no duration in a header; the limit stops reading it.
    src = make_clip(container="ts", audio=False, seconds=5)
    a = assess(src, MediaLimits(max_duration_s=2.0))
    assert a.status == "unplayable" and a.finding is Finding.REFUSED


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"codec": "hevc", "seconds": 2},
        {"codec": "mjpeg", "container": "avi"},
        {"container": "ts"},
        {"codec": None, "container": "m4a"},
        {"codec": None, "container": "wav"},
        {"rotate": 90},
        {"vfr": True},
        {"audio": False},
    ],
    ids=["h264", "hevc", "mjpeg", "ts", "m4a", "wav", "rotated", "vfr", "no-audio"],
)
def test_every_media_case_is_ready(make_clip, tmp_path, kw):
    r = process(make_clip(**kw), tmp_path / "out")
    assert r.status == "ready", r.reason
    assert r.hls is not None and r.hls.segments
    assert (r.trickplay is not None) == (r.kind == "video")
    assert (r.waveform is not None) == (kw.get("audio", True) is not False)
