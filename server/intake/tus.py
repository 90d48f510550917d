"""tus upload state and the commit of a finished upload into the store and the catalogue.

The bytes of an unfinished upload live in one partial file on the store's filesystem; its
progress lives in the `uploads` table, so any server process (or the same one after a restart)
can resume it. The SHA-256 of the whole upload is computed while the bytes arrive; a process
that did not see the earlier bytes (a restart) re-hashes the received prefix once. On the last
byte the hash is compared with the station's claim: equal -> the file is adopted by the store
and an evidence item plus its ledger entry are created in one transaction; different -> refused,
nothing committed, an `upload_refused` ledger entry says why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hashlib
import logging
import mimetypes
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrity.ledger import DUPLICATE, INGEST, UPLOAD_REFUSED
from server.access import UPLOAD, UPLOAD_MANY, Principal, Sealed, can, require
from server.cases.links import link_from_intake
from server.catalogue.db import Database
from server.catalogue.models import (
    Agency,
    EvidenceDelivery,
    EvidenceItem,
    StoredObject,
    Upload,
    User,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.custody.manifests import write_manifest
from server.custody.signing import ServerKey, load_or_create_key
from server.errors import (
    BadRequest,
    Conflict,
    CustodianError,
    NotFound,
    PayloadTooLarge,
    StoreFull,
)
from server.intake.quotas import check_upload_quota
from server.media.job import MEDIA_JOB
from server.media.jobs import enqueue
from server.settings import Settings
from server.store.base import SHA256_RE, ObjectStore

logger = logging.getLogger(__name__)

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
WRITE_BLOCK = 8 * 1024 * 1024  # bytes gathered before one write+hash step off the loop
# aiohttp keeps reading the socket until twice this much of a PATCH body waits unread, so the
# loop goes on receiving while a thread writes and hashes the previous block.
READ_BUFFER = 8 * 1024 * 1024
DEFAULT_FILENAME = "upload.bin"
ACTIVE = ("receiving", "committing")

_KIND_BY_MIME = {"video": "video", "audio": "audio", "image": "photo"}
_DOCUMENT_EXT = {".pdf", ".doc", ".docx", ".odt", ".txt", ".xls", ".xlsx"}


class ChecksumMismatch(CustodianError):
    """tus checksum extension: 460 when bytes do not hash to what the client said."""

    status = 460
    code = "checksum_mismatch"


class Gone(CustodianError):
    status = 410
    code = "upload_gone"


class Busy(CustodianError):
    status = 423
    code = "upload_busy"


# -- input checks ---------------------------------------------------------------------------
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


def _short(meta: dict[str, str], key: str) -> str | None:
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
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"metadata recorded_at {value[:40]!r} is not an RFC 3339 time", code="bad_metadata"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(zone))
    return dt.astimezone(ZoneInfo("UTC"))


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


def kind_of(filename: str) -> str:
    mime, _ = mimetypes.guess_type(filename)
    if mime:
        major = mime.split("/")[0]
        if major in _KIND_BY_MIME:
            return _KIND_BY_MIME[major]
    ext = os.path.splitext(filename)[1].lower()
    if ext in (".dav", ".h264", ".h265", ".264", ".265", ".ts", ".mts", ".avi", ".mkv"):
        return "video"
    if ext in _DOCUMENT_EXT:
        return "document"
    return "other"


# -- catalogue queries (session first) ------------------------------------------------------
def upload_json(u: Upload) -> dict[str, Any]:
    """What GET /api/v1/uploads/{id} answers."""
    return {
        "id": u.id,
        "state": u.state,
        "offset": u.received,
        "length": u.length,
        "filename": u.filename,
        "claimed_sha256": u.claimed_sha256,
        "sha256": u.server_sha256,
        "evidence_id": u.evidence_id,
        "duplicate": u.duplicate,
        "error": u.error or None,
        "device_id": u.device_id,
        "officer_id": u.officer_id,
        "station_id": u.station_id,
        "recorded_at": u.recorded_at,
        "case": u.case_ref,
        "stage": u.stage,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "expires_at": u.expires_at,
    }


def _get_upload(s: Session, upload_id: str, who: Principal) -> Upload:
    """The caller's own upload (admins see all); others' are reported as absent."""
    u = s.get(Upload, upload_id) if isinstance(upload_id, str) and len(upload_id) <= 64 else None
    if u is None:
        raise NotFound(f"no upload {upload_id}")
    if u.user_id != who.user_id and who.role != "admin":
        raise Sealed(f"no upload {upload_id}")  # the same answer, ledgered as a denial
    return u


def get_upload(s: Session, upload_id: str, who: Principal) -> Upload:
    return _get_upload(s, upload_id, who)


def list_uploads(s: Session, who: Principal, active_only: bool = True) -> list[dict[str, Any]]:
    """The caller's own uploads (uploaders only)."""
    require(who, UPLOAD)
    q = select(Upload).where(Upload.user_id == who.user_id)
    if active_only:
        q = q.where(Upload.state.in_(ACTIVE))
    return [upload_json(u) for u in s.scalars(q.order_by(Upload.created_at.desc()).limit(200))]


