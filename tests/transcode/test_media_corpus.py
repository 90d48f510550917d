"""Every class of the field corpus (issue 14) reaches the status it should, through the fallback
chain path it should, and its rendition passes the self-check again when read back."""

from __future__ import annotations

import os
from pathlib import Path

import media_corpus
import pytest

from transcode import selfcheck
from transcode.hls import RenditionUnplayable, Step, package_hls
from transcode.hls import expectation as hls_expectation
from transcode.pipeline import _unplayable, process
from transcode.probe import probe
from transcode.selfcheck import check_rendition, sample_is_whole

# class id -> steps of the fallback chain, in order (the last one passed)
PATHS = {
    "avi_h264_ulaw": ["copy", "copy-genpts"],
    "mkv_onekey_gps": ["copy", "copy-genpts"],
    "mp4_truncated": ["copy"],
    "mp4_h264_aac": ["copy"],
    "mp4_h265": ["reencode"],
    "mov_hevc10_rot": ["reencode"],
    "avi_mjpeg": ["reencode"],
    "mpeg2_ps": ["reencode"],
    "ts_long_gop": ["copy", "copy-genpts"],
    "mp4_short": ["copy"],
    "wav_pcm": ["audio"],
    "wav_alaw": ["audio"],
    "wav_mulaw": ["audio"],
    "m4a": ["audio"],
    "amr": ["audio"],
    "photo": [],
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, media_corpus.CorpusFile]:
    return media_corpus.build(tmp_path_factory.mktemp("corpus"))


@pytest.mark.slow
@pytest.mark.parametrize("cid", list(PATHS))
def test_corpus_class_reaches_its_status(corpus, tmp_path, cid) -> None:  # type: ignore[no-untyped-def]
    if cid not in corpus:
        pytest.skip(f"{cid}: this ffmpeg build cannot make the file")
    f = corpus[cid]
    before = f.path.read_bytes()
    r = process(f.path, tmp_path / "out")
    assert f.path.read_bytes() == before  # the original is untouched
    assert (r.status, r.kind) == (f.status, f.kind), (r.reason, r.attempts)
    assert [a["step"] for a in r.attempts] == PATHS[cid], r.attempts
    assert all(not a["passed"] for a in r.attempts[:-1])
    if r.kind == "photo":
        assert r.photo is not None and r.photo.orientation == 6
        assert (r.photo.width, r.photo.height) == (480, 640)  # upright
        assert r.photo.taken_at == "2026-03-01T17:05:09+08:00"
        assert r.photo.gps_lat == pytest.approx(30.27415, abs=1e-4)
        assert r.photo.gps_lon == pytest.approx(120.15515, abs=1e-4)
        return
    assert r.attempts[-1]["passed"] and r.hls is not None
    # Read back independently: the kept rendition passes the check on its own.
    p = probe(f.path)
    salvaged = r.status == "damaged"
    want = hls_expectation(
        p,
        r.assessment.playable_duration_s if salvaged else p.duration_s,
        salvaged=salvaged,
        rotation=None,
    )
    report = check_rendition(r.hls.directory, want)
    assert report.passed, report.problems
    assert report.full_decode
    assert report.playlist_duration_s > 0.2
    # The path long renditions take (fragment boxes + first keyframe of each segment) agrees.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfcheck, "FULL_DECODE_MAX_BYTES", 0)
        boxes = check_rendition(r.hls.directory, want)
    assert boxes.passed and not boxes.full_decode, boxes.problems
    assert boxes.video_frames == report.video_frames
    assert boxes.audio_duration_s == pytest.approx(report.audio_duration_s or 0, abs=0.05) or (
        report.audio_duration_s is None and boxes.audio_duration_s is None
    )
    if f.kind == "audio":
        assert r.waveform is not None and r.trickplay is None
    else:
        assert r.trickplay is not None and report.video_frames > 0
    if cid == "mkv_onekey_gps":
        assert r.text_track is not None and r.text_track.gps_points == 6
        vtt = (tmp_path / "out" / "subtitles.vtt").read_text()
        assert vtt.startswith("WEBVTT") and "N30.27415 E120.15515 40 km/h" in vtt
    if cid == "mov_hevc10_rot":
        assert report.first_timestamp_s is not None
    if salvaged:
        assert r.hls.recovered_duration_s == pytest.approx(
            r.assessment.playable_duration_s, abs=0.6
        )


