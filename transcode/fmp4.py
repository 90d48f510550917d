"""A small reader of fragmented MP4 boxes (init: moov/trak/mdhd/hdlr/trex; segments:
moof/tfhd/tfdt/trun): sample timing, sizes, positions and sync flags without demuxing payloads.

It lets the self-check verify timestamps, keyframes and sample bounds of a long rendition by
reading a few kilobytes of box headers per segment instead of every sample."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf"})
MAX_BOX_DEPTH = 8
MAX_SAMPLES_PER_RUN = 1_000_000
NON_SYNC = 0x00010000


class BoxError(ValueError):
    """The bytes are not well-formed ISO BMFF."""


@dataclass
class Track:
    """What the init segment says about one track."""

    track_id: int
    handler: str = ""
    timescale: int = 0
    default_duration: int = 0
    default_size: int = 0
    default_flags: int = 0


@dataclass
class Sample:
    """One sample of a fragment: decode time and composition offset in track units."""

    dts: int
    duration: int
    cts_offset: int
    size: int
    pos: int  # byte offset in the segment file
    sync: bool


@dataclass
class Fragment:
    """One track's samples in one segment file: the first and last sample, and what the
    check needs of all of them (kept as aggregates: a long rendition has ~70 samples/s)."""

    track_id: int
    count: int = 0
    first: Sample | None = None
    last: Sample | None = None
    min_pts: int | None = None  # dts + composition offset, track units
    max_end: int | None = None  # pts + duration
    first_dts: int = 0
    end_dts: int = 0  # dts after the last sample
    zero_durations: int = 0  # samples with no duration (the next one would repeat its dts)
    max_byte_end: int = 0  # furthest byte any sample reaches
    min_pos: int = 0
    empty_samples: int = 0


def _boxes(fh: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes between start and end."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                raise BoxError("truncated large box header")
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise BoxError(f"box {kind!r} at {pos} has size {size}")
        yield kind, pos, pos + header, min(end, pos + size)
        pos += size


def read_init(path: str | os.PathLike[str]) -> dict[int, Track]:
    """Tracks of an init segment, keyed by track id."""
    tracks: dict[int, Track] = {}
    defaults: dict[int, tuple[int, int, int]] = {}
    with open(path, "rb") as fh:
        end = os.fstat(fh.fileno()).st_size
        for kind, _s, body, stop in _boxes(fh, 0, end):
            if kind != b"moov":
                continue
            for k2, _s2, b2, e2 in _boxes(fh, body, stop):
                if k2 == b"trak":
                    t = _read_trak(fh, b2, e2)
                    if t is not None:
                        tracks[t.track_id] = t
                elif k2 == b"mvex":
                    for k3, _s3, b3, _e3 in _boxes(fh, b2, e2):
                        if k3 == b"trex":
                            fh.seek(b3)
                            data = fh.read(24)
                            if len(data) == 24:
                                _vf, tid, _sdi, dur, size, flags = struct.unpack(">IIIIII", data)
                                defaults[tid] = (dur, size, flags)
    for tid, (dur, size, flags) in defaults.items():
        if tid in tracks:
            tracks[tid].default_duration = dur
            tracks[tid].default_size = size
            tracks[tid].default_flags = flags
    return tracks


def _read_trak(fh: BinaryIO, start: int, end: int) -> Track | None:
    track: Track | None = None
    handler, timescale = "", 0
    for kind, _s, body, stop in _boxes(fh, start, end):
        if kind == b"tkhd":
            fh.seek(body)
            version = fh.read(1)[0]
            fh.seek(body + (20 if version == 1 else 12))
            track = Track(struct.unpack(">I", fh.read(4))[0])
        elif kind == b"mdia":
            for k2, _s2, b2, _e2 in _boxes(fh, body, stop):
                if k2 == b"mdhd":
                    fh.seek(b2)
                    version = fh.read(1)[0]
                    fh.seek(b2 + (20 if version == 1 else 12))
                    timescale = struct.unpack(">I", fh.read(4))[0]
                elif k2 == b"hdlr":
                    fh.seek(b2 + 8)
                    handler = fh.read(4).decode("latin-1")
    if track is not None:
        track.handler, track.timescale = handler, timescale
    return track


def read_segment(path: str | os.PathLike[str], tracks: dict[int, Track]) -> list[Fragment]:
    """Every track fragment of a media segment with its samples (positions in this file)."""
    out: list[Fragment] = []
    with open(path, "rb") as fh:
        end = os.fstat(fh.fileno()).st_size
        for kind, start, body, stop in _boxes(fh, 0, end):
            if kind != b"moof":
                continue
            for k2, _s2, b2, e2 in _boxes(fh, body, stop):
                if k2 == b"traf":
                    out.append(_read_traf(fh, b2, e2, start, tracks))
    return out


def _read_traf(fh: BinaryIO, start: int, end: int, moof: int, tracks: dict[int, Track]) -> Fragment:
    tid = 0
    base = moof
    dur = size = flags = 0
    dts: int | None = None
    frag = Fragment(0)
    runs: list[tuple[int, int]] = []
    for kind, _s, body, stop in _boxes(fh, start, end):
        fh.seek(body)
        if kind == b"tfhd":
            vf, tid = struct.unpack(">II", fh.read(8))
            tf = vf & 0xFFFFFF
            track = tracks.get(tid) or Track(tid)
            dur, size, flags = track.default_duration, track.default_size, track.default_flags
            if tf & 0x01:
                base = struct.unpack(">Q", fh.read(8))[0]
            if tf & 0x02:
                fh.read(4)
            if tf & 0x08:
                dur = struct.unpack(">I", fh.read(4))[0]
            if tf & 0x10:
                size = struct.unpack(">I", fh.read(4))[0]
            if tf & 0x20:
                flags = struct.unpack(">I", fh.read(4))[0]
        elif kind == b"tfdt":
            version = fh.read(4)[0]
            dts = struct.unpack(">Q" if version == 1 else ">I", fh.read(8 if version == 1 else 4))[
                0
            ]
        elif kind == b"trun":
            runs.append((body, stop))
    frag.track_id = tid
    t = dts or 0
    frag.first_dts = t
    min_pts: int | None = None
    max_end: int | None = None
    min_pos: int | None = None
    for body, _stop in runs:
        fh.seek(body)
        vf, count = struct.unpack(">II", fh.read(8))
        version, rf = vf >> 24, vf & 0xFFFFFF
        if count > MAX_SAMPLES_PER_RUN:
            raise BoxError(f"trun declares {count} samples")
        data_offset = struct.unpack(">i", fh.read(4))[0] if rf & 0x01 else 0
        first_flags = struct.unpack(">I", fh.read(4))[0] if rf & 0x04 else None
        names = [n for bit, n in ((0x100, "dur"), (0x200, "size"), (0x400, "flags"), (0x800, "cts"))
                 if rf & bit]  # fmt: skip
        raw = fh.read(4 * len(names) * count)
        if len(raw) < 4 * len(names) * count:
            raise BoxError("trun runs past its box")
        fmt = ">" + "".join("i" if (n == "cts" and version == 1) else "I" for n in names)
        i_dur = names.index("dur") if "dur" in names else -1
        i_size = names.index("size") if "size" in names else -1
        i_flags = names.index("flags") if "flags" in names else -1
        i_cts = names.index("cts") if "cts" in names else -1
        pos = base + data_offset
        rows = struct.iter_unpack(fmt, raw) if names else iter([()] * count)
        for i, v in enumerate(rows):
            s_dur = v[i_dur] if i_dur >= 0 else dur
            s_size = v[i_size] if i_size >= 0 else size
            cts = v[i_cts] if i_cts >= 0 else 0
            pts = t + cts
            if min_pts is None or pts < min_pts:
                min_pts = pts
            if max_end is None or pts + s_dur > max_end:
                max_end = pts + s_dur
            if s_dur <= 0:
                frag.zero_durations += 1
            if s_size <= 0:
                frag.empty_samples += 1
            if min_pos is None or pos < min_pos:
                min_pos = pos
            if i == 0 or i == count - 1:
                s_flags = (
                    v[i_flags]
                    if i_flags >= 0
                    else (first_flags if i == 0 and first_flags is not None else flags)
                )
                sample = Sample(t, s_dur, cts, s_size, pos, not (s_flags & NON_SYNC))
                if frag.first is None:
                    frag.first = sample
                frag.last = sample
            t += s_dur
            pos += s_size
            if pos > frag.max_byte_end:
                frag.max_byte_end = pos
        frag.count += count
    frag.end_dts = t
    frag.min_pts, frag.max_end, frag.min_pos = min_pts, max_end, min_pos or 0
    return frag