def _reserved_bytes(s: Session) -> int:
    """Bytes promised to unfinished uploads but not yet received."""
    q = select(func.coalesce(func.sum(Upload.length - Upload.received), 0)).where(
        Upload.state.in_(ACTIVE)
    )
    return int(s.scalar(q) or 0)


def upload_agency(s: Session, who: Principal, code: str | None) -> int:
    """The agency the delivered footage belongs to: the uploader's own; an account of no agency
    must name one (Upload-Metadata `agency`, its code). Every item has an agency."""
    if who.agency_id is None:
        if not code:
            raise BadRequest(
                "the uploading account belongs to no agency: name the agency the footage "
                "belongs to in Upload-Metadata `agency` (its code)",
                code="agency_required",
            )
        agency = s.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            raise BadRequest(f"metadata agency {code!r} is not a known agency code",
                             code="unknown_agency")
        return agency.id
    if code is not None:
        own = s.get(Agency, who.agency_id)
        if own is None or own.code != code:
            raise BadRequest(
                f"metadata agency {code!r} is not the uploading account's agency",
                code="wrong_agency",
            )
    return who.agency_id


def intake_for(s: Session, evidence_id: str) -> dict[str, Any] | None:
    """What the station said about an item when it delivered it (case number, stage, ...):
    for the cases feature to link items to case stages."""
    u = s.scalar(
        select(Upload)
        .where(
            Upload.evidence_id == evidence_id,
            Upload.state == "committed",
            Upload.duplicate.is_(False),
        )
        .limit(1)
    )
    return None if u is None else upload_json(u)


@dataclass
class _Live:
    """The running hash of an upload this process is receiving, valid at `offset`."""

    hasher: Any
    offset: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class Received:
    """What a PATCH did: the new offset, and for the last one, the commit."""

    upload: dict[str, Any]
    committed: bool = False


