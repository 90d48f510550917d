"""A corpus of small real files of every kind that arrives at an agency (issue 14), made with the
ffmpeg binary (and Pillow for the photo's EXIF): body-camera AVI, dashcam MKV with GPS subtitles,
truncated MP4, H.264/H.265/HEVC 10-bit, MJPEG, MPEG-2 PS, long-GOP MPEG-TS, a 0.3 s clip,
interview audio, a photo and a PDF.

Each entry names the status the pipeline must reach; the browser test plays every video rendition.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

SIZE = "320x240"
FPS = 25
# Dashcam GPS text as such devices write it into a subtitle track, one line per second.
GPS_LINES = [
    "2026-03-01 09:00:0{s} N30.27415 E120.15515 {v} km/h",
]


@dataclass(frozen=True)
class CorpusFile:
    """One generated file and the outcome the pipeline must reach for it."""

    name: str  # class id, stable across runs
    path: Path
    kind: str  # catalogue kind
    status: str  # final status expected
    label: str  # what it stands for


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *args,
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )


def _video(seconds: float, size: str = SIZE, fps: int = FPS) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]


def _tone(seconds: float, rate: int = 48000, freq: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}"]


def _x264(gop: int, preset: str = "veryfast") -> list[str]:
    # veryfast (not ultrafast) so B-frames are present, as in real camera streams.
    return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
    ]


def avi_h264_ulaw(path: Path) -> None:
    """Body camera: H.264 in AVI with G.711 mu-law audio (AVI carries no pts for H.264)."""
    ffmpeg(
        *_video(4),
        *_tone(4, 8000),
        *_x264(50),
        "-c:a",
        "pcm_mulaw",
        "-ar",
        "8000",
        "-shortest",
        "-f",
        "avi",
        str(path),
    )


def mkv_onekey_subtitles(path: Path) -> None:
    """Dashcam: H.264 with one keyframe for the whole file, and a GPS text subtitle track."""
    srt = path.with_suffix(".srt")
    cues = []
    for s in range(6):
        text = f"2026-03-01 09:00:{s:02d} N30.{27415 + 12 * s:05d} E120.{15515 + 9 * s:05d} {40 + s} km/h"
        cues.append(f"{s + 1}\n00:00:{s:02d},000 --> 00:00:{s + 1:02d},000\n{text}\n")
    srt.write_text("\n".join(cues), encoding="utf-8")
    ffmpeg(
        *_video(6),
        *_tone(6),
        "-i",
        str(srt),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        *_x264(100000),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-c:s",
        "srt",
        "-shortest",
        "-f",
        "matroska",
        str(path),
    )


def mp4_h264_aac(path: Path, seconds: float = 4, faststart: bool = True) -> None:
    args = [
        *_video(seconds),
        *_tone(seconds),
        *_x264(2 * FPS),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
    ]
    if faststart:
        args += ["-movflags", "+faststart"]
    ffmpeg(*args, str(path))


def mp4_truncated_front_index(path: Path) -> None:
    """Power cut while recording: index at the front, the tail of the data missing."""
    whole = path.with_name(path.stem + "-whole.mp4")
    mp4_h264_aac(whole, seconds=8, faststart=True)
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.55)])
    whole.unlink()


def mp4_h265(path: Path) -> None:
    ffmpeg(
        *_video(3),
        *_tone(3),
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "log-level=error:keyint=50:min-keyint=50",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        str(path),
    )


def mov_hevc10_rotated(path: Path) -> None:
    """Phone: HEVC Main 10 in MOV with a 90 degree display rotation."""
    plain = path.with_name(path.stem + "-plain.mov")
    ffmpeg(
        *_video(3),
        *_tone(3),
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        "-tag:v",
        "hvc1",
        "-x265-params",
        "log-level=error:keyint=50:min-keyint=50",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        "-f",
        "mov",
        str(plain),
    )
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", "-f", "mov", str(path))
    plain.unlink()


def avi_mjpeg(path: Path) -> None:
    ffmpeg(
        *_video(3),
        *_tone(3, 16000),
        "-c:v",
        "mjpeg",
        "-q:v",
        "6",
        "-pix_fmt",
        "yuvj420p",
        "-c:a",
        "pcm_s16le",
        "-shortest",
        "-f",
        "avi",
        str(path),
    )


def mpeg2_ps(path: Path) -> None:
    """DVR export: MPEG-2 video + MP2 audio in an MPEG program stream."""
    ffmpeg(
        *_video(3, "352x288"),
        *_tone(3),
        "-c:v",
        "mpeg2video",
        "-q:v",
        "5",
        "-g",
        "12",
        "-c:a",
        "mp2",
        "-b:a",
        "128k",
        "-shortest",
        "-f",
        "vob",
        str(path),
    )


def ts_long_gop(path: Path) -> None:
    """NVR: H.264 in MPEG-TS with a 10 s GOP (one keyframe per 10 s)."""
    ffmpeg(
        *_video(8),
        *_tone(8),
        *_x264(250),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-shortest",
        "-f",
        "mpegts",
        str(path),
    )


def mp4_short(path: Path) -> None:
    mp4_h264_aac(path, seconds=0.3)


def _speech(seconds: float, rate: int) -> list[str]:
    # A tone whose loudness rises and falls like speech, so the waveform has a shape.
    expr = "sin(2*PI*330*t)*(0.1+0.8*abs(sin(2*PI*0.9*t))*abs(sin(2*PI*3.1*t)))"
    return ["-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}"]


def wav(codec: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        ffmpeg(*_speech(3, 8000), "-c:a", codec, "-ar", "8000", "-ac", "1", str(path))

    return make


def m4a(path: Path) -> None:
    ffmpeg(*_tone(3, 44100, 330), "-c:a", "aac", "-b:a", "64k", str(path))


def amr_available() -> bool:
    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "amr_nb" in out or "libopencore_amrnb" in out


def amr(path: Path) -> None:
    ffmpeg(*_tone(3, 8000, 330), "-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1", str(path))


def photo_exif(path: Path, *, size: tuple[int, int] = (640, 480), orientation: int = 6) -> None:
    """A landscape JPEG whose EXIF says 'rotate 90 clockwise to view' (a phone held upright),
    with the time it was taken and a GPS position."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (40, 90, 160))
    draw = ImageDraw.Draw(img)
    # An arrow pointing at the top of the stored image: after orientation 6 it points right.
    w, hgt = size
    draw.rectangle([0, 0, w - 1, hgt // 6], fill=(230, 60, 40))
    draw.polygon(
        [(w // 2, hgt // 6), (w // 2 - 60, hgt // 2), (w // 2 + 60, hgt // 2)], fill=(250, 220, 40)
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    exif[0x0110] = "DSJ-X1"
    exif_ifd = {0x9003: "2026:03:01 17:05:09", 0x9011: "+08:00"}
    gps_ifd = {
        0x0001: "N",
        0x0002: (30.0, 16.0, 26.94),
        0x0003: "E",
        0x0004: (120.0, 9.0, 18.54),
        0x0005: b"\x00",
        0x0006: 12.5,
    }
    exif[0x8769] = exif_ifd
    exif[0x8825] = gps_ifd
    img.save(path, "JPEG", quality=85, exif=exif.tobytes())


def pdf(path: Path) -> None:
    """A one-page PDF (scanned-paper stand-in) made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 24)
    c.drawString(72, 760, "On-site inspection record No. 17")
    c.rect(72, 500, 300, 200)
    c.showPage()
    c.save()


# (class id, file name, maker, kind, expected status, label)
CLASSES: list[tuple[str, str, Callable[[Path], None], str, str, str]] = [
    (
        "avi_h264_ulaw",
        "DSJ001_20260301090000.avi",
        avi_h264_ulaw,
        "video",
        "ready",
        "AVI H.264 + G.711 mu-law (body camera)",
    ),
    (
        "mkv_onekey_gps",
        "DASH01_20260301090000.mkv",
        mkv_onekey_subtitles,
        "video",
        "ready",
        "MKV H.264 one keyframe + GPS subtitle (dashcam)",
    ),
    (
        "mp4_truncated",
        "DSJ002_20260301090000.mp4",
        mp4_truncated_front_index,
        "video",
        "damaged",
        "truncated MP4, index at the front",
    ),
    ("mp4_h264_aac", "PHONE_h264.mp4", mp4_h264_aac, "video", "ready", "H.264/AAC MP4"),
    ("mp4_h265", "PHONE_h265.mp4", mp4_h265, "video", "ready", "H.265 MP4"),
    (
        "mov_hevc10_rot",
        "IMG_0001.mov",
        mov_hevc10_rotated,
        "video",
        "ready",
        "HEVC 10-bit MOV rotated 90",
    ),
    ("avi_mjpeg", "CAM_mjpeg.avi", avi_mjpeg, "video", "ready", "MJPEG AVI"),
    ("mpeg2_ps", "DVR_ch01.mpg", mpeg2_ps, "video", "ready", "MPEG-2 program stream"),
    ("ts_long_gop", "NVR_ch02.ts", ts_long_gop, "video", "ready", "MPEG-TS, 10 s GOP"),
    ("mp4_short", "DSJ003_short.mp4", mp4_short, "video", "ready", "0.3 s clip"),
    ("wav_pcm", "interview_pcm.wav", wav("pcm_s16le"), "audio", "ready", "WAV PCM"),
    ("wav_alaw", "interview_alaw.wav", wav("pcm_alaw"), "audio", "ready", "WAV A-law"),
    ("wav_mulaw", "interview_mulaw.wav", wav("pcm_mulaw"), "audio", "ready", "WAV mu-law"),
    ("m4a", "interview.m4a", m4a, "audio", "ready", "M4A AAC"),
    (
        "photo",
        "IMG_20260301_170509.jpg",
        photo_exif,
        "photo",
        "ready",
        "JPEG photo, EXIF orientation 6 + GPS",
    ),
]


def build(directory: Path, only: set[str] | None = None) -> dict[str, CorpusFile]:
    """Generate the corpus into directory (cached: existing files are kept)."""
    directory.mkdir(parents=True, exist_ok=True)
    classes = list(CLASSES)
    if amr_available():
        classes.append(("amr", "interview.amr", amr, "audio", "ready", "AMR-NB"))
    out: dict[str, CorpusFile] = {}
    for cid, name, maker, kind, status, label in classes:
        if only is not None and cid not in only:
            continue
        path = directory / name
        if not path.exists():
            maker(path)
        out[cid] = CorpusFile(cid, path, kind, status, label)
    return out
