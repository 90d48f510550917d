"""S3 write-once store: Object Lock (COMPLIANCE) retention and server-checked SHA-256."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from integrity.hashing import sha256_file
from server.http.errors import (
    ObjectMismatch,
    ObjectNotFound,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from server.store.base import COPY_BLOCK, SHA256_RE, ObjectStore, PutResult, check_key

if TYPE_CHECKING:
    from server.settings import Settings
    from server.store.staging import UploadStaging

logger = logging.getLogger(__name__)

_MISMATCH_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidRequest"}
_FULL_CODES = {"QuotaExceeded", "XMinioStorageFull", "EntityTooLarge", "InsufficientStorage"}


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class S3Store(ObjectStore):
    """Objects at s3://BUCKET/objects/<sha256>; originals locked until their retention date."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        multipart_threshold: int = 64 * 1024 * 1024,
        part_size: int = 16 * 1024 * 1024,
        connect_timeout: float = 5.0,
        retries: int = 2,
        default_retention_days: int = 183,
        quota_bytes: int = 0,
    ):
        self.bucket = bucket
        self.multipart_threshold = multipart_threshold
        self.part_size = max(part_size, 5 * 1024 * 1024)  # S3's minimum part size
        self.default_retention = timedelta(days=default_retention_days)
        self.quota_bytes = quota_bytes
        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=60,
                retries={"max_attempts": max(1, retries), "mode": "standard"},
                # Send the checksum we give and nothing computed behind our back.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def key(self, sha256: str) -> str:
        return f"objects/{check_key(sha256)}"

    # -- errors --------------------------------------------------------------------------
    def _translate(self, exc: Exception, what: str) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", "")
            if (
                code in _MISMATCH_CODES
                and "checksum" in (msg + code).lower()
                or code == "BadDigest"
            ):
                return ObjectMismatch(
                    f"{what}: S3 refused the bytes, their SHA-256 does not match ({code})"
                )
            if code in _FULL_CODES:
                return StoreFull(f"{what}: S3 has no room ({code}: {msg})")
            if code in ("NoSuchKey", "404", "NotFound"):
                return ObjectNotFound(f"{what}: not in bucket {self.bucket}")
            if code == "NoSuchBucket":
                return StoreUnavailable(
                    f"bucket {self.bucket} does not exist at {self.endpoint_url or 'AWS'}"
                )
            return StoreUnavailable(f"{what}: S3 error {code}: {msg}")
        if isinstance(exc, (EndpointConnectionError, BotoCoreError, OSError)):
            return StoreUnavailable(
                f"{what}: S3 endpoint {self.endpoint_url or 'AWS'} unreachable ({exc}); "
                "check s3_endpoint_url and that the service is up"
            )
        return StoreUnavailable(f"{what}: {exc}")

    # -- setup ---------------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock enabled if it does not exist."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise self._translate(exc, f"bucket {self.bucket}") from exc
        except Exception as exc:
            raise self._translate(exc, f"bucket {self.bucket}") from exc
        try:
            self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        except Exception as exc:
            raise self._translate(exc, f"creating bucket {self.bucket}") from exc

    def health(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._translate(exc, f"bucket {self.bucket}") from exc

    def check_space(self, incoming: int) -> None:
        if self.quota_bytes:
            used = sum(o["Size"] for o in self._list())
            if used + incoming > self.quota_bytes:
                raise StoreFull(
                    f"the store quota of {self.quota_bytes} bytes would be exceeded "
                    f"({used} used, {incoming} more); raise store_quota_bytes"
                )

    # -- writes --------------------------------------------------------------------------
    def _lock_args(self, retention_until: datetime | None) -> dict[str, Any]:
        until = retention_until or datetime.now(UTC) + self.default_retention
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}

    def put_file(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        check_key(sha256)
        size = os.stat(path).st_size
        what = f"put {path} as {sha256}"
        try:
            existing = self._head(sha256)
            if existing is not None:
                if existing != size:
                    raise ObjectMismatch(
                        f"{what}: object exists with {existing} bytes, new copy has {size}"
                    )
                return PutResult(sha256, size, created=False)
            self.check_space(size)
            if size <= self.multipart_threshold:
                # Check the bytes before they leave: a locked object could never be removed,
                # and not every S3 implementation checks x-amz-checksum-sha256.
                found = sha256_file(path)
                if found != sha256:
                    raise ObjectMismatch(f"{what}: bytes hash to {found}; nothing was stored")
                with open(path, "rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=self.key(sha256),
                        Body=body,
                        ContentLength=size,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=_b64(sha256),
                        **self._lock_args(retention_until),
                    )
            else:
                self._multipart(path, sha256, retention_until, what)
        except Exception as exc:
            raise self._translate(exc, what) from exc
        logger.info("stored object %s (%d bytes) in s3://%s", sha256, size, self.bucket)
        return PutResult(sha256, size, created=True)

    def adopt(
        self, path: Path, sha256: str, *, retention_until: datetime | None = None
    ) -> PutResult:
        try:
            return self.put_file(path, sha256, retention_until=retention_until)
        finally:
            Path(path).unlink(missing_ok=True)

    def _multipart(
        self, path: Path, sha256: str, retention_until: datetime | None, what: str
    ) -> None:
        """Upload in parts, each with its own SHA-256 checked by S3, and our whole-file hash
        checked before completing: a mismatch aborts, leaving no object."""
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket,
            Key=self.key(sha256),
            ChecksumAlgorithm="SHA256",
            **self._lock_args(retention_until),
        )
        upload_id = upload["UploadId"]
        parts = []
        whole = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                number = 1
                while True:
                    chunk = f.read(self.part_size)
                    if not chunk:
                        break
                    whole.update(chunk)
                    part_sum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    r = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=self.key(sha256),
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumSHA256=part_sum,
                    )
                    parts.append(
                        {"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": part_sum}
                    )
                    number += 1
            if whole.hexdigest() != sha256:
                raise ObjectMismatch(
                    f"{what}: bytes hash to {whole.hexdigest()}; nothing was stored"
                )
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key(sha256),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key(sha256), UploadId=upload_id
                )
            except Exception:  # the abort is best effort; the original error matters
                logger.warning("could not abort multipart upload %s", upload_id)
            raise

    # -- reads ---------------------------------------------------------------------------
    def _head(self, sha256: str) -> int | None:
        try:
            return int(
                self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))["ContentLength"]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        try:
            return self._head(sha256) is not None
        except Exception as exc:
            raise self._translate(exc, f"head {sha256}") from exc

    def size(self, sha256: str) -> int:
        try:
            size = self._head(sha256)
        except Exception as exc:
            raise self._translate(exc, f"head {sha256}") from exc
        if size is None:
            raise ObjectNotFound(f"object {sha256} is not in bucket {self.bucket}")
        return size

    def retention(self, sha256: str) -> dict[str, Any]:
        """Object Lock mode and date as S3 reports them on HEAD."""
        try:
            h = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except Exception as exc:
            raise self._translate(exc, f"head {sha256}") from exc
        return {"mode": h.get("ObjectLockMode"), "until": h.get("ObjectLockRetainUntilDate")}

    def location(self, key: str) -> str:
        return f"s3:objects/{key}"

    def set_retention(self, sha256: str, until: datetime) -> None:
        current = self.retention(sha256).get("until")
        if current is not None and until <= current:
            return  # COMPLIANCE mode: the date may only move later, never try to shorten it
        try:
            self.client.put_object_retention(
                Bucket=self.bucket,
                Key=self.key(sha256),
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
            )
        except Exception as exc:
            raise self._translate(exc, f"retention of {sha256}") from exc

    def legal_hold(self, sha256: str, on: bool) -> None:
        try:
            self.client.put_object_legal_hold(
                Bucket=self.bucket,
                Key=self.key(sha256),
                LegalHold={"Status": "ON" if on else "OFF"},
            )
        except Exception as exc:
            raise self._translate(exc, f"legal hold of {sha256}") from exc

    def staging(self, settings: Settings) -> UploadStaging:
        from server.store.s3_staging import S3Staging

        return S3Staging(self, settings.upload_staging_part_bytes)

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(sha256)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if end is not None and end <= start:
            return iter(())
        try:
            body = self.client.get_object(**args)["Body"]
        except Exception as exc:
            raise self._translate(exc, f"get {sha256}") from exc

        def chunks() -> Iterator[bytes]:
            with body:
                yield from body.iter_chunks(COPY_BLOCK)

        return chunks()

    def _list(self) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix="objects/"
            ):
                yield from page.get("Contents", [])
        except Exception as exc:
            raise self._translate(exc, f"list {self.bucket}") from exc

    def iter_keys(self) -> Iterator[str]:
        for obj in self._list():
            key = obj["Key"].removeprefix("objects/")
            if SHA256_RE.match(key):
                yield key

    def stray_files(self) -> Iterator[str]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.startswith("staging/"):
                        continue  # unfinished uploads (server/store/s3_staging.py)
                    if not (
                        key.startswith("objects/") and SHA256_RE.match(key.removeprefix("objects/"))
                    ):
                        yield f"s3://{self.bucket}/{key}"
        except Exception as exc:
            raise self._translate(exc, f"list {self.bucket}") from exc
