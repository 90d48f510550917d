"""Where the bytes of unfinished uploads wait, reachable by every server process.

A tus upload's PATCHes may land on any server behind the proxy, so its staged bytes must live
where all of them reach: a shared folder for the local store (LocalStaging, checked at start
by a marker file whose id the catalogue holds), the bucket itself for S3 (S3Staging in
server/store/s3_staging.py: one multipart upload per tus upload). Progress, the running hash
and the staging's own bookkeeping (`book`, a JSON text) live in the catalogue's `uploads` row,
written in the same transaction as the offset: a staging area never has to be asked how far
an upload got. Every method here is synchronous and blocking: callers run it off the loop.
"""

from __future__ import annotations

import logging
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from server.http.errors import CustodianError

logger = logging.getLogger(__name__)

MARKER = ".custodian-staging-id"
MARK_NAME = "upload_staging_id"


class StagingLost(CustodianError):
    """The staged bytes of an upload are gone (and not already in the store)."""

    status = 410
    code = "upload_gone"


class StagingWriter(ABC):
    """Appends one PATCH body at an offset. `write` may be called many times; then exactly one
    of `keep` (what was written becomes part of the upload) or `drop` (forget it)."""

    @abstractmethod
    def write(self, parts: list[bytes]) -> None: ...

    @abstractmethod
    def keep(self) -> str | None:
        """Make the written bytes durable in the staging; returns the new book."""

    @abstractmethod
    def drop(self) -> None: ...

    def recorded(self) -> None:
        """Called once the book `keep` returned is in the catalogue (tidy-up may follow)."""
        return None


class UploadStaging(ABC):
    """The staging area of one store."""

    location: str  # for messages
    can_rehash: bool = False  # the received prefix can be read back (local files)

    @abstractmethod
    def create(self, upload_id: str) -> str | None:
        """Prepare an empty upload; returns its initial book."""

    @abstractmethod
    def writer(self, upload_id: str, offset: int, book: str | None) -> StagingWriter: ...

    def read_prefix(self, upload_id: str, upto: int) -> Iterable[bytes] | None:
        """The first `upto` staged bytes (cutting anything after them), or None when the
        staged bytes are gone; only where can_rehash."""
        raise NotImplementedError

    def staged_size(self, upload_id: str) -> int | None:
        raise NotImplementedError

    @abstractmethod
    def commit(
        self, upload_id: str, book: str | None, sha256: str, retention_until: datetime | None
    ) -> None:
        """Move every staged byte into the store as object `sha256` (the caller checked the
        hash); idempotent, so an interrupted commit can be finished. StagingLost when the bytes
        are gone and the object is not in the store."""

    @abstractmethod
    def discard(self, upload_id: str, book: str | None) -> None: ...

    @abstractmethod
    def discard_unknown(self, known: set[str], older_than: datetime) -> int:
        """Delete staged uploads last written before `older_than` whose id is not in `known`
        (left by a crash); how many."""

    def check_shared(
        self, get_mark: Callable[[], str | None], set_mark: Callable[[str], str]
    ) -> None:
        """Raise when this process does not see the staging the others see (a no-op where the
        staging is shared by construction)."""
        return None


# -- local folder -----------------------------------------------------------------------------
class LocalWriter(StagingWriter):
    def __init__(self, path: Path, offset: int):
        self.path = path
        self.offset = offset
        self.f: BinaryIO = open(path, "r+b")  # noqa: SIM115 - closed in keep/drop
        self.f.seek(offset)
        self.f.truncate(offset)

    def write(self, parts: list[bytes]) -> None:
        for data in parts:
            self.f.write(data)

    def keep(self) -> str | None:
        self.f.close()
        return None

    def drop(self) -> None:
        try:
            self.f.truncate(self.offset)
        finally:
            self.f.close()


class LocalStaging(UploadStaging):
    """One partial file per upload in a folder on the store's filesystem (the commit is then a
    link, not a copy). With several servers the folder must be shared (NFS, CephFS, ...)."""

    can_rehash = True

    def __init__(self, folder: Path, adopt: Callable[..., Any], exists: Callable[[str], bool]):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.location = str(self.dir)
        self._adopt, self._exists = adopt, exists

    def part_path(self, upload_id: str) -> Path:
        return self.dir / f"upload-{upload_id}.part"

    def create(self, upload_id: str) -> str | None:
        self.part_path(upload_id).touch(exist_ok=False)
        return None

    def writer(self, upload_id: str, offset: int, book: str | None) -> StagingWriter:
        try:
            return LocalWriter(self.part_path(upload_id), offset)
        except FileNotFoundError:
            raise StagingLost(
                f"upload {upload_id} lost its partial file; start a new upload"
            ) from None

    def staged_size(self, upload_id: str) -> int | None:
        try:
            return self.part_path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    def read_prefix(self, upload_id: str, upto: int) -> Iterable[bytes] | None:
        path = self.part_path(upload_id)
        try:
            f = open(path, "r+b")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            return None

        def blocks() -> Iterable[bytes]:
            with f:
                f.truncate(upto)  # bytes past the recorded offset were never acknowledged
                done = 0
                while done < upto:
                    data = f.read(min(1024 * 1024, upto - done))
                    if not data:
                        break
                    done += len(data)
                    yield data

        return blocks()

    def commit(
        self, upload_id: str, book: str | None, sha256: str, retention_until: datetime | None
    ) -> None:
        path = self.part_path(upload_id)
        if path.exists():
            self._adopt(path, sha256, retention_until=retention_until)
        elif not self._exists(sha256):
            raise StagingLost(
                f"upload {upload_id} lost its bytes before they were stored; upload again"
            )

    def discard(self, upload_id: str, book: str | None) -> None:
        self.part_path(upload_id).unlink(missing_ok=True)

    def discard_unknown(self, known: set[str], older_than: datetime) -> int:
        n = 0
        cutoff = older_than.timestamp()
        for p in self.dir.glob("upload-*.part"):
            uid = p.name.removeprefix("upload-").removesuffix(".part")
            try:
                old = p.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if uid not in known and old:
                p.unlink(missing_ok=True)
                n += 1
        return n

    def check_shared(
        self, get_mark: Callable[[], str | None], set_mark: Callable[[str], str]
    ) -> None:
        """The first server writes a random id into the folder and the catalogue; every
        later one must find the catalogue's id in its folder, or it is not looking at the
        same (shared) folder and would lose the PATCHes routed to it."""
        marker = self.dir / MARKER
        try:
            here = marker.read_text().strip() or None
        except FileNotFoundError:
            here = None
        expected = get_mark()
        if expected is None:
            if here is None:
                here = uuid.uuid4().hex
                tmp = self.dir / f"{MARKER}.{os.getpid()}"
                tmp.write_text(here + "\n")
                os.replace(tmp, marker)
            expected = set_mark(here)  # another server may have won the race
        if here != expected:
            raise CustodianError(
                f"the upload staging folder {self.dir} is not the one the other servers of this "
                f"catalogue use (its marker {MARKER} holds {here or 'nothing'}, the catalogue "
                f"expects {expected}): give every server the same shared folder in setting "
                "upload_staging_path (or the same store_path); if the folder was moved on "
                f"purpose, copy the file {MARKER} into it",
                code="staging_not_shared",
            )