class UploadManager:
    """Creates, receives, commits, terminates and expires tus uploads."""

    def __init__(
        self, settings: Settings, db: Database, store: ObjectStore, key: ServerKey | None = None
    ):
        for name in (
            "upload_max_bytes",
            "upload_expiry_seconds",
            "upload_cleanup_interval_seconds",
        ):
            if getattr(settings, name) <= 0:
                raise CustodianError(f"setting {name!r} must be positive", code="bad_setting")
        self.settings = settings
        self.db = db
        self.store = store
        # Signs version 1 of each new item's manifest in the commit transaction.
        self.key = key or load_or_create_key(settings)
        tmp = getattr(store, "tmp", None)
        # Partial uploads stay on the store's filesystem so the commit is a rename, not a copy.
        self.dir = Path(tmp) if tmp else settings.data_path / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._live: dict[str, _Live] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Writes and hashes run here so the event loop keeps receiving meanwhile.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def part_path(self, upload_id: str) -> Path:
        return self.dir / f"upload-{upload_id}.part"

    @property
    def expiry(self) -> timedelta:
        return timedelta(seconds=self.settings.upload_expiry_seconds)

    def _lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        return lock

    async def _off_loop(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- creation ---------------------------------------------------------------------------
    async def create(
        self,
        who: Principal,
        length_header: str | None,
        metadata_header: str | None,
        defer_length: str | None = None,
    ) -> dict[str, Any]:
        """Check the caller, the metadata and the space; create the upload and its empty file."""
        require(who, UPLOAD)
        if defer_length is not None:
            raise BadRequest(
                "Upload-Defer-Length is not supported: send Upload-Length", code="length_required"
            )
        if length_header is None:
            raise BadRequest("Upload-Length header is required", code="length_required")
        try:
            length = int(length_header)
        except ValueError:
            raise BadRequest(
                f"Upload-Length {length_header[:30]!r} is not an integer", code="bad_length"
            ) from None
        if length < 0:
            raise BadRequest("Upload-Length must not be negative", code="bad_length")
        if length == 0:
            raise BadRequest(
                "a zero-byte file is not evidence: nothing to upload", code="empty_upload"
            )
        if length > self.settings.upload_max_bytes:
            raise PayloadTooLarge(
                f"Upload-Length {length} is over the largest accepted upload of "
                f"{self.settings.upload_max_bytes} bytes (setting upload_max_bytes)",
                code="upload_too_large",
            )
        meta = parse_metadata(metadata_header)
        filename = safe_filename(meta.get("filename", ""))
        claimed = check_sha256(meta.get("sha256"), "metadata sha256")
        now = utcnow()
        row = Upload(
            user_id=who.user_id,
            agency_id=who.agency_id,
            state="receiving",
            length=length,
            received=0,
            metadata_raw=metadata_header or "",
            filename=filename,
            claimed_sha256=claimed,
            device_id=_short(meta, "device_id"),
            officer_id=_short(meta, "officer_id"),
            station_id=_short(meta, "station_id"),
            recorded_at=parse_recorded_at(meta.get("recorded_at"), self.settings.camera_timezone),
            case_ref=_short(meta, "case"),
            stage=_short(meta, "stage"),
            created_at=now,
            updated_at=now,
            expires_at=now + self.expiry,
        )
        many = can(who, UPLOAD_MANY)
        agency_code = _short(meta, "agency")

        def insert(s: Session) -> dict[str, Any]:
            row.agency_id = upload_agency(s, who, agency_code)
            if not many:
                busy = s.scalar(
                    select(Upload.id)
                    .where(Upload.user_id == who.user_id, Upload.state.in_(ACTIVE))
                    .limit(1)
                )
                if busy:
                    raise Conflict(
                        f"role {who.role!r} uploads one file at a time: finish or terminate "
                        f"upload {busy} first (stations may upload many)",
                        code="one_at_a_time",
                    )
            check_upload_quota(s, who, length, self.settings)  # per user and agency
            reserved = _reserved_bytes(s)
            try:
                self.store.check_space(length + reserved)
            except StoreFull as exc:
                raise StoreFull(
                    f"cannot accept an upload of {length} bytes: {exc.message}"
                    + (
                        f" ({reserved} bytes are promised to unfinished uploads)"
                        if reserved
                        else ""
                    )
                ) from None
            s.add(row)
            s.flush()
            return upload_json(row)

        created = await self.db.run(insert)
        try:
            self.part_path(created["id"]).touch(exist_ok=False)
        except OSError as exc:
            await self.db.run(_set_state, created["id"], "refused", f"cannot create file: {exc}")
            raise _os_error(exc, self.dir) from exc
        self._live[created["id"]] = _Live(hashlib.sha256(), 0)
        logger.info(
            "upload %s created: %s, %d bytes, by %s", created["id"], filename, length, who.username
        )
        return created

    # -- receiving --------------------------------------------------------------------------
    async def receive(
        self,
        who: Principal,
        upload_id: str,
        offset_header: str | None,
        chunks: AsyncIterator[bytes],
        content_length: int | None,
        checksum_header: str | None,
        claim_header: str | None,
    ) -> Received:
        """Append one PATCH body at Upload-Offset, hashing as it arrives; commit on the last byte."""
        if offset_header is None:
            raise BadRequest("Upload-Offset header is required", code="offset_required")
        try:
            offset = int(offset_header)
        except ValueError:
            raise BadRequest("Upload-Offset is not an integer", code="bad_offset") from None
        checksum = parse_upload_checksum(checksum_header)
        late_claim = check_sha256(claim_header, "Custodian-Sha256")
        lock = self._lock(upload_id)
        if lock.locked():
            raise Busy(f"upload {upload_id} is receiving another PATCH; retry after it ends")
        async with lock:
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committed" and offset == u.length and not content_length:
                return Received(upload_json(u), committed=True)
            if u.state == "committing":
                return await self._commit(who, u, late_claim)
            _check_receiving(u)
            if offset != u.received:
                raise Conflict(
                    f"Upload-Offset {offset} does not match the server's offset "
                    f"{u.received}: send HEAD and resume from there",
                    code="offset_mismatch",
                )
            if content_length is not None and offset + content_length > u.length:
                raise PayloadTooLarge(
                    f"this PATCH of {content_length} bytes at offset {offset} would run past "
                    f"Upload-Length {u.length}",
                    code="exceeds_upload_length",
                )
            if late_claim and u.claimed_sha256 and late_claim != u.claimed_sha256:
                raise BadRequest(
                    "Custodian-Sha256 differs from the sha256 sent at creation",
                    code="claim_changed",
                )
            live = await self._live_at(u)
            new_offset = await self._append(u, live, offset, chunks, checksum)
            if new_offset != offset:
                await self.db.run(_advance, u.id, offset, new_offset, self.expiry)
            u.received = new_offset
            if new_offset < u.length:
                return Received(upload_json(u))
            return await self._commit(who, u, late_claim)

    async def _live_at(self, u: Upload) -> _Live:
        """The running hash at the upload's offset; re-hash the received prefix when this
        process did not see it (restart, or another server process took the earlier PATCHes)."""
        live = self._live.get(u.id)
        if live is not None and live.offset == u.received:
            return live
        path = self.part_path(u.id)

        def rehash() -> tuple[Any, int]:
            h = hashlib.sha256()
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return h, -1
            upto = min(size, u.received)
            with open(path, "r+b") as f:
                f.truncate(upto)  # bytes past the recorded offset were never acknowledged
                buf = bytearray(1024 * 1024)
                view = memoryview(buf)
                done = 0
                while done < upto:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(view[:n])
                    done += n
            return h, upto

        hasher, upto = await self._off_loop(rehash)
        if upto < 0:
            await self.db.run(_set_state, u.id, "expired", "partial file is missing")
            raise Gone(f"upload {u.id} lost its partial file; start a new upload")
        if upto != u.received:
            # The file holds fewer bytes than were recorded (a crash before they reached the
            # disk): tell the client the true offset.
            await self.db.run(_rewind, u.id, upto)
            logger.warning(
                "upload %s: rewound from %d to %d bytes after restart", u.id, u.received, upto
            )
            raise Conflict(
                f"upload {u.id} holds {upto} bytes, not {u.received}: send HEAD and "
                "resume from there",
                code="offset_mismatch",
            )
        logger.info("upload %s: re-hashed %d received bytes to resume", u.id, upto)
        live = self._live[u.id] = _Live(hasher, upto)
        return live

    async def _append(
        self,
        u: Upload,
        live: _Live,
        offset: int,
        chunks: AsyncIterator[bytes],
        checksum: tuple[str, bytes] | None,
    ) -> int:
        """Write the body after `offset`; returns the new offset. With a chunk checksum the
        body is kept only when it matches (otherwise the file and hash are rolled back)."""
        path = self.part_path(u.id)
        limit = u.length - offset
        saved = live.hasher.copy() if checksum else None
        chunk_hasher = CHECKSUM_ALGORITHMS[checksum[0]]() if checksum else None
        try:
            f = open(path, "r+b")  # noqa: SIM115 - closed in finally
        except FileNotFoundError:
            await self.db.run(_set_state, u.id, "expired", "partial file is missing")
            raise Gone(f"upload {u.id} lost its partial file; start a new upload") from None
        written = 0
        pending: asyncio.Future[None] | None = None
        too_long = False
        complete = False
        hashers = [live.hasher] if chunk_hasher is None else [live.hasher, chunk_hasher]

        def step(parts: list[bytes]) -> None:
            # Each piece is written and hashed while it is still in the CPU cache; the pieces
            # are the buffers the socket delivered, never joined (no copy on this side).
            for data in parts:
                f.write(data)
                for h in hashers:
                    h.update(data)

        batch: list[bytes] = []
        batched = 0
        try:
            f.seek(offset)
            f.truncate(offset)
            async for data in chunks:
                if written + batched + len(data) > limit:
                    data = data[: limit - written - batched]
                    too_long = True
                if data:
                    batch.append(data)
                    batched += len(data)
                if batched >= WRITE_BLOCK or too_long:
                    if pending is not None:
                        await pending
                    block, size = batch, batched
                    batch, batched = [], 0
                    pending = asyncio.ensure_future(self._off_loop(step, block))
                    written += size
                if too_long:
                    break
            if pending is not None:
                await pending
                pending = None
            if batch:
                await self._off_loop(step, batch)
                written += batched
                batch, batched = [], 0
            complete = True
        except OSError as exc:
            raise _os_error(exc, path) from exc
        finally:
            if pending is not None:
                try:
                    await asyncio.shield(pending)
                except Exception:  # the write error itself is reported below
                    written = -1
            if not complete and written >= 0 and checksum is None and batch:
                # The connection broke: what arrived is still good, keep it for the resume.
                try:
                    step(batch)
                    written += batched
                except OSError:
                    written = -1
            if written < 0 or (not complete and checksum is not None):
                # An interrupted chunk cannot be checked: drop it whole.
                f.truncate(offset)
                f.close()
                live.hasher = saved if saved is not None else live.hasher
                if written < 0 and saved is None:
                    self._live.pop(u.id, None)
                else:
                    live.offset = offset
            else:
                f.close()
                live.offset = offset + written
                if not complete and written:
                    # Keep what arrived before the connection broke: the client resumes there.
                    await asyncio.shield(
                        self.db.run(_advance, u.id, offset, offset + written, self.expiry)
                    )
                    logger.info("upload %s interrupted at %d bytes", u.id, offset + written)
        if too_long:
            self._rollback(path, live, offset, saved)
            raise PayloadTooLarge(
                f"the PATCH body runs past Upload-Length {u.length}", code="exceeds_upload_length"
            )
        if checksum is not None and chunk_hasher is not None:
            if chunk_hasher.digest() != checksum[1]:
                self._rollback(path, live, offset, saved)
                raise ChecksumMismatch(
                    f"the {written} bytes of this PATCH do not match its Upload-Checksum "
                    f"({checksum[0]}); they were discarded, send them again from offset {offset}",
                    code="checksum_mismatch",
                )
        return offset + written

    def _rollback(self, path: Path, live: _Live, offset: int, saved: Any) -> None:
        with open(path, "r+b") as f:
            f.truncate(offset)
        if saved is not None:
            live.hasher = saved
            live.offset = offset
        else:
            self._live.pop(path.name.removeprefix("upload-").removesuffix(".part"), None)

    # -- commit -----------------------------------------------------------------------------
    async def _commit(self, who: Principal, u: Upload, late_claim: str | None) -> Received:
        """All bytes are here: compare, then adopt into the store and catalogue, or refuse."""
        live = self._live.get(u.id)
        if u.state == "committing":
            found = u.server_sha256
        else:
            assert live is not None and live.offset == u.length
            found = live.hasher.hexdigest()
        claimed = u.claimed_sha256 or late_claim
        if not claimed or claimed != found:
            reason = (
                f"the station's SHA-256 {claimed} does not match the SHA-256 of the "
                f"{u.length} bytes received, {found}"
                if claimed
                else "no SHA-256 was claimed (send it as metadata sha256 or in Custodian-Sha256 with "
                f"the last PATCH); the received bytes hash to {found}"
            )
            await self.db.run(_refuse, u.id, who, found, claimed, reason)
            self.part_path(u.id).unlink(missing_ok=True)
            self._forget(u.id)
            raise ChecksumMismatch(
                f"upload refused: {reason}; nothing was stored, the file must be uploaded again",
                code="sha256_mismatch",
            )
        if u.state != "committing":
            await self.db.run(_set_committing, u.id, found, claimed)
        retention = utcnow() + timedelta(days=self.settings.retention_default_days)
        path = self.part_path(u.id)
        if path.exists():
            await self._off_loop(lambda: self.store.adopt(path, found, retention_until=retention))
        elif not await self._off_loop(self.store.exists, found):
            await self.db.run(_set_state, u.id, "expired", "partial file vanished before commit")
            raise Gone(f"upload {u.id} lost its bytes before they were stored; upload again")
        try:
            done = await self.db.run(
                _catalogue, u.id, who, found, retention, self.key, self.settings, self.store
            )
        except IntegrityError:
            # Another upload of the same bytes committed at the same moment: now a duplicate.
            done = await self.db.run(
                _catalogue, u.id, who, found, retention, self.key, self.settings, self.store
            )
        self._forget(u.id)
        return Received(done, committed=True)

    def _forget(self, upload_id: str) -> None:
        self._live.pop(upload_id, None)

    # -- interrupted commits ----------------------------------------------------------------
    async def finish(self, who: Principal, upload_id: str) -> Received | None:
        """Finish a commit that a crash interrupted: every byte was received (state
        `committing`, or `receiving` with offset = length) but no evidence item was made.
        Returns None when the upload needs nothing (still receiving, or already done)."""
        lock = self._lock(upload_id)
        if lock.locked():
            raise Busy(f"upload {upload_id} is being received or committed; retry shortly")
        async with lock:
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committing":
                return await self._commit(who, u, None)
            if u.state == "receiving" and u.received == u.length:
                live = await self._live_at(u)
                assert live.offset == u.length
                return await self._commit(who, u, None)
            return None

    async def finish_interrupted(self, grace: timedelta = timedelta(seconds=60)) -> int:
        """On start and in every sweep: finish (or refuse) commits left behind by a process
        that died while committing, so neither the station nor an operator has to act. Only
        uploads idle for `grace` are touched: a live commit on another server is younger."""
        done = 0
        for upload_id, owner in await self.db.run(_interrupted, utcnow() - grace):
            try:
                if await self.finish(owner, upload_id) is not None:
                    done += 1
                    logger.warning("upload %s: interrupted commit finished", upload_id)
            except (Busy, Gone):
                continue
            except ChecksumMismatch as exc:
                logger.warning("upload %s: interrupted commit refused: %s", upload_id, exc.message)
        return done

    # -- termination and expiry -------------------------------------------------------------
    async def terminate(self, who: Principal, upload_id: str) -> None:
        async with self._lock(upload_id):
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committed":
                raise Conflict(
                    f"upload {u.id} is already evidence item {u.evidence_id}; "
                    "evidence is never deleted",
                    code="already_committed",
                )
            if u.state == "committing":
                raise Conflict(f"upload {u.id} is being committed", code="committing")
            _check_receiving(u)
            await self.db.run(_set_state, u.id, "terminated", "terminated by the client")
            self.part_path(u.id).unlink(missing_ok=True)
            self._forget(u.id)
            self._locks.pop(u.id, None)
        logger.info("upload %s terminated by %s", upload_id, who.username)

    async def expire(self) -> int:
        """Expire idle uploads and delete their partial files; returns how many."""
        ids = await self.db.run(_expire_due, utcnow())
        for upload_id in ids:
            lock = self._locks.get(upload_id)
            if lock is not None and lock.locked():
                continue  # receiving right now; the next PATCH end renews it anyway
            self.part_path(upload_id).unlink(missing_ok=True)
            self._forget(upload_id)
            self._locks.pop(upload_id, None)
            logger.info("upload %s expired; partial bytes deleted", upload_id)
        # Partial files whose upload is gone (a crash between state change and unlink).
        known = await self.db.run(_active_ids)
        for p in self.dir.glob("upload-*.part"):
            uid = p.name.removeprefix("upload-").removesuffix(".part")
            if uid not in known:
                p.unlink(missing_ok=True)
        return len(ids)


def _check_receiving(u: Upload) -> None:
    if u.state == "receiving":
        return
    if u.state == "committed":
        raise Conflict(
            f"upload {u.id} is complete (evidence item {u.evidence_id})", code="already_committed"
        )
    raise Gone(
        f"upload {u.id} is {u.state}" + (f": {u.error}" if u.error else "") + "; start a new upload"
    )


def _os_error(exc: OSError, where: Path) -> CustodianError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"no space left for uploads at {where}; free space or add storage")
    return CustodianError(
        f"cannot write upload at {where}: {exc.strerror or exc}", code="upload_io_error"
    )


