"""Streamed SHA-256 of a file (stand-in until integrity.hashing is importable everywhere)."""

from __future__ import annotations

import hashlib
import os

BLOCK_SIZE = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return (hex sha256, size in bytes) of a file, reading it once in 1 MiB blocks."""
    digest = hashlib.sha256()
    buf = bytearray(BLOCK_SIZE)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size
