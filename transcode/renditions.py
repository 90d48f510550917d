"""Names of an item's derived files (relative to its rendition area), as the media pipeline
writes them and the server serves and links them. Import-light: no PyAV."""

from __future__ import annotations

HLS_DIR = "hls"
PLAYLIST_NAME = "index.m3u8"
INIT_NAME = "init.mp4"
SEGMENT_PATTERN = "seg-%05d.m4s"
TRICKPLAY_DIR = "trickplay"
TRICKPLAY_VTT_NAME = "thumbnails.vtt"

HLS_PLAYLIST = f"{HLS_DIR}/{PLAYLIST_NAME}"
TRICKPLAY_VTT = f"{TRICKPLAY_DIR}/{TRICKPLAY_VTT_NAME}"
WAVEFORM = "waveform.json"
PREVIEW = "preview.jpg"
THUMBNAIL = "thumb.jpg"
SUBTITLES = "subtitles.vtt"
GPS_TRACK = "gps.json"

# The key under which the API links each single-file rendition of an item.
LINKS: dict[str, str] = {
    HLS_PLAYLIST: "hls",
    TRICKPLAY_VTT: "thumbnails",
    WAVEFORM: "waveform",
    PREVIEW: "preview",
    THUMBNAIL: "thumbnail",
    SUBTITLES: "subtitles",
    GPS_TRACK: "gps",
}
# What each linked rendition is called in an item's URL (/api/v1/evidence/{id}/<url name>).
URL_NAMES: dict[str, str] = {
    HLS_PLAYLIST: HLS_PLAYLIST,
    TRICKPLAY_VTT: TRICKPLAY_VTT_NAME,
    WAVEFORM: WAVEFORM,
    PREVIEW: PREVIEW,
    THUMBNAIL: THUMBNAIL,
    SUBTITLES: SUBTITLES,
    GPS_TRACK: GPS_TRACK,
}


def links(base: str, names: set[str] | frozenset[str]) -> dict[str, str]:
    """The API links of the renditions among `names`, under the item's URL `base`."""
    return {key: f"{base}/{URL_NAMES[name]}" for name, key in LINKS.items() if name in names}
