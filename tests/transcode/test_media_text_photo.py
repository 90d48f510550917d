"""Text streams (subtitles, dashcam GPS) -> WebVTT + GPS track; photos upright with EXIF facts
and a scaled (not cropped) thumbnail."""

from __future__ import annotations

import json

import media_corpus
import pytest
from PIL import Image

from transcode.limits import MediaLimits
from transcode.photo import make_photo_outputs
from transcode.pipeline import process
from transcode.probe import probe
from transcode.subtitles import extract_text_track, parse_gps


@pytest.mark.parametrize(
    ("text", "lat", "lon", "speed"),
    [
        ("2026-03-01 09:00:02 N30.27439 E120.15533 42 km/h", 30.27439, 120.15533, 42.0),
        ("S33.86785 W151.20732 12.5KM/H", -33.86785, -151.20732, 12.5),
        ("30.274390N, 120.155330E 60kmh", 30.27439, 120.15533, 60.0),
        ("$GPRMC,090002,A,3016.4634,N,12009.3198,E,10.0,0,010326,,", 30.274390, 120.155330, 18.5),
        ("GPS: 30.274390, 120.155330", 30.27439, 120.15533, None),
    ],
)
def test_gps_text_formats(text, lat, lon, speed) -> None:  # type: ignore[no-untyped-def]
    fix = parse_gps(text)
    assert fix is not None
    assert fix.lat == pytest.approx(lat, abs=1e-5) and fix.lon == pytest.approx(lon, abs=1e-5)
    assert fix.speed_kmh == (None if speed is None else pytest.approx(speed, abs=0.1))


@pytest.mark.parametrize("text", ["00:00:02 REC", "speed 40 km/h", "N95.0 E200.0", ""])
def test_text_without_coordinates_is_not_gps(text) -> None:  # type: ignore[no-untyped-def]
    assert parse_gps(text) is None


def test_mov_text_subtitles_become_webvtt(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srt = tmp_path / "s.srt"
    srt.write_text(
        "1\n00:00:00,500 --> 00:00:01,500\n民警 到达现场 --> 开始记录\n\n"
        "2\n00:00:01,500 --> 00:00:02,500\n<i>second</i> line\n",
        encoding="utf-8",
    )
    src = tmp_path / "phone.mp4"
    media_corpus.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=3",
                        "-i", str(srt), "-c:v", "libx264", "-preset", "ultrafast",
                        "-c:s", "mov_text", str(src))  # fmt: skip
    p = probe(src)
    assert any(s.media_type == "subtitle" and s.codec == "mov_text" for s in p.streams)
    track = extract_text_track(src, tmp_path / "out.vtt", tmp_path / "gps.json", p)
    assert track is not None and track.cues == 2 and track.gps is None
    vtt = (tmp_path / "out.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.500 --> 00:00:01.500\n民警 到达现场 → 开始记录\n" in vtt
    assert "second line" in vtt and "<i>" not in vtt
    assert not (tmp_path / "gps.json").exists()


def test_dashcam_gps_track(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "dash.mkv"
    media_corpus.mkv_onekey_subtitles(src)
    r = process(src, tmp_path / "out")
    assert r.status == "ready" and r.text_track is not None
    roles = {o.role: o.name for o in r.outputs}
    assert roles["subtitles"] == "subtitles.vtt" and roles["gps_track"] == "gps.json"
    doc = json.loads((tmp_path / "out" / "gps.json").read_text())
    assert [p["speed_kmh"] for p in doc["points"]] == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    assert doc["points"][2] == {"t": 2.0, "end": 3.0, "lat": 30.27439, "lon": 120.15533,
                                "speed_kmh": 42.0}  # fmt: skip


@pytest.mark.parametrize(("orientation", "upright"), [(1, (4000, 3000)), (6, (3000, 4000)),
                                                      (3, (4000, 3000)), (8, (3000, 4000))])  # fmt: skip
def test_large_photo_is_upright_and_scaled_not_cropped(tmp_path, orientation, upright) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "big.jpg"
    media_corpus.photo_exif(src, size=(4000, 3000), orientation=orientation)
    out = make_photo_outputs(src, tmp_path / "preview.jpg", tmp_path / "thumb.jpg")
    assert (out.info.width, out.info.height) == upright
    with Image.open(tmp_path / "thumb.jpg") as t:
        w, h = t.size
    assert max(w, h) <= 320 and min(w, h) <= 240
    # Scaled as a whole: the aspect ratio of the upright photo is kept (a crop would not).
    assert w / h == pytest.approx(upright[0] / upright[1], rel=0.02)
    with Image.open(tmp_path / "preview.jpg") as pv:
        assert max(pv.size) == 1600
        assert pv.size[0] / pv.size[1] == pytest.approx(upright[0] / upright[1], rel=0.01)
        # The red band marks the top of the stored image; after orientation 6 it is on the right.
        if orientation == 6:
            r, g, b = pv.convert("RGB").getpixel((pv.size[0] - 5, pv.size[1] // 2))
            assert r > 200 and g < 100
    assert out.info.taken_at == "2026-03-01T17:05:09+08:00"
    assert out.info.gps_alt_m == pytest.approx(12.5)


def test_photo_beyond_the_pixel_limit_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "p.jpg"
    media_corpus.photo_exif(src, size=(640, 480))
    with pytest.raises(ValueError, match="pixels"):
        make_photo_outputs(src, tmp_path / "a.jpg", tmp_path / "b.jpg",
                           MediaLimits(max_pixels=1000))  # fmt: skip
