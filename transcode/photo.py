"""Photos: EXIF read (orientation, time taken, GPS, camera), an upright preview and a scaled
(never cropped) thumbnail."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .limits import MediaLimits

logger = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 1600
THUMB_BOX = (320, 240)
JPEG_QUALITY = 85
THUMB_QUALITY = 80

_ORIENTATION = 0x0112
_MAKE, _MODEL = 0x010F, 0x0110
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x0132, 0x9003, 0x9011


@dataclass(frozen=True)
class PhotoInfo:
    """What the photo's EXIF says, plus its upright size."""

    width: int
    height: int
    orientation: int = 1
    taken_at: str | None = (
        None  # RFC 3339 when EXIF gives an offset, else local "YYYY-MM-DDTHH:MM:SS"
    )
    taken_at_offset: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_alt_m: float | None = None
    make: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class PhotoOutputs:
    """The preview and thumbnail files and the EXIF facts."""

    preview: str
    thumbnail: str
    info: PhotoInfo
    tool: str
    tool_version: str
    parameters: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip().strip("\x00")
    return text[:128] or None


def _dms(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60 + s / 3600
    ref_text = _text(ref) or ""
    if ref_text.upper() in ("S", "W"):
        deg = -deg
    return round(deg, 6)


def _taken_at(dt: str | None, offset: str | None) -> str | None:
    if not dt:
        return None
    try:
        parsed = datetime.strptime(dt[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    text = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    if offset and len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        return text + offset
    return text


def read_exif(img: Any) -> dict[str, Any]:
    """Orientation, time, GPS and camera from a Pillow image's EXIF (missing keys omitted)."""
    out: dict[str, Any] = {}
    try:
        exif = img.getexif()
    except (OSError, ValueError, SyntaxError):
        return out
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        out["orientation"] = orientation
    out["make"], out["model"] = _text(exif.get(_MAKE)), _text(exif.get(_MODEL))
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except (KeyError, OSError, ValueError):
        sub = {}
    dt = _text(sub.get(_DATETIME_ORIGINAL)) or _text(exif.get(_DATETIME))
    offset = _text(sub.get(_OFFSET_ORIGINAL))
    out["taken_at"] = _taken_at(dt, offset)
    out["taken_at_offset"] = offset
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except (KeyError, OSError, ValueError):
        gps = {}
    if gps:
        lat = _dms(gps.get(2), gps.get(1)) if 2 in gps else None
        lon = _dms(gps.get(4), gps.get(3)) if 4 in gps else None
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            out["gps_lat"], out["gps_lon"] = lat, lon
            try:
                alt = float(gps[6]) if 6 in gps else None
            except (TypeError, ValueError, ZeroDivisionError):
                alt = None
            if alt is not None:
                below = gps.get(5) in (1, b"\x01")
                out["gps_alt_m"] = round(-alt if below else alt, 2)
    return {k: v for k, v in out.items() if v is not None}


def _save_jpeg(img: Any, path: str, quality: int) -> None:
    tmp = f"{path}.partial-{uuid.uuid4().hex}"
    try:
        img.save(tmp, "JPEG", quality=quality, optimize=False, progressive=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def make_photo_outputs(
    src: str | os.PathLike[str],
    preview_path: str | os.PathLike[str],
    thumb_path: str | os.PathLike[str],
    limits: MediaLimits | None = None,
) -> PhotoOutputs:
    """Upright preview (long side at most 1600 px) and a thumbnail scaled to fit 320x240,
    with the EXIF facts; raises ValueError when the image cannot be read."""
    import PIL
    from PIL import Image, ImageOps

    limits = limits or MediaLimits()
    src = os.fspath(src)
    # The size is checked from the header before any pixel is decoded (Pillow's own bomb
    # check stays at its default; changing that global would affect the whole process).
    try:
        with Image.open(src) as img:
            if img.width * img.height > limits.max_pixels:
                raise ValueError(f"the photo has {img.width * img.height} pixels; limit exceeded")
            exif = read_exif(img)
            img.load()
            upright = ImageOps.exif_transpose(img) or img
            upright = upright.convert("RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the photo cannot be decoded: {exc}") from exc
    width, height = upright.size
    preview = upright.copy()
    preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
    _save_jpeg(preview, os.fspath(preview_path), JPEG_QUALITY)
    thumb = upright.copy()
    # thumbnail() keeps the aspect ratio and fits inside the box: scaled, never cropped.
    thumb.thumbnail(THUMB_BOX, Image.Resampling.LANCZOS)
    _save_jpeg(thumb, os.fspath(thumb_path), THUMB_QUALITY)
    info = PhotoInfo(width=width, height=height, **exif)
    return PhotoOutputs(
        preview=os.fspath(preview_path),
        thumbnail=os.fspath(thumb_path),
        info=info,
        tool="pillow",
        tool_version=PIL.__version__,
        parameters={
            "orientation_applied": info.orientation,
            "preview_max_side": PREVIEW_MAX_SIDE,
            "thumb_box": list(THUMB_BOX),
            "quality": JPEG_QUALITY,
        },
    )
