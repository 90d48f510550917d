"""The agent's uploads: one file sent over tus (resumed from the server's offset, each chunk
checked), then confirmed by the server's hash. A mixin of ingest.agent.Agent."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from ingest.client import (
    ChunkMismatch,
    CustodianClient,
    OffsetMismatch,
    Rejected,
    ServerDown,
    UploadGone,
)
from ingest.journal import Entry, Journal
from ingest.naming import describe

if TYPE_CHECKING:
    from ingest.agent import AgentConfig, Outcome

logger = logging.getLogger("ingest.agent")  # the agent's log, as before the split

READ_BLOCK = 1024 * 1024
CHUNK_RETRIES = 3  # re-sends of one PATCH whose Upload-Checksum failed


class Uploads:
    """Upload, resume and confirm one file (the Agent holds the state used here)."""

    cfg: AgentConfig
    client: CustodianClient | None
    journal: Journal
    outcomes: dict[str, Outcome]
    _buffers: list[bytearray]
    _progress: Any
    _total_task: Any

    async def _upload(self, e: Entry, path: Path) -> tuple[str, str]:
        """Upload (or resume) one file; returns (sha256, evidence id) once the server holds it."""
        assert self.client is not None
        meta = {
            "station_id": self.cfg.station_id,
            **describe(path, self.cfg.naming),
            "filename": path.name,
        }
        delay = 1.0
        started = time.monotonic()
        with open(path, "rb", buffering=0) as f:
            st = os.fstat(f.fileno())
            if st.st_size != e.size or st.st_mtime_ns != e.mtime_ns:
                raise OSError(f"{path} changed since it was found complete")
            while True:
                try:
                    return await self._attempt(e, path, f, meta)
                except (ServerDown, OffsetMismatch, ChunkMismatch) as exc:
                    if isinstance(exc, ServerDown):
                        if self.cfg.once and time.monotonic() - started > self.cfg.give_up_after:
                            raise
                        logger.warning("%s: %s; retrying in %.0fs", path.name, exc, delay)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.cfg.backoff_max)
                    else:
                        logger.info("%s: %s; resuming from the server's offset", path.name, exc)
                    e = self.journal.by_id(e.id)

    async def _attempt(
        self, e: Entry, path: Path, f: BinaryIO, meta: dict[str, str]
    ) -> tuple[str, str]:
        assert self.client is not None
        # The journal keeps the upload's path, resolved against the server configured now:
        # after the server it started on is gone, another one (scale-out) continues it.
        url = self.client.url(urlsplit(e.upload_url).path) if e.upload_url else None
        hasher: Any = None
        offset = 0
        if url:
            try:
                info = await self.client.head(url)
            except UploadGone:
                logger.info("%s: earlier upload expired on the server; starting again", path.name)
                url = None
            else:
                if info["length"] != e.size:
                    url = None
                elif info["evidence_id"]:
                    # The server finished it before we could note so (crash): check, don't resend.
                    hasher = await asyncio.to_thread(hash_prefix, f, e.size)
                    local = hasher.hexdigest()
                    if info["sha256"] != local:
                        raise Rejected(
                            f"the server holds {info['sha256']} for this upload but "
                            f"the file hashes to {local}"
                        )
                    return await self._confirm(url, local, info["evidence_id"])
                elif info["offset"] == e.size:
                    # Every byte arrived but the server died while committing: ask it to
                    # finish (an empty last PATCH with our hash) instead of giving up.
                    hasher = await asyncio.to_thread(hash_prefix, f, e.size)
                    local = hasher.hexdigest()
                    logger.info("%s: all bytes on the server; asking it to finish", path.name)
                    result = await self.client.patch(
                        url, e.size, b"", chunk_sha256=None, claim=local
                    )
                    if result.get("sha256") != local or not result.get("evidence_id"):
                        raise Rejected(
                            f"server answered sha256 {result.get('sha256')} on finishing, "
                            f"the file hashes to {local}"
                        )
                    return await self._confirm(url, local, result["evidence_id"])
                else:
                    offset = info["offset"]
                    hasher = await asyncio.to_thread(hash_prefix, f, offset)
                    logger.info("%s: resuming at %d of %d bytes", path.name, offset, e.size)
        if not url:
            url = await self.client.create(e.size, meta)
            self.journal.update(e.id, state="uploading", upload_url=url)
            hasher = hashlib.sha256()
            offset = 0
            f.seek(0)
            logger.info("uploading %s (%d bytes) to %s", path, e.size, url)
        return await self._send(e, path, f, url, hasher, offset)

    async def _send(
        self, e: Entry, path: Path, f: BinaryIO, url: str, hasher: Any, offset: int
    ) -> tuple[str, str]:
        assert self.client is not None
        size = e.size
        chunk = self.cfg.chunk_bytes
        want_digest = self.cfg.chunk_checksum
        task_id = None
        if self._progress is not None:
            task_id = self._progress.add_task(path.name, total=size, completed=offset)
            self._progress.update(
                self._total_task, total=self._progress.tasks[0].total + size - offset
            )
        t0 = time.monotonic()
        sent = 0

        # Two buffers, used in turn: the next chunk is read into one while the other is on its
        # way; a buffer is read into again only after the PATCH that carried it has answered.
        need = 2 if size - offset > chunk else 1
        buffers = [self._buffers.pop() if self._buffers else bytearray(chunk) for _ in range(need)]
        turn = 0

        def read(n: int) -> tuple[memoryview, bytes | None]:
            nonlocal turn
            buf = buffers[turn]
            turn = (turn + 1) % len(buffers)
            data = _read_into(f, memoryview(buf)[:n])
            hasher.update(data)  # the whole-file hash: the file is read once
            return data, hashlib.sha256(data).digest() if want_digest else None

        pending: asyncio.Future[tuple[memoryview, bytes | None]] | None = asyncio.ensure_future(
            asyncio.to_thread(read, min(chunk, size - offset))
        )
        result: dict[str, Any] = {}
        try:
            while offset < size:
                assert pending is not None
                data, digest = await pending
                pending = None
                if not data:
                    raise OSError(f"{path} is shorter than the {size} bytes found earlier")
                last = offset + len(data) >= size
                if not last:  # read ahead while this chunk travels
                    pending = asyncio.ensure_future(
                        asyncio.to_thread(read, min(chunk, size - offset - len(data)))
                    )
                claim = hasher.hexdigest() if last else None
                for attempt in range(1, CHUNK_RETRIES + 1):
                    try:
                        result = await self.client.patch(
                            url, offset, data, chunk_sha256=digest, claim=claim
                        )
                        break
                    except ChunkMismatch as exc:
                        logger.warning(
                            "%s: chunk at %d arrived altered (%s); sending it again (%d of %d)",
                            path.name,
                            offset,
                            exc,
                            attempt,
                            CHUNK_RETRIES,
                        )
                        if attempt == CHUNK_RETRIES:
                            raise
                if result["offset"] != offset + len(data):
                    raise OffsetMismatch(
                        f"server is at {result['offset']}, expected {offset + len(data)}"
                    )
                offset = result["offset"]
                sent += len(data)
                if self._progress is not None:
                    self._progress.update(task_id, completed=offset)
                    self._progress.advance(self._total_task, len(data))
                if self.cfg.limit_rate:
                    ahead = sent / self.cfg.limit_rate - (time.monotonic() - t0)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        finally:
            if pending is not None:  # never leave a read running on the shared file
                await asyncio.gather(pending, return_exceptions=True)
            if self._progress is not None and task_id is not None:
                self._progress.remove_task(task_id)
        # Back to the pool only now: after an error a request may still hold a slice of them.
        self._buffers += buffers
        local = hasher.hexdigest()
        if result.get("sha256") != local:
            raise Rejected(
                f"server answered sha256 {result.get('sha256')}, the file hashes to {local}"
            )
        return await self._confirm(url, local, result["evidence_id"])

    async def _confirm(self, url: str, local: str, evidence_id: str) -> tuple[str, str]:
        """Ask the server once more what it holds; only the same SHA-256 counts."""
        assert self.client is not None
        status = await self.client.status(url)
        if status.get("state") != "committed" or status.get("sha256") != local:
            raise Rejected(
                f"server does not confirm {local}: state {status.get('state')}, "
                f"sha256 {status.get('sha256')}"
            )
        return local, status.get("evidence_id") or evidence_id

    # -- clearing -----------------------------------------------------------------------


def _read_into(f: BinaryIO, view: memoryview) -> memoryview:
    """Fill `view` from the file (fewer bytes only at its end); returns the filled part."""
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            break
        got += k
    return view[:got]


def hash_prefix(f: BinaryIO, upto: int) -> Any:
    """Hash the first `upto` bytes and leave the file positioned there (a resume)."""
    h = hashlib.sha256()
    f.seek(0)
    left = upto
    while left > 0:
        data = f.read(min(READ_BLOCK, left))
        if not data:
            raise OSError("file shorter than the bytes already uploaded")
        h.update(data)
        left -= len(data)
    return h
