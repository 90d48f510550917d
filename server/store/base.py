"""The write-once, content-addressed object store interface shared by every backend."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from server.http.errors import BadRequest

if TYPE_CHECKING:
    from server.settings import Settings
    from server.store.staging import UploadStaging

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COPY_BLOCK = 1024 * 1024  # why 1 MiB: large enough that Python overhead vanishes next to hashing


def check_key(sha256: str) -> str:
    """Refuse anything that is not a lowercase hex SHA-256 (keys become file names and S3 keys)."""
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise BadRequest(f"not a lowercase hex SHA-256: {sha256!r}", code="bad_hash")
    return sha256


@dataclass(frozen=True)
class PutResult:
    """What a put did: created a new object, or found the same bytes already stored."""

    sha256: str
    size: int
    created: bool


class ObjectStore(ABC):
    """Content-addressed and write-once: an object's key is its SHA-256; nothing is overwritten
    or deleted through this interface."""

    name: str

    @abstractmethod
    def put_file(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        """Copy a file into the store, verifying its bytes hash to the key."""

    @abstractmethod
    def adopt(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        """Take ownership of a file whose hash the caller computed while writing it (an upload);
        the file is moved (or copied) in and must not be used by the caller afterwards."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """True when an object with this key is stored."""

    @abstractmethod
    def size(self, sha256: str) -> int:
        """Size of the stored object in bytes (ObjectNotFound if absent)."""

    @abstractmethod
    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream the bytes [start, end) of an object in blocks."""

    @abstractmethod
    def iter_keys(self) -> Iterator[str]:
        """Every key in the store (for verification and fixity scrubs)."""

    @abstractmethod
    def check_space(self, incoming: int) -> None:
        """Raise StoreFull when `incoming` more bytes cannot be held; a no-op where unknown."""

    @abstractmethod
    def health(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    def local_path(self, sha256: str) -> Path | None:
        """The object's file for readers that need a path (transcoding, hashing), or None
        where objects are not files here (S3: read with open_range). Never write to it."""
        return None

    def location(self, key: str) -> str:
        """Where an object (or a planted key) lives, for people reading a report."""
        return f"{self.name}:{key}"

    def set_retention(self, sha256: str, until: datetime) -> None:
        """Keep the object at least until `until` where the store itself enforces retention
        (S3 Object Lock; it only ever moves later); local stores are guarded by the API."""
        return None

    def legal_hold(self, sha256: str, on: bool) -> None:
        """Set or release the store's own legal hold on an object, where it has one."""
        return None

    def staging(self, settings: Settings) -> UploadStaging:
        """Where unfinished uploads of this store wait (server/store/staging.py)."""
        raise NotImplementedError(f"store {self.name!r} has no upload staging")

    def stray_files(self) -> Iterator[str]:
        """Anything in the store that is not an object at its own key's place (planted files,
        misplaced or misnamed objects), for verification to report. None by default."""
        return iter(())

    def read_all(self, sha256: str) -> bytes:
        """Whole object in memory: for small objects (manifests, tests) only."""
        return b"".join(self.open_range(sha256))


def stream_file(fileobj: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    """Yield [start, end) of an open binary file in COPY_BLOCK pieces, closing it at the end."""
    with fileobj:
        fileobj.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            n = COPY_BLOCK if remaining is None else min(COPY_BLOCK, remaining)
            chunk = fileobj.read(n)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
