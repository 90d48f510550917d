"""Trickplay sprites and WebVTT from keyframes (or from decoding when keyframes are sparse)."""

from __future__ import annotations

import re

import av
import pytest

from transcode.probe import probe
from transcode.trickplay import choose_strategy, make_trickplay

CUE = re.compile(
    r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n"
    r"(sprite-\d{3}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$",
    re.M,
)


def _seconds(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _parse_vtt(text: str) -> list[tuple]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for m in CUE.finditer(text):
        g = m.groups()
        cues.append((_seconds(*g[0:4]), _seconds(*g[4:8]), g[8], *map(int, g[9:13])))
    assert len(cues) == text.count("-->")
    return cues


def _decode_jpeg(path):
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.width, frame.height, frame.to_ndarray(format="rgb24")


def test_keyframe_trickplay(make_clip, tmp_path):
    src = make_clip(seconds=20, gop_s=2)
    p = probe(src)
    assert choose_strategy(p, 2.0) == "keyframes"
    t = make_trickplay(src, tmp_path / "tp", p, cols=4, rows=2)
    assert t.strategy == "keyframes"
    assert len(t.cues) == pytest.approx(20 / 2, abs=1)
    assert (t.tile_width, t.tile_height) == (160, 120)
    cues = _parse_vtt(open(t.vtt, encoding="utf-8").read())
    assert len(cues) == len(t.cues)
    assert cues[0][0] == 0 and cues[-1][1] == pytest.approx(20, abs=0.1)
    assert all(a[1] == b[0] for a, b in zip(cues, cues[1:], strict=False))  # contiguous
    assert len(t.sheets) == 2  # 10 tiles, 8 per sheet
    w, h, pixels = _decode_jpeg(t.sheets[0])
    assert (w, h) == (4 * 160, 2 * 120)
    assert pixels.std() > 10  # real picture, not a blank sheet
    w, h, _ = _decode_jpeg(t.sheets[1])
    assert (w, h) == (2 * 160, 120)
    assert cues[8][2:] == ("sprite-001.jpg", 0, 0, 160, 120)


def test_sparse_keyframes_still_give_a_thumbnail_every_interval(make_clip, tmp_path):
    src = make_clip(seconds=12, gop_s=10, audio=False)
    p = probe(src)
    assert choose_strategy(p, 2.0) != "keyframes"
    for strategy in ("decode", "seek"):
        t = make_trickplay(src, tmp_path / strategy, p, strategy=strategy)
        starts = [c.start_s for c in t.cues]
        assert len(starts) == 6, strategy
        assert starts == pytest.approx([0, 2, 4, 6, 8, 10], abs=0.05)


def test_rotated_video_gets_upright_tiles(make_clip, tmp_path):
    src = make_clip(rotate=90)
    t = make_trickplay(src, tmp_path / "tp", probe(src))
    assert (t.tile_width, t.tile_height) == (160, 214)
    w, h, _ = _decode_jpeg(t.sheets[0])
    assert h == 214


def test_trickplay_is_deterministic(make_clip, tmp_path):
    src = make_clip()
    a = make_trickplay(src, tmp_path / "a", probe(src))
    b = make_trickplay(src, tmp_path / "b", probe(src))
    assert open(a.sheets[0], "rb").read() == open(b.sheets[0], "rb").read()
    assert a.cues == b.cues
