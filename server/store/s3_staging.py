"""Upload staging in the S3 bucket: one multipart upload per tus upload.

Each tus upload has a multipart upload at `staging/<id>/data`. PATCH bytes are gathered into
parts of `part_bytes` (at least S3's 5 MiB minimum); what a PATCH leaves over (less than a
part) is written as a small immutable piece object `staging/<id>/piece-<start>-<end>`. Once
the pieces and the next PATCH's bytes fill a part, the pieces are read back and sent as that
part (and deleted once the catalogue records that part). So a station that sends small
PATCHes costs at most one extra write and read of each byte, and a large PATCH goes straight
into parts. The book (in the catalogue's uploads row, written with the offset) names the multipart upload, the parts (number, size, ETag, CRC32)
and the pieces; parts or pieces a failed PATCH left behind are not in the book and are
overwritten or deleted. On the last byte the pieces become the last part, the multipart
upload is completed, and the result is copied inside S3 (no bytes through the server) to
`objects/<sha256>` with its Object Lock, then the staging versions are deleted. The bucket
must have no default retention rule, or staging objects could not be deleted.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from server.http.errors import ObjectMismatch
from server.store.staging import StagingLost, StagingWriter, UploadStaging

if TYPE_CHECKING:
    from server.store.s3 import S3Store

logger = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024
COPY_PART = 512 * 1024 * 1024


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _Book:
    def __init__(self, text: str | None):
        d: dict[str, Any] = json.loads(text) if text else {}
        self.mpu: str = d.get("mpu", "")
        self.parts: list[list[Any]] = d.get("parts", [])  # [number, size, etag, crc32]
        self.pieces: list[list[Any]] = d.get("pieces", [])  # [start, end, version id]

    def dumps(self) -> str:
        return json.dumps(
            {"mpu": self.mpu, "parts": self.parts, "pieces": self.pieces}, separators=(",", ":")
        )


class S3Writer(StagingWriter):
    def __init__(self, staging: S3Staging, upload_id: str, offset: int, book: _Book):
        self.st, self.id, self.book = staging, upload_id, book
        pending = sum(p[1] - p[0] for p in book.pieces)
        parted = sum(p[1] for p in book.parts)
        if parted + pending != offset:
            raise StagingLost(
                f"upload {upload_id}: the staging holds {parted + pending} bytes, the catalogue "
                f"says {offset}; start a new upload"
            )
        self.pending = pending
        self.buf = bytearray()
        self.buf_start = offset
        self.consumed: list[list[Any]] = []  # pieces now inside a part

    def write(self, parts: list[bytes]) -> None:
        for data in parts:
            self.buf += data
        if self.pending + len(self.buf) >= self.st.part_bytes:
            self._flush_part()

    def _flush_part(self) -> None:
        data = self.st.read_pieces(self.id, self.book.pieces) + bytes(self.buf)
        self.consumed += self.book.pieces
        number = (self.book.parts[-1][0] + 1) if self.book.parts else 1
        etag, crc = self.st.upload_part(self.id, self.book.mpu, number, data)
        self.book.parts.append([number, len(data), etag, crc])
        self.book.pieces = []
        self.pending = 0
        self.buf_start += len(self.buf)
        self.buf = bytearray()

    def keep(self) -> str | None:
        if self.buf:
            end = self.buf_start + len(self.buf)
            vid = self.st.put_piece(self.id, self.buf_start, end, bytes(self.buf))
            self.book.pieces.append([self.buf_start, end, vid])
            self.pending += len(self.buf)
            self.buf_start, self.buf = end, bytearray()
        return self.book.dumps()

    def drop(self) -> None:
        self.buf = bytearray()

    def recorded(self) -> None:
        """The new book is in the catalogue: the pieces now inside a part can go."""
        if self.consumed:
            self.st.delete_pieces(self.id, self.consumed)
            self.consumed = []


class S3Staging(UploadStaging):
    def __init__(self, store: S3Store, part_bytes: int):
        self.store = store
        self.s3 = store.client
        self.bucket = store.bucket
        self.part_bytes = max(MIN_PART, part_bytes)
        self.location = f"s3://{store.bucket}/staging/"

    def _key(self, upload_id: str, name: str = "data") -> str:
        return f"staging/{upload_id}/{name}"

    def _wrap(self, exc: Exception, what: str) -> Exception:
        return self.store._translate(exc, what)

    # -- writing --------------------------------------------------------------------------
    def create(self, upload_id: str) -> str | None:
        try:
            r = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self._key(upload_id), ChecksumAlgorithm="CRC32"
            )
        except Exception as exc:
            raise self._wrap(exc, f"staging upload {upload_id}") from exc
        book = _Book(None)
        book.mpu = r["UploadId"]
        return book.dumps()

    def writer(self, upload_id: str, offset: int, book: str | None) -> StagingWriter:
        b = _Book(book)
        if not b.mpu:
            raise StagingLost(f"upload {upload_id} has no staging; start a new upload")
        return S3Writer(self, upload_id, offset, b)

    def upload_part(self, upload_id: str, mpu: str, number: int, data: bytes) -> tuple[str, str]:
        crc = _crc32(data)
        try:
            r = self.s3.upload_part(
                Bucket=self.bucket,
                Key=self._key(upload_id),
                UploadId=mpu,
                PartNumber=number,
                Body=data,
                ChecksumCRC32=crc,
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise StagingLost(
                    f"upload {upload_id}: its staging is gone; start a new upload"
                ) from None
            raise self._wrap(exc, f"staging part {number} of upload {upload_id}") from exc
        except Exception as exc:
            raise self._wrap(exc, f"staging part {number} of upload {upload_id}") from exc
        return str(r["ETag"]), crc

    def put_piece(self, upload_id: str, start: int, end: int, data: bytes) -> str | None:
        try:
            r = self.s3.put_object(
                Bucket=self.bucket,
                Key=self._key(upload_id, f"piece-{start}-{end}"),
                Body=data,
                ChecksumCRC32=_crc32(data),
            )
        except Exception as exc:
            raise self._wrap(exc, f"staging bytes {start}-{end} of upload {upload_id}") from exc
        return r.get("VersionId")

    def read_pieces(self, upload_id: str, pieces: list[list[Any]]) -> bytes:
        out = bytearray()
        for start, end, *_ in pieces:
            key = self._key(upload_id, f"piece-{start}-{end}")
            try:
                data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if _code(exc) in ("NoSuchKey", "404"):
                    raise StagingLost(
                        f"upload {upload_id} lost staged bytes {start}-{end}; start a new upload"
                    ) from None
                raise self._wrap(exc, f"staging {key}") from exc
            if len(data) != end - start:
                raise StagingLost(
                    f"upload {upload_id}: staged piece {start}-{end} holds "
                    f"{len(data)} bytes; start a new upload"
                )
            out += data
        return bytes(out)

    def delete_pieces(self, upload_id: str, pieces: list[list[Any]]) -> None:
        doomed = [
            {
                "Key": self._key(upload_id, f"piece-{p[0]}-{p[1]}"),
                **({"VersionId": p[2]} if len(p) > 2 and p[2] else {}),
            }
            for p in pieces
        ]
        try:
            for i in range(0, len(doomed), 1000):
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed[i : i + 1000]})
        except Exception as exc:  # best effort: discard() removes the rest at the end
            logger.warning("could not delete staged pieces of upload %s: %s", upload_id, exc)

    # -- commit ---------------------------------------------------------------------------
    def commit(
        self, upload_id: str, book: str | None, sha256: str, retention_until: datetime | None
    ) -> None:
        b = _Book(book)
        expected = sum(p[1] for p in b.parts) + sum(p[1] - p[0] for p in b.pieces)
        target = self.store.key(sha256)
        if self.store.exists(sha256):
            self.discard(upload_id, book)  # the same bytes are already held
            return
        data_key = self._key(upload_id)
        if not self._has(data_key):  # else an interrupted commit completed it already
            try:
                if b.pieces:
                    data = self.read_pieces(upload_id, b.pieces)
                    number = (b.parts[-1][0] + 1) if b.parts else 1
                    etag, crc = self.upload_part(upload_id, b.mpu, number, data)
                    b.parts.append([number, len(data), etag, crc])
                    b.pieces = []
                parts = [
                    {"PartNumber": n, "ETag": etag, "ChecksumCRC32": crc}
                    for n, _size, etag, crc in b.parts
                ]
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=data_key,
                    UploadId=b.mpu,
                    MultipartUpload={"Parts": parts},
                )
            except StagingLost:
                if not self._has(data_key):  # completed meanwhile by another process?
                    raise
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload" or not self._has(data_key):
                    raise self._wrap(exc, f"completing staging of upload {upload_id}") from exc
        size = self._size(data_key)  # also when an interrupted commit completed it before
        if size != expected:
            raise StagingLost(
                f"upload {upload_id}: the staged object holds {size} bytes, "
                f"{expected} were received; start a new upload"
            )
        self._copy_in(data_key, target, size, retention_until, sha256)
        self.discard(upload_id, None)

    def _has(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._wrap(exc, f"head {key}") from exc

    def _size(self, key: str) -> int:
        return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def _copy_in(self, src: str, dst: str, size: int, until: datetime | None, sha: str) -> None:
        """Server-side copy of the completed staging object to its content address, created
        with its Object Lock (a multipart copy: any size, the lock set at creation)."""
        lock = self.store._lock_args(until)
        source = {"Bucket": self.bucket, "Key": src}
        what = f"storing upload as {sha}"
        try:
            mpu = self.s3.create_multipart_upload(Bucket=self.bucket, Key=dst, **lock)["UploadId"]
            try:
                parts = []
                for n, start in enumerate(range(0, size, COPY_PART), 1):
                    end = min(size, start + COPY_PART) - 1
                    r = self.s3.upload_part_copy(
                        Bucket=self.bucket,
                        Key=dst,
                        UploadId=mpu,
                        PartNumber=n,
                        CopySource=source,
                        CopySourceRange=f"bytes={start}-{end}",
                    )
                    parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=dst, UploadId=mpu, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                try:
                    self.s3.abort_multipart_upload(Bucket=self.bucket, Key=dst, UploadId=mpu)
                except Exception:  # best effort; the original error matters
                    logger.warning("could not abort the copy of %s", src)
                raise
        except Exception as exc:
            raise self._wrap(exc, what) from exc
        if self.store.size(sha) != size:
            raise ObjectMismatch(f"{what}: the stored copy does not hold {size} bytes")
        # Confirm the lock (some S3 implementations drop a multipart upload's lock headers);
        # a no-op where the date is already set.
        self.store.set_retention(sha, lock["ObjectLockRetainUntilDate"])
        logger.info("upload staged at %s stored as %s (%d bytes)", src, sha, size)

    # -- clean-up -------------------------------------------------------------------------
    def discard(self, upload_id: str, book: str | None) -> None:
        b = _Book(book)
        if b.mpu:
            try:
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._key(upload_id), UploadId=b.mpu
                )
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":
                    logger.warning("could not abort staging of upload %s: %s", upload_id, exc)
        self._delete_prefix(f"staging/{upload_id}/")

    def _delete_prefix(self, prefix: str) -> None:
        """Every version and delete marker under prefix (the bucket is versioned)."""
        try:
            pages = self.s3.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                doomed = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if doomed:
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed})
        except Exception as exc:  # best effort: discard_unknown tries again later
            logger.warning("could not delete staging objects under %s: %s", prefix, exc)

    def discard_unknown(self, known: set[str], older_than: datetime) -> int:
        n = 0
        try:
            pages = self.s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix="staging/"
            )
            for page in pages:
                for up in page.get("Uploads", []):
                    uid = up["Key"].split("/")[1]
                    if uid not in known and up["Initiated"] < older_than:
                        self.s3.abort_multipart_upload(
                            Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                        )
                        n += 1
            seen: set[str] = set()
            pages = self.s3.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix="staging/"
            )
            for page in pages:
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    uid = v["Key"].split("/")[1]
                    if uid not in known and uid not in seen and v["LastModified"] < older_than:
                        seen.add(uid)
                        self._delete_prefix(f"staging/{uid}/")
        except Exception as exc:
            logger.warning("could not clean the S3 upload staging: %s", exc)
        return n
