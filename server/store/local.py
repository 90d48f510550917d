"""Local write-once store: files named by their SHA-256 under one folder."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from server.http.errors import (
    ObjectMismatch,
    ObjectNotFound,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from server.store.base import (
    SHA256_RE,
    ObjectStore,
    PutResult,
    check_key,
    stream_file,
)

if TYPE_CHECKING:
    from server.settings import Settings
    from server.store.staging import UploadStaging

logger = logging.getLogger(__name__)


PIPE_BLOCK = 4 * 1024 * 1024


def _copy_hashing(src_path: Path, dst_path: Path) -> str:
    """Copy src to a new file dst, fsynced, returning the SHA-256 of exactly the bytes written.

    Each block is read once into one of two buffers; a writer thread writes it while this
    thread hashes it (hashlib and file writes release the GIL), so hashing and writing overlap
    instead of adding up. A buffer is refilled only after its write has finished."""
    digest = hashlib.sha256()
    buffers = [bytearray(PIPE_BLOCK), bytearray(PIPE_BLOCK)]
    writes: list[Future[int] | None] = [None, None]
    with (
        open(src_path, "rb", buffering=0) as src,
        open(dst_path, "xb", buffering=0) as dst,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write") as writer,
    ):
        i = offset = 0
        while True:
            pending = writes[i]
            if pending is not None:
                pending.result()
            n = src.readinto(buffers[i])
            if not n:
                break
            view = memoryview(buffers[i])[:n]
            writes[i] = writer.submit(_write_all, dst, view, offset)
            offset += n
            digest.update(view)
            i ^= 1
        for pending in writes:
            if pending is not None:
                pending.result()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _write_all(f: BinaryIO, view: memoryview, offset: int) -> int:
    done = 0
    while done < len(view):
        done += f.write(view[done:]) or 0
    # Start writing this block to disk now (Linux begins writeback of dirty pages on
    # DONTNEED), so the final fsync waits for the last blocks only, not the whole file.
    os.posix_fadvise(f.fileno(), offset, done, os.POSIX_FADV_DONTNEED)
    return done


class LocalStore(ObjectStore):
    """Objects at ROOT/ab/cd/<sha256>, read-only once in place; temp files in ROOT/.tmp on the
    same filesystem so the final step is an atomic link."""

    name = "local"

    def __init__(self, root: Path, *, quota_bytes: int = 0, min_free_bytes: int = 0):
        self.root = Path(root)
        self.tmp = self.root / ".tmp"
        self.quota_bytes = quota_bytes
        self.min_free_bytes = min_free_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(exist_ok=True)
        self._used: int | None = None
        self._lock = threading.Lock()

    # -- paths ---------------------------------------------------------------------------
    def path_for(self, sha256: str) -> Path:
        check_key(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def temp_path(self) -> Path:
        """A fresh temp file path on the store's filesystem (uploads stage here)."""
        return self.tmp / f"{uuid.uuid4().hex}.part"

    # -- space ---------------------------------------------------------------------------
    def used_bytes(self) -> int:
        with self._lock:
            if self._used is None:
                self._used = sum(self.size(k) for k in self.iter_keys())
            return self._used

    def check_space(self, incoming: int) -> None:
        if self.quota_bytes and self.used_bytes() + incoming > self.quota_bytes:
            raise StoreFull(
                f"the store quota of {self.quota_bytes} bytes would be exceeded by {incoming} "
                f"more bytes ({self.used_bytes()} used); raise store_quota_bytes or add storage"
            )
        free = shutil.disk_usage(self.root).free
        if free - incoming < self.min_free_bytes:
            raise StoreFull(
                f"not enough free disk at {self.root}: {free} bytes free, {incoming} needed plus "
                f"a reserve of {self.min_free_bytes}; free space or add storage"
            )

    def health(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(f"store folder {self.root} is not writable")

    # -- writes --------------------------------------------------------------------------
    def put_file(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        check_key(sha256)
        size = os.stat(path).st_size
        final = self.path_for(sha256)
        if final.exists():
            return self._existing(final, sha256, size)
        self.check_space(size)
        tmp = self.temp_path()
        try:
            found = _copy_hashing(path, tmp)
            if found != sha256:
                raise ObjectMismatch(
                    f"{path}: bytes hash to {found}, not to the key {sha256}; nothing was stored"
                )
            return self._place(tmp, final, sha256, size)
        except OSError as exc:
            raise self._os_error(exc, path) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def adopt(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        check_key(sha256)
        size = os.stat(path).st_size
        final = self.path_for(sha256)
        if final.exists():
            result = self._existing(final, sha256, size)
            Path(path).unlink(missing_ok=True)
            return result
        try:
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            return self._place(Path(path), final, sha256, size)
        except OSError as exc:
            raise self._os_error(exc, path) from exc
        finally:
            Path(path).unlink(missing_ok=True)

    def _place(self, tmp: Path, final: Path, sha256: str, size: int) -> PutResult:
        """Link tmp to its final name (never replacing an existing file), make it read-only,
        fsync the directory so the name survives a power cut."""
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        try:
            os.link(tmp, final)
        except FileExistsError:
            # Another writer placed the same key meanwhile: same bytes by construction.
            return self._existing(final, sha256, size)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        with self._lock:
            if self._used is not None:
                self._used += size
        logger.info("stored object %s (%d bytes)", sha256, size)
        return PutResult(sha256, size, created=True)

    def _existing(self, final: Path, sha256: str, size: int) -> PutResult:
        have = final.stat().st_size
        if have != size:
            raise ObjectMismatch(
                f"object {sha256} is already stored with {have} bytes, the new copy has {size}: "
                "the new bytes cannot hash to this key; nothing was changed"
            )
        return PutResult(sha256, size, created=False)

    def _os_error(self, exc: OSError, path: Path) -> StoreError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(f"the store at {self.root} is full while writing {path}; free space")
        if isinstance(exc, StoreError):
            return exc
        return StoreUnavailable(f"store at {self.root}: {exc.strerror or exc} ({path})")

    # -- reads ---------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def size(self, sha256: str) -> int:
        try:
            return self.path_for(sha256).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(f"object {sha256} is not in the store") from None

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            f = open(self.path_for(sha256), "rb")  # noqa: SIM115 - closed by stream_file
        except FileNotFoundError:
            raise ObjectNotFound(f"object {sha256} is not in the store") from None
        return stream_file(f, start, end)

    def local_path(self, sha256: str) -> Path:
        """The object's file, for readers that need a path (transcoding); never write to it."""
        p = self.path_for(sha256)
        if not p.exists():
            raise ObjectNotFound(f"object {sha256} is not in the store")
        return p

    def location(self, key: str) -> str:
        try:
            return str(self.path_for(key))
        except Exception:  # a planted name that is not a hash still has a place
            return str(self.root / key[:2] / key[2:4] / key)

    def staging(self, settings: Settings) -> UploadStaging:
        from server.store.staging import LocalStaging

        folder = (
            Path(settings.upload_staging_path).expanduser().resolve()
            if settings.upload_staging_path
            else self.tmp
        )
        folder.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_dev == self.root.stat().st_dev:
            return LocalStaging(folder, self.adopt, self.exists)

        def copy_in(
            path: Path, sha256: str, *, retention_until: datetime | None = None
        ) -> PutResult:
            # Another filesystem: no link possible, the bytes are copied (and re-checked).
            try:
                return self.put_file(path, sha256, retention_until=retention_until)
            finally:
                path.unlink(missing_ok=True)

        return LocalStaging(folder, copy_in, self.exists)

    def stray_files(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d != ".tmp"]
            for name in filenames:
                path = here / name
                rel = path.relative_to(self.root)
                parts = rel.parts
                ok = (
                    len(parts) == 3
                    and SHA256_RE.match(name) is not None
                    and parts[0] == name[:2]
                    and parts[1] == name[2:4]
                )
                if not ok:
                    yield str(path)

    def iter_keys(self) -> Iterator[str]:
        for first in sorted(self.root.iterdir()):
            if first.name.startswith(".") or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for obj in sorted(second.iterdir()):
                    if (
                        SHA256_RE.match(obj.name)
                        and obj.name[:2] == first.name
                        and obj.name[2:4] == second.name
                    ):
                        yield obj.name
