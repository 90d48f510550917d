"""Sealed evidence packages: one BagIt 1.0 bag (RFC 8493) streamed into a stored ZIP64 archive.

The writer knows nothing of the catalogue: it takes a frozen PackageSpec (what goes where and
the bag-info fields) and streams every file once, hashing SHA-256 and SHA-512 in the same pass
as it writes the archive. Memory stays bounded by a few 1 MiB blocks whatever the sizes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

BLOCK_SIZE = 1024 * 1024
ALGORITHMS = ("sha256", "sha512")
BAGIT_VERSION = "1.0"
# Name budgets: one component fits every common filesystem (255 bytes), the whole path stays
# well inside what Windows' unzip tools and tar accept.
MAX_COMPONENT_BYTES = 180
MAX_PATH_BYTES = 900
MAX_FILES = 200_000
PAYLOAD_DIRS = ("originals", "clips", "manifests", "ledger", "report")
TEMPLATES = Path(__file__).resolve().parent / "templates"
VERIFIER_SOURCE = Path(__file__).resolve().parent / "verify_package.py"
VERIFIER_NAME = "verify.py"
# Files a browser can show from the unpacked folder, by the element that shows them.
PLAYABLE_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm"})
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"})
AUDIO_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".wav", ".ogg", ".oga", ".opus", ".flac"})


def media_type(path: str) -> str | None:
    """'video', 'photo' or 'audio' for what player.html can show; None otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix in PLAYABLE_SUFFIXES:
        return "video"
    if suffix in PHOTO_SUFFIXES:
        return "photo"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return None


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|%]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$", re.IGNORECASE)

BytesProducer = Callable[[], Iterable[bytes]]
Source = Path | bytes | BytesProducer
Progress = Callable[[int], None]


# -- names -----------------------------------------------------------------------------------
def _truncate_utf8(text: str, budget: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    return data[:budget].decode("utf-8", errors="ignore")


def safe_component(name: str, budget: int = MAX_COMPONENT_BYTES) -> str:
    """One path component made safe: NFC, no separators, controls, '%' or reserved names,
    within `budget` UTF-8 bytes (the extension is kept when the stem is shortened)."""
    text = _UNSAFE_CHARS.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    if not text:
        text = "_"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text.encode("utf-8")) > budget:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext.encode("utf-8")) <= 16 and stem:
            text = _truncate_utf8(stem, budget - len(ext.encode("utf-8")) - 1) + "." + ext
        else:
            text = _truncate_utf8(text, budget)
    return unicodedata.normalize("NFC", text)


def check_relative_path(path: str) -> str:
    """Refuse a relative archive path that could escape its folder or is not already safe."""
    if not path or path.startswith("/") or "\\" in path:
        raise ValueError(f"unsafe package path {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", "..") or safe_component(part) != part:
            raise ValueError(f"unsafe package path component {part!r} in {path!r}")
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise ValueError(f"package path longer than {MAX_PATH_BYTES} bytes: {path!r}")
    return path


def unique_name(name: str, taken: set[str], budget: int = MAX_COMPONENT_BYTES) -> str:
    """A safe component not yet in `taken` (compared case-insensitively, as on Windows and
    macOS); adds '-2', '-3'… before the extension on a clash, and records the result."""
    base = safe_component(name, budget - 8)
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    candidate, n = base, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    taken.add(candidate.casefold())
    return candidate


# -- the spec --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackageFile:
    """One payload file: its path under data/ and where its bytes come from."""

    path: str
    source: Source
    label: str = ""

    def __post_init__(self) -> None:
        check_relative_path(self.path)
        if self.path.split("/")[0] not in PAYLOAD_DIRS:
            raise ValueError(f"payload path must start with one of {PAYLOAD_DIRS}: {self.path!r}")


@dataclass(frozen=True)
class PackageSpec:
    """Everything the writer needs: bag name, bag-info fields (in order) and payload files."""

    bag_name: str
    bag_info: tuple[tuple[str, str], ...]
    files: tuple[PackageFile, ...]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bag_name", safe_component(self.bag_name))
        if len(self.files) > MAX_FILES:
            raise ValueError(f"more than {MAX_FILES} files in one package")
        seen: set[str] = set()
        for f in self.files:
            key = f.path.casefold()
            if key in seen:
                raise ValueError(f"two payload files share the path {f.path!r}")
            seen.add(key)
        for label, value in self.bag_info:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", label):
                raise ValueError(f"bag-info label {label!r} is not a plain token")
            if "\n" in value or "\r" in value:
                raise ValueError(f"bag-info value of {label} contains a line break")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


