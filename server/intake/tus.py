"""tus uploads: the byte pipeline (create, receive PATCHes, commit, terminate, expire).

The bytes of an unfinished upload wait in the store's staging area (server/store/staging.py),
which every server process reaches: a shared folder for the local store, the bucket itself
for S3. Its progress lives in the `uploads` row, with the SHA-256 state at that offset
(server.intake.sha256state), so the next PATCH continues on any server; where that state
cannot be saved, a server re-hashes the received prefix once. One request per upload at a
time across processes (server.intake.locks). On the last byte the hash is compared with the
station's claim: equal -> the staging moves the bytes into the store and the evidence item is
born (server.intake.commit); different -> refused, nothing stored, an `upload_refused` entry.
Header parsing is in server.intake.tus_headers, the row transactions in
server.intake.upload_rows.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.catalogue.db import Database
from server.catalogue.models import DeploymentMark, Upload, new_id, utcnow
from server.custody.signing import ServerKey, load_or_create_key
from server.http.access import UPLOAD, UPLOAD_MANY, Principal, can, require
from server.http.errors import (
    BadRequest,
    Conflict,
    CustodianError,
    PayloadTooLarge,
    StoreError,
    StoreFull,
)
from server.intake import sha256state
from server.intake.commit import CommitRequest, commit_upload, refuse
from server.intake.locks import Busy, UploadLocks
from server.intake.quotas import check_upload_quota
from server.intake.tus_headers import (
    CHECKSUM_ALGORITHMS,
    check_sha256,
    parse_length,
    parse_metadata,
    parse_offset,
    parse_recorded_at,
    parse_upload_checksum,
    safe_filename,
    short_value,
)
from server.intake.upload_rows import (
    ACTIVE,
    Gone,
    active_ids,
    advance,
    book_of,
    check_receiving,
    expire_due,
    get_mark,
    get_upload,
    interrupted,
    reserved_bytes,
    rewind,
    set_book,
    set_committing,
    set_state,
    upload_agency,
    upload_json,
)
from server.settings import Settings
from server.store.base import ObjectStore
from server.store.staging import MARK_NAME, LocalStaging, StagingLost

logger = logging.getLogger(__name__)

WRITE_BLOCK = 8 * 1024 * 1024  # bytes gathered before one write+hash step off the loop
# aiohttp keeps reading the socket until twice this much of a PATCH body waits unread, so the
# loop goes on receiving while a thread writes and hashes the previous block.
READ_BUFFER = 8 * 1024 * 1024
STRAY_GRACE = timedelta(minutes=10)  # staged bytes of no known upload older than this go


class ChecksumMismatch(CustodianError):
    """tus checksum extension: 460 when bytes do not hash to what the client said."""

    status = 460
    code = "checksum_mismatch"


@dataclass(frozen=True)
class Received:
    """What a PATCH did: the new offset, and for the last one, the commit."""

    upload: dict[str, Any]
    committed: bool = False


def _os_error(exc: OSError, where: str) -> CustodianError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"no space left for uploads at {where}; free space or add storage")
    return CustodianError(
        f"cannot write upload at {where}: {exc.strerror or exc}", code="upload_io_error"
    )


class UploadManager:
    """Creates, receives, commits, terminates and expires tus uploads."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: ObjectStore,
        key: ServerKey | None = None,
        pool: ThreadPoolExecutor | None = None,
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
        self.staging = store.staging(settings)
        if not self.staging.can_rehash and not sha256state.available():
            raise CustodianError(
                f"uploads staged at {self.staging.location} need OpenSSL's SHA256_* functions "
                "(libcrypto) to carry the hash between servers, and they are missing",
                code="bad_setting",
            )
        self.staging.check_shared(lambda: db.call(get_mark, MARK_NAME), self._set_mark)
        self.locks = UploadLocks(db)
        # Writes and hashes run here so the event loop keeps receiving meanwhile.
        # The app's upload pool (server/http/lifetimes.py) when given, else one of our own.
        self._own_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload")

    def _set_mark(self, value: str) -> str:
        def put(s: Session) -> None:
            s.add(DeploymentMark(name=MARK_NAME, value=value))

        try:
            self.db.call(put)
        except IntegrityError:
            pass  # another server marked first: its id is the one to see
        return self.db.call(get_mark, MARK_NAME) or value

    def close(self) -> None:
        if self._own_pool:
            self._pool.shutdown(wait=True)
        self.locks.close()

    @property
    def dir(self) -> Any:
        """The staging folder (local store only)."""
        assert isinstance(self.staging, LocalStaging)
        return self.staging.dir

    def part_path(self, upload_id: str) -> Any:
        assert isinstance(self.staging, LocalStaging)
        return self.staging.part_path(upload_id)

    @property
    def expiry(self) -> timedelta:
        return timedelta(seconds=self.settings.upload_expiry_seconds)

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
        """Check the caller, the metadata and the space; create the upload and its staging."""
        require(who, UPLOAD)
        if defer_length is not None:
            raise BadRequest(
                "Upload-Defer-Length is not supported: send Upload-Length", code="length_required"
            )
        length = parse_length(length_header, self.settings.upload_max_bytes)
        meta = parse_metadata(metadata_header)
        filename = safe_filename(meta.get("filename", ""))
        claimed = check_sha256(meta.get("sha256"), "metadata sha256")
        now = utcnow()
        row = Upload(
            id=new_id(),
            user_id=who.user_id,
            agency_id=who.agency_id,
            state="receiving",
            length=length,
            received=0,
            metadata_raw=metadata_header or "",
            filename=filename,
            claimed_sha256=claimed,
            device_id=short_value(meta, "device_id"),
            officer_id=short_value(meta, "officer_id"),
            station_id=short_value(meta, "station_id"),
            recorded_at=parse_recorded_at(meta.get("recorded_at"), self.settings.camera_timezone),
            case_ref=short_value(meta, "case"),
            stage=short_value(meta, "stage"),
            created_at=now,
            updated_at=now,
            expires_at=now + self.expiry,
            hash_state=sha256state.state_of(sha256state.new_hasher()),
        )
        many = can(who, UPLOAD_MANY)
        agency_code = short_value(meta, "agency")

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
            reserved = reserved_bytes(s)
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
            book = await self._off_loop(self.staging.create, created["id"])
        except (OSError, StoreError) as exc:
            await self.db.run(set_state, created["id"], "refused", f"cannot stage: {exc}")
            if isinstance(exc, OSError):
                raise _os_error(exc, self.staging.location) from exc
            raise
        if book is not None:
            await self.db.run(set_book, created["id"], book)
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
        offset = parse_offset(offset_header)
        checksum = parse_upload_checksum(checksum_header)
        late_claim = check_sha256(claim_header, "Custodian-Sha256")
        busy = f"upload {upload_id} is receiving another PATCH; retry after it ends"
        async with self.locks.hold(upload_id, busy):
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committed" and offset == u.length and not content_length:
                return Received(upload_json(u), committed=True)
            if u.state == "committing":
                return await self._commit(who, u, late_claim, None)
            check_receiving(u)
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
            hasher = await self._hasher_at(u)
            await self._append(u, hasher, offset, chunks, checksum)
            if u.received < u.length:
                return Received(upload_json(u))
            return await self._commit(who, u, late_claim, hasher)

    async def _hasher_at(self, u: Upload) -> Any:
        """The running hash at the upload's offset: from its saved state, or by re-hashing the
        received prefix once (no saved state: an older row, or no libcrypto)."""
        staged: int | None = None
        if self.staging.can_rehash:
            staged = await self._off_loop(self.staging.staged_size, u.id)
            if staged is None:
                await self.db.run(set_state, u.id, "expired", "partial file is missing")
                raise Gone(f"upload {u.id} lost its partial file; start a new upload")
        if u.hash_state is not None and (staged is None or staged >= u.received):
            try:
                hasher = sha256state.ResumableSha256.from_state(u.hash_state)
            except (ValueError, RuntimeError):
                hasher = None
            if hasher is not None and hasher.length == u.received:
                return hasher
        if u.received == 0:
            return sha256state.new_hasher()
        if not self.staging.can_rehash:
            await self.db.run(set_state, u.id, "expired", "the running hash state is lost")
            raise Gone(f"upload {u.id} cannot be resumed here; start a new upload")

        def rehash() -> tuple[Any, int]:
            h = sha256state.new_hasher()
            blocks = self.staging.read_prefix(u.id, u.received)
            done = 0
            for data in blocks or ():
                h.update(data)
                done += len(data)
            return h, done

        hasher, upto = await self._off_loop(rehash)
        if upto != u.received:
            # The file holds fewer bytes than were recorded (a crash before they reached the
            # disk): tell the client the true offset.
            await self.db.run(rewind, u.id, upto)
            logger.warning(
                "upload %s: rewound from %d to %d bytes after restart", u.id, u.received, upto
            )
            raise Conflict(
                f"upload {u.id} holds {upto} bytes, not {u.received}: send HEAD and "
                "resume from there",
                code="offset_mismatch",
            )
        logger.info("upload %s: re-hashed %d received bytes to resume", u.id, upto)
        return hasher

    async def _append(
        self,
        u: Upload,
        hasher: Any,
        offset: int,
        chunks: AsyncIterator[bytes],
        checksum: tuple[str, bytes] | None,
    ) -> None:
        """Stage the body after `offset` and record it (offset, hash state, staging book) in
        one transaction, setting u.received. With a chunk checksum the body is kept only when
        it matches; without one, what arrived before a broken connection is kept to resume."""
        limit = u.length - offset
        chunk_hasher = CHECKSUM_ALGORITHMS[checksum[0]]() if checksum else None
        try:
            writer = await self._off_loop(self.staging.writer, u.id, offset, u.staging)
        except StagingLost as exc:
            await self.db.run(set_state, u.id, "expired", exc.message)
            raise Gone(exc.message) from None
        except OSError as exc:
            raise _os_error(exc, self.staging.location) from exc
        hashers = [hasher] if chunk_hasher is None else [hasher, chunk_hasher]

        def step(parts: list[bytes]) -> None:
            # Each piece is written and hashed while it is still in the CPU cache; the pieces
            # are the buffers the socket delivered, never joined (no copy on this side).
            for data in parts:
                writer.write([data])
                for h in hashers:
                    h.update(data)

        written = 0  # bytes written and hashed
        pending: tuple[asyncio.Future[Any], int] | None = None  # the step in the pool
        batch: list[bytes] = []
        batched = 0
        too_long = complete = False
        failure: Exception | None = None

        async def settle() -> None:
            nonlocal pending, written
            if pending is not None:
                fut, size = pending
                pending = None
                await asyncio.shield(fut)
                written += size

        def submit() -> None:
            nonlocal pending, batch, batched
            pending = (asyncio.ensure_future(self._off_loop(step, batch)), batched)
            batch, batched = [], 0

        try:
            async for data in chunks:
                if written + batched + len(data) > limit:
                    data = data[: limit - written - batched]
                    too_long = True
                if data:
                    batch.append(data)
                    batched += len(data)
                if batched >= WRITE_BLOCK or too_long:
                    await settle()
                    submit()
                if too_long:
                    break
            await settle()
            if batch:
                submit()
                await settle()
            complete = True
        except (OSError, StoreError, StagingLost) as exc:
            failure = exc
        finally:
            if not complete and failure is None:
                # The connection broke: what arrived is still good, keep it for the resume
                # (unless a chunk checksum covers the whole body: then none of it).
                try:
                    await settle()
                    if batch and checksum is None:
                        submit()
                        await settle()
                except (OSError, StoreError, StagingLost) as exc:
                    failure = exc
                keep = failure is None and checksum is None and written > 0
            elif complete:
                keep = not too_long and (
                    chunk_hasher is None or checksum is None or chunk_hasher.digest() == checksum[1]
                )
            else:
                keep = False
            if keep:
                book = await asyncio.shield(self._off_loop(writer.keep))
                if written:
                    state = sha256state.state_of(hasher)
                    await asyncio.shield(
                        self.db.run(
                            advance, u.id, offset, offset + written, self.expiry, state, book
                        )
                    )
                    u.received, u.hash_state = offset + written, state
                    u.staging = book if book is not None else u.staging
                    await asyncio.shield(self._off_loop(writer.recorded))
                if not complete:
                    logger.info("upload %s interrupted at %d bytes", u.id, offset + written)
            else:
                await asyncio.shield(self._off_loop(writer.drop))
        if isinstance(failure, StagingLost):
            await self.db.run(set_state, u.id, "expired", failure.message)
            raise Gone(failure.message) from failure
        if isinstance(failure, OSError):
            raise _os_error(failure, self.staging.location) from failure
        if failure is not None:
            raise failure
        if too_long:
            raise PayloadTooLarge(
                f"the PATCH body runs past Upload-Length {u.length}", code="exceeds_upload_length"
            )
        if checksum is not None and chunk_hasher is not None:
            if chunk_hasher.digest() != checksum[1]:
                raise ChecksumMismatch(
                    f"the {written} bytes of this PATCH do not match its Upload-Checksum "
                    f"({checksum[0]}); they were discarded, send them again from offset {offset}",
                    code="checksum_mismatch",
                )

    # -- commit -----------------------------------------------------------------------------
    async def _commit(
        self, who: Principal, u: Upload, late_claim: str | None, hasher: Any
    ) -> Received:
        """All bytes are here: compare, then move into the store and catalogue, or refuse."""
        if u.state == "committing":
            found = u.server_sha256
        else:
            assert hasher is not None
            found = hasher.hexdigest()
        assert found is not None
        claimed = u.claimed_sha256 or late_claim
        if not claimed or claimed != found:
            reason = (
                f"the station's SHA-256 {claimed} does not match the SHA-256 of the "
                f"{u.length} bytes received, {found}"
                if claimed
                else "no SHA-256 was claimed (send it as metadata sha256 or in Custodian-Sha256 with "
                f"the last PATCH); the received bytes hash to {found}"
            )
            await self.db.run(refuse, u.id, who, found, claimed, reason)
            await self._off_loop(self.staging.discard, u.id, u.staging)
            raise ChecksumMismatch(
                f"upload refused: {reason}; nothing was stored, the file must be uploaded again",
                code="sha256_mismatch",
            )
        if u.state != "committing":
            await self.db.run(set_committing, u.id, found, claimed)
        retention = utcnow() + timedelta(days=self.settings.retention_default_days)
        try:
            await self._off_loop(self.staging.commit, u.id, u.staging, found, retention)
        except StagingLost:
            await self.db.run(set_state, u.id, "expired", "partial file vanished before commit")
            raise Gone(
                f"upload {u.id} lost its bytes before they were stored; upload again"
            ) from None
        req = CommitRequest(u.id, who, found, retention, self.key, self.settings, self.store)
        try:
            done = await self.db.run(commit_upload, req)
        except IntegrityError:
            # Another upload of the same bytes committed at the same moment: now a duplicate.
            done = await self.db.run(commit_upload, req)
        return Received(done.upload, committed=True)

    # -- interrupted commits ----------------------------------------------------------------
    async def finish(self, who: Principal, upload_id: str) -> Received | None:
        """Finish a commit that a crash interrupted: every byte was received (state
        `committing`, or `receiving` with offset = length) but no evidence item was made.
        Returns None when the upload needs nothing (still receiving, or already done)."""
        busy = f"upload {upload_id} is being received or committed; retry shortly"
        async with self.locks.hold(upload_id, busy):
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committing":
                return await self._commit(who, u, None, None)
            if u.state == "receiving" and u.received == u.length:
                hasher = await self._hasher_at(u)
                return await self._commit(who, u, None, hasher)
            return None

    async def finish_interrupted(self, grace: timedelta = timedelta(seconds=60)) -> int:
        """On start and in every sweep: finish (or refuse) commits left behind by a process
        that died while committing, so neither the station nor an operator has to act. Only
        uploads idle for `grace` are touched: a live commit on another server is younger."""
        done = 0
        for upload_id, owner in await self.db.run(interrupted, utcnow() - grace):
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
        busy = f"upload {upload_id} is receiving a PATCH; retry after it ends"
        async with self.locks.hold(upload_id, busy):
            u = await self.db.run(get_upload, upload_id, who)
            if u.state == "committed":
                raise Conflict(
                    f"upload {u.id} is already evidence item {u.evidence_id}; "
                    "evidence is never deleted",
                    code="already_committed",
                )
            if u.state == "committing":
                raise Conflict(f"upload {u.id} is being committed", code="committing")
            check_receiving(u)
            await self.db.run(set_state, u.id, "terminated", "terminated by the client")
            await self._off_loop(self.staging.discard, u.id, u.staging)
        logger.info("upload %s terminated by %s", upload_id, who.username)

    async def expire(self) -> int:
        """Expire idle uploads and delete their staged bytes; returns how many."""
        ids = await self.db.run(expire_due, utcnow())
        for upload_id in ids:
            try:
                async with self.locks.hold(upload_id, "busy"):
                    book = await self.db.run(book_of, upload_id)
                    await self._off_loop(self.staging.discard, upload_id, book)
            except Busy:
                continue  # receiving right now; the next PATCH end renews it anyway
            logger.info("upload %s expired; partial bytes deleted", upload_id)
        # Staged bytes whose upload is gone (a crash between state change and delete).
        known = await self.db.run(active_ids)
        await self._off_loop(self.staging.discard_unknown, known, utcnow() - STRAY_GRACE)
        return len(ids)
