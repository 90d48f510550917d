"""The in-process stream copy into fMP4 HLS (PyAV): the plain-copy engine of transcode.hls."""

from __future__ import annotations

import logging
import os
import time

import av
import av.error

from ._run import Progress
from .limits import TranscodeTimeout
from .presets import HLS_MUXER, PLAYLIST_NAME, SEGMENT_PATTERN
from .probe import ProbeResult

logger = logging.getLogger(__name__)


def pyav_copy_options(workdir: str) -> dict[str, str]:
    """Muxer options of the in-process copy: the same HLS settings as the ffmpeg preset."""
    opts = {k: str(v) for k, v in HLS_MUXER.items() if k != "f"}
    opts["hls_segment_filename"] = os.path.join(workdir.replace("%", "%%"), SEGMENT_PATTERN)
    opts["fflags"] = "+bitexact"
    return opts


def sample_inside(packet: av.Packet, file_size: int) -> bool:
    """True when the packet's bytes lie wholly inside a file of file_size bytes.

    A short read at the end of a truncated file ends exactly at its last byte, so a sample that
    touches the end is treated as cut short; a position the demuxer does not know counts as
    inside."""
    if packet.pos is None or packet.pos < 0:
        return True
    return packet.pos + packet.size < file_size


def pyav_copy(
    src: str,
    workdir: str,
    probe: ProbeResult,
    progress: Progress | None,
    timeout: float | None,
    max_duration_s: float | None,
    *,
    salvage: bool = False,
) -> list[str]:
    """Stream-copy in process: demux, skip packets without dts, mux into the hls muxer.

    A read error part-way (a truncated source) ends the rendition there instead of failing.
    ``salvage`` keeps only whole samples: a sample whose bytes reach the end of a truncated
    file is cut short (the demuxer hands over what is there), and once a video sample is lost
    every later video sample would reference it, so video stops there.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    file_size = os.path.getsize(src) if salvage else None
    video_cut = False
    duration = probe.duration_s or 0.0
    last = -1.0
    playlist = os.path.join(workdir, PLAYLIST_NAME)
    with av.open(src, metadata_errors="replace") as inp:
        streams = [inp.streams.video[0], *inp.streams.audio[:1]]
        with av.open(playlist, "w", format="hls", options=pyav_copy_options(workdir)) as out:
            mapping = {}
            for s in streams:
                o = out.add_stream_from_template(s)
                o.metadata.clear()
                mapping[s.index] = o
            start = inp.start_time / 1_000_000 if inp.start_time else 0.0
            try:
                for packet in inp.demux(streams):
                    if packet.dts is None:
                        continue
                    t = float(packet.dts * packet.time_base) - start
                    if max_duration_s is not None and t >= max_duration_s:
                        continue
                    is_video = packet.stream.type == "video"
                    if file_size is not None and not sample_inside(packet, file_size):
                        video_cut = video_cut or is_video
                        continue
                    if is_video and video_cut:
                        continue
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TranscodeTimeout(f"stream copy did not finish within {timeout:g} s")
                    if progress is not None and duration and t - last >= 1.0:
                        last = t
                        progress(min(1.0, max(0.0, t / duration)))
            except av.error.FFmpegError as exc:
                logger.info("stream copy of %s stopped early: %s", src, exc)
    if progress is not None:
        progress(1.0)
    extra = ["-salvage=whole-samples"] if salvage else []
    return ["pyav-remux", "{src}", *(f"-{k}={v}" for k, v in sorted(HLS_MUXER.items())), *extra]
