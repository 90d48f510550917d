"""The one classifier of evidence kinds (video, audio, photo, document, other), by content or by
name, in the catalogue's vocabulary. Import-light (no PyAV): intake uses it on every upload."""

from __future__ import annotations

import mimetypes
import os
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .probe import ProbeResult

Kind = Literal["video", "audio", "photo", "document", "other"]
KINDS: tuple[Kind, ...] = ("video", "audio", "photo", "document", "other")
AV_KINDS: frozenset[Kind] = frozenset({"video", "audio", "photo"})

# Names first (mimetypes varies with the machine's /etc/mime.types: ".ts" may be Qt text there).
VIDEO_EXT = frozenset(
    {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".ts", ".mts", ".3gp", ".webm", ".dav", ".h264",
     ".h265", ".264", ".265"}
)  # fmt: skip
AUDIO_EXT = frozenset({".m4a", ".aac", ".wav", ".mp3", ".amr", ".ogg", ".opus", ".flac"})
PHOTO_EXT = frozenset({".jpg", ".jpeg", ".png", ".heic", ".webp"})
DOCUMENT_EXT = frozenset({".pdf", ".doc", ".docx", ".odt", ".txt", ".xls", ".xlsx"})
_BY_MIME: dict[str, Kind] = {"video": "video", "audio": "audio", "image": "photo"}
# Still-image formats and codecs: a single frame of these is a photo, not a video.
IMAGE_CODECS = frozenset({"png", "mjpeg", "webp", "bmp"})


def kind_from_name(name: str, default: Kind = "other") -> Kind:
    """The kind a file name suggests (before or without reading the content)."""
    ext = os.path.splitext(name)[1].lower()
    if ext in VIDEO_EXT:
        return "video"
    if ext in AUDIO_EXT:
        return "audio"
    if ext in PHOTO_EXT:
        return "photo"
    mime, _ = mimetypes.guess_type(name)
    if mime and mime.split("/")[0] in _BY_MIME:
        return _BY_MIME[mime.split("/")[0]]
    if ext in DOCUMENT_EXT:
        return "document"
    return default


def kind_from_probe(result: ProbeResult) -> Kind:
    """The kind the content shows: video, audio, photo, or document (no audio or video)."""
    from .probe import is_image_format

    video = result.video
    if video is not None:
        single_frame = (video.frames or 0) <= 1 and not result.duration_s
        if is_image_format(result.format) or (video.codec in IMAGE_CODECS and single_frame):
            return "photo"
        return "video"
    if result.audio is not None:
        return "audio"
    return "document"
