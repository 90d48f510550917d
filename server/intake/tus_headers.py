"""tus request headers read into plain values: pure functions, no I/O, no web framework.

Upload-Metadata, Upload-Checksum, Upload-Length and Upload-Offset, the station's SHA-256 claim,
recorded_at and the file name as it will be kept and shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from integrity.timefmt import parse_rfc3339
from server.http.errors import BadRequest, PayloadTooLarge
from server.store.base import SHA256_RE

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}
METADATA_KEYS = (
    "filename",
    "sha256",
    "device_id",
    "officer_id",
    "recorded_at",
    "station_id",
    "case",
    "stage",
    "agency",  # agency code: required from an account that belongs to no agency
)
METADATA_MAX_CHARS = 8192  # the whole Upload-Metadata header
METADATA_VALUE_MAX_CHARS = 200  # every value but the file name
FILENAME_MAX_BYTES = 255  # what most filesystems allow for one name
DEFAULT_FILENAME = "upload.bin"


def safe_filename(name: str) -> str:
    """A file name safe to keep and show: last path part only, no control characters, no
    leading dots, NFC, at most FILENAME_MAX_BYTES of UTF-8 with the extension kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if not name:
        return DEFAULT_FILENAME
    if len(name.encode()) > FILENAME_MAX_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = f".{ext}" if dot and stem and len(ext.encode()) <= 16 else ""
        stem = name[: len(name) - len(ext)] if ext else name
        budget = FILENAME_MAX_BYTES - len(ext.encode())
        stem = stem.encode()[:budget].decode(errors="ignore")
        name = stem + ext
    return name


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode a tus Upload-Metadata header: `key base64,key base64,key` -> {key: text}."""
    if not header:
        return {}
    if len(header) > METADATA_MAX_CHARS:
        raise BadRequest(
            f"Upload-Metadata is longer than {METADATA_MAX_CHARS} characters", code="bad_metadata"
        )
    out: dict[str, str] = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        if not key or not key.isascii() or " " in value.strip():
            raise BadRequest(
                f"Upload-Metadata pair {pair[:40]!r} is not `key base64`", code="bad_metadata"
            )
        try:
            text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                f"Upload-Metadata value of {key!r} is not base64 of UTF-8 text", code="bad_metadata"
            ) from None
        if key in out:
            raise BadRequest(f"Upload-Metadata key {key!r} given twice", code="bad_metadata")
        out[key] = text
    return out


def short_value(meta: dict[str, str], key: str) -> str | None:
    value = meta.get(key)
    if value is None or value.strip() == "":
        return None
    value = "".join(c for c in value.strip() if unicodedata.category(c)[0] != "C")
    if len(value) > METADATA_VALUE_MAX_CHARS:
        raise BadRequest(
            f"metadata {key!r} is longer than {METADATA_VALUE_MAX_CHARS} characters",
            code="bad_metadata",
        )
    return value


def check_sha256(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if not SHA256_RE.match(value):
        raise BadRequest(f"{what} is not a hex SHA-256: {value[:80]!r}", code="bad_hash")
    return value


def parse_recorded_at(value: str | None, zone: str) -> datetime | None:
    """RFC 3339; a time without a zone is taken as the configured camera zone."""
    if not value:
        return None
    try:
        return parse_rfc3339(value.strip(), naive_zone=ZoneInfo(zone))
    except ValueError:
        raise BadRequest(
            f"metadata recorded_at {value[:40]!r} is not an RFC 3339 time", code="bad_metadata"
        ) from None


def parse_upload_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: <algorithm> <base64 digest>` -> (algorithm, digest)."""
    if not header:
        return None
    algo, _, value = header.strip().partition(" ")
    algo = algo.lower()
    if algo not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            f"Upload-Checksum algorithm {algo!r} is not supported; use one of "
            f"{', '.join(CHECKSUM_ALGORITHMS)}",
            code="bad_checksum_algorithm",
        )
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum digest is not base64", code="bad_checksum") from None
    if len(digest) != CHECKSUM_ALGORITHMS[algo]().digest_size:
        raise BadRequest(
            f"Upload-Checksum digest has the wrong length for {algo}", code="bad_checksum"
        )
    return algo, digest


def parse_length(header: str | None, max_bytes: int) -> int:
    """Upload-Length of a new upload: a positive integer no larger than max_bytes."""
    if header is None:
        raise BadRequest("Upload-Length header is required", code="length_required")
    try:
        length = int(header)
    except ValueError:
        raise BadRequest(
            f"Upload-Length {header[:30]!r} is not an integer", code="bad_length"
        ) from None
    if length < 0:
        raise BadRequest("Upload-Length must not be negative", code="bad_length")
    if length == 0:
        raise BadRequest("a zero-byte file is not evidence: nothing to upload", code="empty_upload")
    if length > max_bytes:
        raise PayloadTooLarge(
            f"Upload-Length {length} is over the largest accepted upload of "
            f"{max_bytes} bytes (setting upload_max_bytes)",
            code="upload_too_large",
        )
    return length


def parse_offset(header: str | None) -> int:
    if header is None:
        raise BadRequest("Upload-Offset header is required", code="offset_required")
    try:
        return int(header)
    except ValueError:
        raise BadRequest("Upload-Offset is not an integer", code="bad_offset") from None
