"""SHA-256 and size of a derived file, through integrity.hashing (one read)."""

from __future__ import annotations

import os

from integrity.hashing import hash_file


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return (hex sha256, size in bytes) of a file, reading it once."""
    size = [0]

    def count(done: int) -> None:
        size[0] = done

    digest = hash_file(path, progress=count)["sha256"].hex
    return digest, size[0]