# -- transactions -------------------------------------------------------------------------
def _advance(s: Session, upload_id: str, old: int, new: int, expiry: timedelta) -> None:
    u = s.get(Upload, upload_id)
    if u is None or u.received != old:
        raise Conflict(f"upload {upload_id} moved on meanwhile", code="offset_mismatch")
    now = utcnow()
    u.received, u.updated_at, u.expires_at = new, now, now + expiry


def _rewind(s: Session, upload_id: str, to: int) -> None:
    u = s.get(Upload, upload_id)
    if u is not None:
        u.received = to


def _set_state(s: Session, upload_id: str, state: str, error: str = "") -> None:
    u = s.get(Upload, upload_id)
    if u is not None:
        u.state, u.error, u.updated_at = state, error, utcnow()


def _set_committing(s: Session, upload_id: str, found: str, claimed: str) -> None:
    u = s.get(Upload, upload_id)
    assert u is not None
    u.state, u.server_sha256, u.claimed_sha256, u.updated_at = (
        "committing",
        found,
        claimed,
        utcnow(),
    )


def _refuse(
    s: Session, upload_id: str, who: Principal, found: str, claimed: str | None, reason: str
) -> None:
    u = s.get(Upload, upload_id)
    assert u is not None
    u.state, u.server_sha256, u.error, u.updated_at = "refused", found, reason, utcnow()
    append(
        s,
        actor=actor_of(who),
        action=UPLOAD_REFUSED,
        subject=f"upload:{u.id}",
        details={
            "upload_id": u.id,
            "filename": u.filename,
            "size": u.length,
            "claimed_sha256": claimed,
            "received_sha256": found,
            "station_id": u.station_id,
            "reason": reason,
        },
    )
    logger.warning("upload %s refused: %s", u.id, reason)


