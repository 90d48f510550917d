"""Locations and versions of the external tools (static ffmpeg, PyAV)."""

from __future__ import annotations

import functools
import subprocess

import av
import imageio_ffmpeg


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the static ffmpeg binary shipped with imageio-ffmpeg."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@functools.cache
def ffmpeg_version() -> str:
    """Version token of that binary, e.g. ``n9.0.2-17-g2a571b6068-20260930``."""
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    ).stdout
    first = out.splitlines()[0] if out else ""
    parts = first.split()
    return parts[2] if len(parts) > 2 and parts[0] == "ffmpeg" else first.strip() or "unknown"


@functools.cache
def pyav_version() -> str:
    """PyAV version with the libavcodec it bundles, since both shape decoded output."""
    major, minor, micro = av.library_versions["libavcodec"]
    return f"{av.__version__} (libavcodec {major}.{minor}.{micro})"
