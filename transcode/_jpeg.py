"""Encode an RGB numpy image to JPEG bytes with PyAV's mjpeg encoder (no Pillow needed)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.codec.context import Flags

FF_QP2LAMBDA = 118
JPEG_QSCALE = 4  # 2 (best) .. 31 (worst); 4 keeps 160 px thumbnails crisp and small


def encode_jpeg(rgb: np.ndarray, qscale: int = JPEG_QSCALE) -> bytes:
    """JPEG bytes of an (h, w, 3) uint8 RGB array with even width and height."""
    height, width = rgb.shape[:2]
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width = width
    cc.height = height
    cc.pix_fmt = "yuvj420p"
    cc.time_base = Fraction(1, 1)
    # bitexact drops the encoder version comment so the bytes depend on pixels alone.
    cc.flags |= Flags.qscale | Flags.bitexact
    cc.global_quality = qscale * FF_QP2LAMBDA
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    packets = cc.encode(frame) + cc.encode(None)
    return b"".join(bytes(p) for p in packets)