@dataclass(frozen=True)
class WrittenFile:
    """A file as written into the bag: its path in the bag and its digests."""

    path: str
    size: int
    sha256: str
    sha512: str


@dataclass(frozen=True)
class PackageResult:
    """What was written: payload and tag files with digests, counts, and the archive's hash."""

    bag_name: str
    payload: tuple[WrittenFile, ...]
    tags: tuple[WrittenFile, ...]
    payload_oxum: str
    archive_sha256: str
    archive_size: int
    verifier_sha256: str


# -- streaming helpers -----------------------------------------------------------------------
class _Sink:
    """A write-only, non-seekable view of the output that hashes the archive as it goes.

    Being non-seekable makes zipfile stream (data descriptors after each member) instead of
    seeking back to patch headers, so the SHA-256 taken here is the hash of the final file.
    The hashing runs on its own thread, in order, at most MAX_PENDING blocks behind."""

    MAX_PENDING = 8

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._sha = hashlib.sha256()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zip-sha256")
        self._pending: deque[Future[None]] = deque()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        # zipfile hands over immutable bytes for payload blocks; copy anything mutable.
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._out.write(chunk)
        self._pending.append(self._pool.submit(self._sha.update, chunk))
        while len(self._pending) > self.MAX_PENDING:
            self._pending.popleft().result()
        self.size += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """The output belongs to the caller (zipfile never closes a file object it was given;
        this is here for the writable-file protocol)."""

    def hexdigest(self) -> str:
        while self._pending:
            self._pending.popleft().result()
        self._pool.shutdown()
        return self._sha.hexdigest()


def _blocks(source: Source) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for i in range(0, len(source), BLOCK_SIZE):
            yield source[i : i + BLOCK_SIZE]
        return
    if isinstance(source, Path):
        with open(source, "rb", buffering=0) as f:
            while True:
                block = f.read(BLOCK_SIZE)
                if not block:
                    return
                yield block
        return
    yield from source()