def test_copy_of_avi_without_timestamps_fails_the_check(corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = corpus["avi_h264_ulaw"].path
    with pytest.raises(RenditionUnplayable) as err:
        package_hls(src, tmp_path / "hls", probe(src), steps=[Step.COPY])
    (attempt,) = err.value.attempts
    codes = {p.split(":")[0] for p in attempt.problems}
    assert {"segment_zero_duration", "duration_mismatch"} <= codes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfcheck, "FULL_DECODE_MAX_BYTES", 0)
        with pytest.raises(RenditionUnplayable):
            package_hls(src, tmp_path / "hls", probe(src), steps=[Step.COPY])
    assert not (tmp_path / "hls").exists()  # nothing half-made is left
    # The pipeline turns it into an unplayable item with the reason in both languages.
    r = _unplayable("video", {"source": str(src), "reason": "", "reason_zh": "",
                              "assessment": None}, err.value)  # fmt: skip
    assert r.status == "unplayable" and r.outputs == ()
    assert "playback check" in r.reason and "original is kept unchanged" in r.reason
    assert "自检" in r.reason_zh and "原始文件已原样保存" in r.reason_zh
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in r.reason)
    assert r.attempts[0]["step"] == "copy" and not r.attempts[0]["passed"]


def test_matroska_copy_without_first_keyframe_fails_and_genpts_copy_passes(
    corpus, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    src = corpus["mkv_onekey_gps"].path
    r = package_hls(src, tmp_path / "hls", probe(src))
    first, second = r.attempts
    assert "segment_starts_without_keyframe" in " ".join(first.problems)
    assert second.passed and r.step == "copy-genpts" and r.tool == "ffmpeg"
    params = r.parameters
    assert params["step"] == "copy-genpts" and "+genpts" in params["argv"]
    assert [a["step"] for a in params["attempts"]] == ["copy", "copy-genpts"]


def test_salvage_keeps_only_whole_samples(corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from transcode.damage import assess
    from transcode.hls import pyav_copy

    src = str(corpus["mp4_truncated"].path)
    a = assess(src)
    p = probe(src)
    want = hls_expectation(p, a.playable_duration_s, salvaged=True, rotation=None)
    # Without the whole-sample rule the sample cut by the end of the file is packaged.
    loose = tmp_path / "loose"
    loose.mkdir()
    pyav_copy(src, str(loose), p, None, None, a.playable_duration_s + 1.0)
    assert not check_rendition(loose, want).passed
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfcheck, "FULL_DECODE_MAX_BYTES", 0)
        assert not check_rendition(loose, want).passed
    whole = tmp_path / "whole"
    whole.mkdir()
    pyav_copy(src, str(whole), p, None, None, a.playable_duration_s + 1.0, salvage=True)
    report = check_rendition(whole, want)
    assert report.passed, report.problems


def test_matroska_copy_fails_the_box_path_too(corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = corpus["mkv_onekey_gps"].path
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfcheck, "FULL_DECODE_MAX_BYTES", 0)
        with pytest.raises(RenditionUnplayable) as err:
            package_hls(src, tmp_path / "hls", probe(src), steps=[Step.COPY])
    codes = {p.split(":")[0] for p in err.value.attempts[0].problems}
    assert "segment_starts_without_keyframe" in codes


def test_sample_framing() -> None:
    nal = b"\x00\x00\x00\x03abc"
    assert sample_is_whole(nal + nal, 4)
    assert not sample_is_whole(nal + nal[:-1], 4)  # cut short by the end of the file
    assert not sample_is_whole(b"\x00\x00\x00\x09abc", 4)  # length runs past the sample
    assert not sample_is_whole(b"", 4)


def test_missing_rendition_reports_not_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from transcode.selfcheck import Expectation

    report = check_rendition(tmp_path, Expectation(duration_s=3.0, video=True, audio=False))
    assert not report.passed and report.problems[0].code == "playlist_missing"
    assert os.listdir(tmp_path) == []


def test_corpus_files_are_small(corpus) -> None:  # type: ignore[no-untyped-def]
    assert all(Path(f.path).stat().st_size < 2_000_000 for f in corpus.values())


@pytest.mark.slow
def test_one_keyframe_for_long_footage_reencodes_the_video_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 34 s with a single keyframe: one segment a browser cannot buffer whole. Generated
    # timestamps do not help; the video is re-encoded (keyframe every 2 s), the AAC is kept.
    src = tmp_path / "dash-long.mp4"
    media_corpus.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=34",
                        *media_corpus._tone(34), *media_corpus._x264(100000, "ultrafast"),
                        "-c:a", "aac", "-b:a", "32k", "-shortest", str(src))  # fmt: skip
    r = package_hls(src, tmp_path / "hls", probe(src))
    assert [a.step for a in r.attempts] == [Step.COPY, Step.REENCODE_VIDEO]
    assert "segment_too_long" in " ".join(r.attempts[0].problems)
    assert r.parameters["preset"] == "hls-h264-audio-copy"
    assert max(s.duration_s for s in r.segments) <= 4.5
    assert r.check is not None and r.check.passed and r.check.audio_duration_s