def _catalogue(
    s: Session,
    upload_id: str,
    who: Principal,
    sha256: str,
    retention: datetime,
    key: ServerKey,
    settings: Settings,
    store: ObjectStore,
) -> dict[str, Any]:
    """Stored object + evidence item + signed manifest v1 + INGEST entry + a queued media job,
    all in one transaction; or DUPLICATE for bytes already held."""
    u = s.get(Upload, upload_id)
    assert u is not None
    if u.state == "committed":
        return upload_json(u)
    now = utcnow()
    shared = s.get(StoredObject, sha256) is not None
    if not shared:
        s.add(
            StoredObject(
                sha256=sha256,
                size=u.length,
                role="original",
                retention_until=retention,
                created_at=now,
            )
        )
        s.flush()
    details = {
        "upload_id": u.id,
        "sha256": sha256,
        "size": u.length,
        "filename": u.filename,
        "claimed_sha256": u.claimed_sha256,
        "station_id": u.station_id,
        "device_id": u.device_id,
        "officer_id": u.officer_id,
        "recorded_at": u.recorded_at.isoformat().replace("+00:00", "Z") if u.recorded_at else None,
        "case": u.case_ref,
        "stage": u.stage,
    }
    # Bytes are deduplicated in the store only: each agency gets its own item (never another
    # agency's id), and the same agency delivering the bytes again adds a delivery record.
    # (An upload begun before agencies were required may have none: its item is then seen by
    # the roles that see every agency only, never by an agency's people.)
    same_agency = (
        EvidenceItem.agency_id.is_(None)
        if u.agency_id is None
        else EvidenceItem.agency_id == u.agency_id
    )
    item = s.scalar(select(EvidenceItem).where(EvidenceItem.sha256 == sha256, same_agency))
    if item is not None:
        u.duplicate = True
        append(
            s, actor=actor_of(who), action=DUPLICATE, subject=f"evidence:{item.id}", details=details
        )
        logger.info("upload %s: same bytes as evidence %s; no second copy", u.id, item.id)
    else:
        item = EvidenceItem(
            sha256=sha256,
            size=u.length,
            kind=kind_of(u.filename),
            status="received",
            original_filename=u.filename,
            agency_id=u.agency_id,
            device_id=u.device_id,
            officer_id=u.officer_id,
            station_id=u.station_id,
            delivered_by=u.user_id,
            claimed_sha256=u.claimed_sha256,
            recorded_at=u.recorded_at,
            received_at=now,
            retention_until=retention,
        )
        s.add(item)
        s.flush()
        if shared:
            details["shared_object"] = True  # the stored object already served another item
        append(
            s, actor=actor_of(who), action=INGEST, subject=f"evidence:{item.id}", details=details
        )
        from server.people.registry_attribution import (
            on_catalogued,  # device -> officer at recorded_at (issue 16)
        )

        on_catalogued(s, item, who)
        write_manifest(s, item, key=key, now=now)
        enqueue(s, MEDIA_JOB, item.id)
        if u.case_ref and u.stage:
            problem = link_from_intake(s, item, u.case_ref, u.stage, who, settings, store)
            if problem:
                item.media_info = {**(item.media_info or {}), "intake_link_error": problem}
                logger.warning(
                    "upload %s: not linked to case %r stage %r: %s",
                    u.id,
                    u.case_ref,
                    u.stage,
                    problem,
                )
        logger.info("upload %s committed as evidence %s (%s)", u.id, item.id, sha256)
    s.add(
        EvidenceDelivery(
            item_id=item.id, upload_id=u.id, agency_id=u.agency_id, delivered_by=u.user_id,
            filename=u.filename, device_id=u.device_id, officer_id=u.officer_id,
            station_id=u.station_id, recorded_at=u.recorded_at, case_ref=u.case_ref,
            stage=u.stage, claimed_sha256=u.claimed_sha256, first=not u.duplicate,
            received_at=now,
        )
    )
    u.state, u.evidence_id, u.server_sha256, u.updated_at = "committed", item.id, sha256, now
    return upload_json(u)


def _expire_due(s: Session, now: datetime) -> list[str]:
    rows = list(
        s.scalars(select(Upload).where(Upload.state == "receiving", Upload.expires_at < now))
    )
    for u in rows:
        u.state, u.error, u.updated_at = "expired", "no activity before Upload-Expires", now
    return [u.id for u in rows]


def _interrupted(s: Session, idle_since: datetime) -> list[tuple[str, Principal]]:
    """Uploads with every byte received, no evidence item, idle since before `idle_since`,
    with their owner as the principal that finishes them (the ledger names the uploader)."""
    rows = s.execute(
        select(Upload, User).join(User, User.id == Upload.user_id).where(
            Upload.updated_at < idle_since,
            or_(Upload.state == "committing",
                and_(Upload.state == "receiving", Upload.received == Upload.length)),
        )
    ).all()
    return [(u.id, Principal(usr.id, usr.username, usr.role, usr.agency_id)) for u, usr in rows]


def _active_ids(s: Session) -> set[str]:
    return set(s.scalars(select(Upload.id).where(Upload.state.in_(ACTIVE))))


# -- lifetime -------------------------------------------------------------------------------


