"""Hostile input and file hygiene: bounded numbers, dates and nesting (400, not 500);
private file modes for the data folder, catalogue and exports; export retention and rate."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.access import Principal
from server.catalogue.models import Export, utcnow
from server.errors import TooManyRequests
from server.settings import Settings

logger = logging.getLogger(__name__)

# The JSON reader and the bounds of URL values live with the request schemas
# (server/schemas/bounds.py); re-exported here for their older callers.
from server.schemas.bounds import (  # noqa: E402,F401
    MAX_JSON_DEPTH,
    MAX_SAFE_INT,
    MAX_YEAR,
    MIN_YEAR,
    check_date_text,
    check_depth,
    loads,
)
from server.schemas.bounds import check_url_values as _check_url_values  # noqa: E402


def check_request_numbers(match_info: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Path and query integers and dates must be in range (server.schemas.bounds)."""
    _check_url_values(match_info.items(), query.items())


# -- file modes ------------------------------------------------------------------------------
from server.filemodes import _private_dir, _private_file, private_export, secure_data_dir  # noqa: E402,F401


# -- exports: rate and retention -------------------------------------------------------------
def check_export_rate(s: Session, who: Principal, settings: Settings) -> None:
    """At most export_max_per_hour exports per user per hour (429)."""
    limit = settings.export_max_per_hour
    if not limit:
        return
    since = utcnow() - timedelta(hours=1)
    n = (
        s.scalar(
            select(func.count())
            .select_from(Export)
            .where(Export.requested_by == who.user_id, Export.created_at >= since)
        )
        or 0
    )
    if n >= limit:
        raise TooManyRequests(
            f"at most {limit} exports per hour per user; try again later", code="export_rate"
        )


def expire_exports(s: Session, settings: Settings) -> list[str]:
    """Delete packages finished more than export_retention_days ago; the export record and
    its ledger entries stay (state `expired`). Returns the expired ids."""
    days = settings.export_retention_days
    if not days:
        return []
    cutoff = utcnow() - timedelta(days=days)
    gone: list[str] = []
    for e in s.scalars(
        select(Export)
        .where(Export.state == "done", Export.finished_at.is_not(None), Export.finished_at < cutoff)
        .limit(500)
    ):
        if e.package_path:
            Path(e.package_path).unlink(missing_ok=True)
        e.state = "expired"
        e.package_path = ""
        gone.append(e.id)
    if gone:
        logger.info(
            "deleted %d export packages past export_retention_days=%d: %s",
            len(gone),
            days,
            ", ".join(gone),
        )
    return gone


# -- no server paths in client errors --------------------------------------------------------
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/:;,'\"()\[\]]+/)*[^\s/:;,'\"()\[\]]*")


def scrub_paths(message: str) -> str:
    """Replace absolute file-system paths in a message by a placeholder."""
    return _ABS_PATH.sub("[server path]", message)


def public_message(exc: Exception) -> str:
    """The message a client may read: store and I/O errors lose their server paths (the
    full message is in the server log)."""
    from server.errors import CustodianError, StoreError

    message = exc.message if isinstance(exc, CustodianError) else str(exc)
    if isinstance(exc, StoreError) or getattr(exc, "status", 0) >= 500:
        return scrub_paths(message)
    return message


# -- messages of the codes above and of accounts, in both languages (server/messages.py) ------
def _register_messages() -> None:
    from server.messages import register

    register(
        {
            "out_of_range": {
                "zh-CN": "请求中的数字或日期超出允许范围",
                "en": "A number or date in the request is out of range",
            },
            "too_deep": {"zh-CN": "请求内容嵌套层级过深", "en": "The request is nested too deeply"},
            "token_revoked": {
                "zh-CN": "账号信息已变更，请重新登录",
                "en": "The account changed; log in again",
            },
            "login_busy": {
                "zh-CN": "登录请求过多，请稍后再试",
                "en": "Too many logins at once; try again in a moment",
            },
            "quota_exceeded": {
                "zh-CN": "未完成的上传已达到配额，请先完成或取消部分上传",
                "en": "The quota of unfinished uploads is reached; finish or cancel some first",
            },
            "export_rate": {
                "zh-CN": "导出过于频繁，请稍后再试",
                "en": "Too many exports in the last hour; try again later",
            },
            "last_admin": {
                "zh-CN": "这是最后一个启用的管理员，请先设置另一位管理员",
                "en": "This is the last active administrator; make another one first",
            },
            "bad_id": {"zh-CN": "编号格式不正确", "en": "The id is not valid"},
        }
    )


_register_messages()
