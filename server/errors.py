"""Domain errors with an HTTP status; one middleware turns them into JSON."""

from __future__ import annotations


class CustodianError(Exception):
    """Base of every error the API reports as {"error", "code", "message"}: `message` is
    rendered from `code` and `params` in the caller's language (server/messages.py)."""

    status = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        params: dict[str, object] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.params = params or {}
        if code:
            self.code = code
        if status:
            self.status = status


class SettingsError(CustodianError):
    code = "bad_setting"


class BadRequest(CustodianError):
    status = 400
    code = "bad_request"


class Unauthorized(CustodianError):
    status = 401
    code = "unauthorized"


class Forbidden(CustodianError):
    status = 403
    code = "forbidden"


class NotFound(CustodianError):
    status = 404
    code = "not_found"


class Conflict(CustodianError):
    status = 409
    code = "conflict"


class PayloadTooLarge(CustodianError):
    status = 413
    code = "too_large"


class TooManyRequests(CustodianError):
    status = 429
    code = "rate_limited"


class StoreError(CustodianError):
    """Base of store failures; nothing half-written is left behind when one is raised."""

    status = 500
    code = "store_error"


class ObjectMismatch(StoreError):
    status = 422
    code = "hash_mismatch"


class ObjectNotFound(StoreError):
    status = 404
    code = "object_not_found"


class StoreFull(StoreError):
    status = 507
    code = "insufficient_storage"


class StoreUnavailable(StoreError):
    status = 503
    code = "store_unavailable"
