"""Write-once object stores: the interface and the backend chosen by settings."""

from __future__ import annotations

from server.settings import Settings
from server.store.base import ObjectStore, PutResult, check_key

__all__ = ["ObjectStore", "PutResult", "check_key", "open_store"]


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings ask for."""
    if settings.store_backend == "s3":
        from server.store.s3 import S3Store

        store = S3Store(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            part_size=settings.s3_part_size_bytes,
            connect_timeout=settings.s3_connect_timeout_s,
            retries=settings.s3_retries,
            default_retention_days=settings.retention_default_days,
            quota_bytes=settings.store_quota_bytes,
        )
        if settings.s3_create_bucket:
            store.ensure_bucket()
        return store
    from server.store.local import LocalStore

    return LocalStore(
        settings.resolved_store_path,
        quota_bytes=settings.store_quota_bytes,
        min_free_bytes=settings.store_min_free_bytes,
    )
