"""Streamed hashing in fixed blocks: digests that carry their algorithm, readers and writers."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

BLOCK_SIZE = 1024 * 1024
DEFAULT_ALGORITHMS: tuple[str, ...] = ("sha256",)
# Only algorithms with a fixed, widely implemented definition: a court's verifier must be
# able to recompute them with nothing but a standard library.
SUPPORTED_ALGORITHMS = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b"})

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Digest:
    """A digest value together with the algorithm that produced it."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported hash algorithm: {self.algorithm!r}")
        expected = hashlib.new(self.algorithm).digest_size * 2
        # Lower-case hex only, so that two equal digests are also equal strings.
        if len(self.hex) != expected or self.hex.strip("0123456789abcdef"):
            raise ValueError(f"not a {self.algorithm} hex digest: {self.hex!r}")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse 'algorithm:hex' (as produced by str()) into a Digest."""
        algorithm, sep, value = text.partition(":")
        if not sep:
            raise ValueError(f"digest without algorithm prefix: {text!r}")
        return cls(algorithm, value.lower())

    @property
    def raw(self) -> bytes:
        """The digest as bytes."""
        return bytes.fromhex(self.hex)


def _check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(algorithms))  # de-duplicate, keep order
    if not names:
        raise ValueError("at least one hash algorithm is required")
    for name in names:
        if name not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported hash algorithm: {name!r}")
    return names


class MultiHasher:
    """Several hash algorithms fed from one pass over the data."""

    def __init__(self, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> None:
        self.algorithms = _check_algorithms(algorithms)
        self._hashers = [hashlib.new(name) for name in self.algorithms]
        # Bound methods once, so the hot loop does no attribute lookups.
        self._updates = [h.update for h in self._hashers]
        self.bytes_hashed = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed a chunk of data to every algorithm."""
        for update in self._updates:
            update(data)
        self.bytes_hashed += len(data)

    def digests(self) -> dict[str, Digest]:
        """The digests so far, keyed by algorithm name."""
        return {
            name: Digest(name, h.hexdigest())
            for name, h in zip(self.algorithms, self._hashers, strict=True)
        }

    def digest(self, algorithm: str | None = None) -> Digest:
        """The digest of one algorithm (the first one by default)."""
        name = algorithm or self.algorithms[0]
        return self.digests()[name]


class HashingReader:
    """A binary reader that hashes every byte it hands out."""

    def __init__(self, fileobj: BinaryIO, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> None:
        self._file = fileobj
        self._hasher = MultiHasher(algorithms)

    @property
    def bytes_read(self) -> int:
        """Number of bytes read (and hashed) so far."""
        return self._hasher.bytes_hashed

    def readable(self) -> bool:
        """True: this is a reader."""
        return True

    def read(self, n: int = -1) -> bytes:
        """Read up to n bytes (all remaining if n < 0) and hash them."""
        data = self._file.read(n)
        if data:
            self._hasher.update(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read into a caller-supplied buffer and hash exactly the bytes filled."""
        count = self._file.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._hasher.update(memoryview(buffer)[:count])
        return count or 0

    def digest(self, algorithm: str | None = None) -> Digest:
        """The digest of what has been read so far."""
        return self._hasher.digest(algorithm)

    def digests(self) -> dict[str, Digest]:
        """All digests of what has been read so far."""
        return self._hasher.digests()


class HashingWriter:
    """A binary writer that hashes every byte it passes on."""

    def __init__(self, fileobj: BinaryIO, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> None:
        self._file = fileobj
        self._hasher = MultiHasher(algorithms)

    @property
    def bytes_written(self) -> int:
        """Number of bytes written (and hashed) so far."""
        return self._hasher.bytes_hashed

    def writable(self) -> bool:
        """True: this is a writer."""
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write data and hash the bytes the underlying file accepted."""
        view = memoryview(data)
        written = self._file.write(view)
        # A raw file may accept fewer bytes (or none: None when non-blocking); hash only what
        # really went out, so the digest always describes the bytes written.
        count = written or 0
        if count:
            self._hasher.update(view[:count])
        return count

    def flush(self) -> None:
        """Flush the underlying file."""
        self._file.flush()

    def digest(self, algorithm: str | None = None) -> Digest:
        """The digest of what has been written so far."""
        return self._hasher.digest(algorithm)

    def digests(self) -> dict[str, Digest]:
        """All digests of what has been written so far."""
        return self._hasher.digests()


def hash_fileobj(
    fileobj: BinaryIO,
    algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    *,
    progress: Progress | None = None,
) -> dict[str, Digest]:
    """Hash a binary file object to its end, in BLOCK_SIZE blocks, one pass."""
    names = _check_algorithms(algorithms)
    hashers = [hashlib.new(name) for name in names]
    updates = [h.update for h in hashers]
    # One preallocated buffer and a view of it: no per-block allocation or copy, which is
    # what keeps this within a few percent of bare hashlib.
    buffer = bytearray(BLOCK_SIZE)
    view = memoryview(buffer)
    readinto = fileobj.readinto  # type: ignore[attr-defined]
    total = 0
    single = updates[0] if len(updates) == 1 else None
    while True:
        count = readinto(buffer)
        if not count:
            break
        chunk = view if count == BLOCK_SIZE else view[:count]
        if single is not None:
            single(chunk)
        else:
            for update in updates:
                update(chunk)
        total += count
        if progress is not None:
            progress(total)
    return {name: Digest(name, h.hexdigest()) for name, h in zip(names, hashers, strict=True)}


def hash_file(
    path: str | os.PathLike[str],
    algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    *,
    progress: Progress | None = None,
) -> dict[str, Digest]:
    """Hash a file on disk with one or more algorithms in one pass; progress(bytes_so_far)."""
    # buffering=0: readinto goes straight to the OS, skipping the BufferedReader copy.
    with open(path, "rb", buffering=0) as fileobj:
        return hash_fileobj(fileobj, algorithms, progress=progress)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file on disk."""
    return hash_file(path)["sha256"].hex


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    """The SHA-256 hex digest of bytes in memory."""
    return hashlib.sha256(data).hexdigest()