def _zipinfo(name: str, moment: datetime) -> zipfile.ZipInfo:
    local = moment.astimezone(UTC)
    info = zipfile.ZipInfo(name, date_time=local.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    info.create_system = 3  # unix, so the mode above is honoured by unzip
    return info


def manifest_text(files: Iterable[WrittenFile], algorithm: str) -> str:
    """A BagIt manifest: one '<digest> <path>' line per file, sorted by path."""
    lines = [f"{getattr(f, algorithm)} {f.path}" for f in sorted(files, key=lambda f: f.path)]
    return "".join(line + "\n" for line in lines)


def bag_info_text(fields: Iterable[tuple[str, str]]) -> str:
    """bag-info.txt: 'Label: value' lines in the given order."""
    return "".join(f"{label}: {value}\n" for label, value in fields)


def verifier_source() -> bytes:
    """The bytes of the offline verifier copied into every package as verify.py."""
    return VERIFIER_SOURCE.read_bytes()


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _embed_json(value: object) -> str:
    # Safe inside <script type="application/json">: no '</' can end the element early.
    return (
        json.dumps(value, ensure_ascii=False, sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render_verify_html(
    bag_name: str, expected: Mapping[str, str], bag_info: Iterable[tuple[str, str]]
) -> bytes:
    """verify.html with the expected SHA-256 of every other file of the bag embedded."""
    data = {"bag": bag_name, "files": dict(sorted(expected.items())), "bag_info": list(bag_info)}
    return _template("verify.html").replace("__PACKAGE_JSON__", _embed_json(data)).encode("utf-8")


def render_player_html(bag_name: str, media: Iterable[Mapping[str, object]], title: str) -> bytes:
    """player.html listing the playable clips and originals by relative path."""
    data = {"bag": bag_name, "title": title, "media": list(media)}
    return _template("player.html").replace("__PACKAGE_JSON__", _embed_json(data)).encode("utf-8")


# -- the writer ------------------------------------------------------------------------------
def write_package(
    spec: PackageSpec, out: BinaryIO, *, progress: Progress | None = None
) -> PackageResult:
    """Stream the bag described by spec into `out` as a stored ZIP64 archive.

    progress(payload_bytes_written) is called after each block."""
    bag = spec.bag_name
    sink = _Sink(out)
    payload: list[WrittenFile] = []
    total = 0
    # SHA-512 runs on a helper thread while this one computes SHA-256 and the ZIP's CRC-32
    # and writes: hashlib and zlib release the GIL on large buffers, so the two run at once.
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha512") as pool,
    ):

        def put_bytes(rel: str, data: bytes) -> WrittenFile:
            with zf.open(_zipinfo(f"{bag}/{rel}", spec.created_at), "w", force_zip64=True) as w:
                w.write(data)
            return WrittenFile(
                rel,
                len(data),
                hashlib.sha256(data).hexdigest(),
                hashlib.sha512(data).hexdigest(),
            )

        for item in sorted(spec.files, key=lambda f: f.path):
            rel = f"data/{item.path}"
            sha256, sha512 = hashlib.sha256(), hashlib.sha512()
            size = 0
            pending: deque[Future[None]] = deque()
            info = _zipinfo(f"{bag}/{rel}", spec.created_at)
            with zf.open(info, "w", force_zip64=True) as w:
                for block in _blocks(item.source):
                    if not block:
                        continue
                    # A few blocks in flight smooth out scheduling jitter; memory stays bounded.
                    while len(pending) >= 4:
                        pending.popleft().result()
                    pending.append(pool.submit(sha512.update, block))
                    sha256.update(block)
                    w.write(block)
                    size += len(block)
                    total += len(block)
                    if progress is not None:
                        progress(total)
                while pending:
                    pending.popleft().result()
            payload.append(WrittenFile(rel, size, sha256.hexdigest(), sha512.hexdigest()))

        oxum = f"{total}.{len(payload)}"
        tags: list[WrittenFile] = []
        for algorithm in ALGORITHMS:
            tags.append(
                put_bytes(f"manifest-{algorithm}.txt", manifest_text(payload, algorithm).encode())
            )
        verifier = verifier_source()
        verifier_sha = hashlib.sha256(verifier).hexdigest()
        info_fields = [
            *spec.bag_info,
            ("Bagging-Date", spec.created_at.astimezone(UTC).date().isoformat()),
            ("Payload-Oxum", oxum),
            ("Bag-Software-Agent", "custodian integrity.package"),
            # verify.py cannot vouch for itself (an edited verifier can print anything), so its
            # hash is recorded here and in the tag manifest for comparison out of band.
            ("Verifier-SHA256", verifier_sha),
        ]
        tags.append(
            put_bytes(
                "bagit.txt",
                (f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n").encode(),
            )
        )
        tags.append(put_bytes("bag-info.txt", bag_info_text(info_fields).encode("utf-8")))
        tags.append(put_bytes(VERIFIER_NAME, verifier))
        media = [
            {
                "path": f.path,
                "label": f.label or f.path.rsplit("/", 1)[-1],
                "kind": f.path.split("/")[0],
                "type": media_type(f.path),
            }
            for f in sorted(spec.files, key=lambda f: f.path)
            if f.path.split("/")[0] in ("clips", "originals") and media_type(f.path)
        ]
        tags.append(put_bytes("player.html", render_player_html(bag, media, spec.title)))
        expected = {f.path: f.sha256 for f in (*payload, *tags)}
        tags.append(put_bytes("verify.html", render_verify_html(bag, expected, info_fields)))
        tagged = list(tags)
        for algorithm in ALGORITHMS:
            tags.append(
                put_bytes(f"tagmanifest-{algorithm}.txt", manifest_text(tagged, algorithm).encode())
            )
    return PackageResult(
        bag_name=bag,
        payload=tuple(payload),
        tags=tuple(tags),
        payload_oxum=oxum,
        archive_sha256=sink.hexdigest(),
        archive_size=sink.size,
        verifier_sha256=verifier_sha,
    )


def write_package_file(
    spec: PackageSpec, path: str | Path, *, progress: Progress | None = None
) -> PackageResult:
    """Write the package to a file (via a temporary name, renamed into place when complete)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        with open(tmp, "wb") as out:
            result = write_package(spec, out, progress=progress)
            out.flush()
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return result
