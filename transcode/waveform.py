"""Audio waveform: decode once, mono float, min/max peaks per bucket, written as JSON."""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import av
import av.error
import numpy as np

from ._tools import pyav_version
from .presets import safe_path
from .probe import ProbeResult

logger = logging.getLogger(__name__)

WAVEFORM_VERSION = 1
DECIMALS = 3


@dataclass(frozen=True)
class Waveform:
    """The waveform JSON file and a summary of what it holds."""

    path: str
    sample_rate: int
    peaks_per_second: int
    duration_s: float
    peak_count: int
    tool: str
    tool_version: str
    parameters: dict[str, Any] = field(default_factory=dict)


class _Peaks:
    """Accumulates min/max per bucket over streamed sample blocks (no whole-file buffer)."""

    def __init__(self, bucket: int) -> None:
        self.bucket = bucket
        self.carry = np.empty(0, dtype=np.float32)
        self.mins: list[np.ndarray] = []
        self.maxs: list[np.ndarray] = []
        self.samples = 0

    def add(self, block: np.ndarray) -> None:
        self.samples += block.size
        data = np.concatenate((self.carry, block)) if self.carry.size else block
        full = data.size // self.bucket * self.bucket
        if full:
            shaped = data[:full].reshape(-1, self.bucket)
            self.mins.append(shaped.min(axis=1))
            self.maxs.append(shaped.max(axis=1))
        self.carry = data[full:].copy()

    def finish(self) -> np.ndarray:
        if self.carry.size:
            self.mins.append(np.array([self.carry.min()], dtype=np.float32))
            self.maxs.append(np.array([self.carry.max()], dtype=np.float32))
            self.carry = np.empty(0, dtype=np.float32)
        if not self.mins:
            return np.zeros((0, 2), dtype=np.float32)
        return np.stack((np.concatenate(self.mins), np.concatenate(self.maxs)), axis=1)


def make_waveform(
    src: str | os.PathLike[str],
    out_json: str | os.PathLike[str],
    probe: ProbeResult,
    peaks_per_second: int = 20,
    *,
    max_duration_s: float | None = None,
) -> Waveform:
    """Write the waveform JSON for the first audio stream of src."""
    audio = probe.audio
    if audio is None:
        raise ValueError("the recording has no audio stream")
    src_path = safe_path(src)
    out_path = safe_path(out_json)
    rate = audio.sample_rate or 48000
    bucket = max(1, round(rate / peaks_per_second))
    peaks = _Peaks(bucket)
    limit = None if max_duration_s is None else int(max_duration_s * rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    try:
        with av.open(src_path, metadata_errors="replace") as c:
            stream = c.streams.audio[0]
            for frame in c.decode(stream):
                frame.pts = None  # let the resampler count samples itself
                for out in resampler.resample(frame):
                    peaks.add(out.to_ndarray().reshape(-1))
                if limit is not None and peaks.samples >= limit:
                    break
            for out in resampler.resample(None):
                peaks.add(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # A damaged tail ends the waveform where the decodable audio ends.
        logger.info("waveform of %s stopped after %d samples: %s", src_path, peaks.samples, exc)
    values = np.clip(np.round(peaks.finish().astype(np.float64), DECIMALS), -1.0, 1.0)
    duration = round(peaks.samples / rate, 3)
    doc: dict[str, Any] = {
        "version": WAVEFORM_VERSION,
        "sample_rate": rate,
        "peaks_per_second": peaks_per_second,
        "duration": duration,
        "peaks": [[float(lo), float(hi)] for lo, hi in values.tolist()],
    }
    tmp = f"{out_path}.partial-{uuid.uuid4().hex}"
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, separators=(",", ":"))
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return Waveform(
        path=out_path,
        sample_rate=rate,
        peaks_per_second=peaks_per_second,
        duration_s=duration,
        peak_count=len(doc["peaks"]),
        tool="pyav",
        tool_version=pyav_version(),
        parameters={"peaks_per_second": peaks_per_second, "decimals": DECIMALS, "mono": "mix"},
    )
