"""Hostile input and file hygiene: bounded numbers, dates and nesting (400, not 500);
private file modes for the data folder, catalogue and exports; export retention and rate."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.access import Principal
from server.catalogue.models import Export, utcnow
from server.errors import BadRequest, TooManyRequests
from server.settings import Settings

logger = logging.getLogger(__name__)

MAX_JSON_DEPTH = 64
MAX_SAFE_INT = 2**53 - 1  # what every JSON reader (and every catalogue column) holds exactly
MIN_YEAR, MAX_YEAR = 1000, 9000
_INTEGER = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"(\d{4,})-\d{2}-\d{2}(?:$|[T t])")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
# Identifiers of these lengths are hex (evidence, case ids; hashes), never numbers.
_HEX_ID_LENGTHS = (32, 40, 64)


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` before the parser recurses into it."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                raise BadRequest(f"JSON nested deeper than {limit} levels", code="too_deep")
        else:
            depth -= 1


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INT:
        raise BadRequest(f"number {text[:24]}{'…' if len(text) > 24 else ''} is out of range "
                         f"(at most {MAX_SAFE_INT})", code="out_of_range")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")) or abs(value) > 1e15:
        raise BadRequest(f"number {text[:24]} is out of range", code="out_of_range")
    return value


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON number", code="bad_json")


def check_date_text(value: str, where: str) -> None:
    """A string that starts like an ISO date must have a year the server can compute with."""
    m = _DATE.match(value)
    if m and not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
        raise BadRequest(f"{where}: year {m.group(1)} is out of range ({MIN_YEAR}-{MAX_YEAR})",
                         code="out_of_range")


def _check_strings(value: Any, path: str = "body") -> None:
    if isinstance(value, str):
        check_date_text(value, path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(v, f"{path}.{k}" if len(path) < 200 else path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_strings(v, f"{path}[{i}]" if len(path) < 200 else path)


def loads(text: str) -> Any:
    """json.loads with bounded depth, integers, floats and dates (400 for each, not 500)."""
    check_depth(text)
    value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                       parse_constant=_refuse_constant)
    _check_strings(value)
    return value


def check_request_numbers(match_info: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Path and query values that are integers or dates must be in range. A query integer
    must be a safe JSON integer; a path segment of digits only past what a 64-bit column holds
    (a case number of 17 digits is still a case number)."""
    values = [(f"path parameter {k!r}", v, 18) for k, v in match_info.items()]
    values += [(f"query parameter {k!r}", v, 16) for k, v in query.items()]
    for where, v, digits in values:
        if len(v) in _HEX_ID_LENGTHS:
            continue
        if _INTEGER.fullmatch(v) and len(v.lstrip("+-")) > digits:
            raise BadRequest(f"{where} is out of range (at most {digits} digits)",
                             code="out_of_range")
        check_date_text(v, where)


# -- file modes ------------------------------------------------------------------------------
from server.filemodes import _private_dir, _private_file, private_export, secure_data_dir  # noqa: E402,F401


# -- exports: rate and retention -------------------------------------------------------------
def check_export_rate(s: Session, who: Principal, settings: Settings) -> None:
    """At most export_max_per_hour exports per user per hour (429)."""
    limit = settings.export_max_per_hour
    if not limit:
        return
    since = utcnow() - timedelta(hours=1)
    n = s.scalar(select(func.count()).select_from(Export).where(
        Export.requested_by == who.user_id, Export.created_at >= since)) or 0
    if n >= limit:
        raise TooManyRequests(f"at most {limit} exports per hour per user; try again later",
                              code="export_rate")


def expire_exports(s: Session, settings: Settings) -> list[str]:
    """Delete packages finished more than export_retention_days ago; the export record and
    its ledger entries stay (state `expired`). Returns the expired ids."""
    days = settings.export_retention_days
    if not days:
        return []
    cutoff = utcnow() - timedelta(days=days)
    gone: list[str] = []
    for e in s.scalars(select(Export).where(Export.state == "done",
                                            Export.finished_at.is_not(None),
                                            Export.finished_at < cutoff).limit(500)):
        if e.package_path:
            Path(e.package_path).unlink(missing_ok=True)
        e.state = "expired"
        e.package_path = ""
        gone.append(e.id)
    if gone:
        logger.info("deleted %d export packages past export_retention_days=%d: %s", len(gone),
                    days, ", ".join(gone))
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

    register({
        "out_of_range": {"zh-CN": "请求中的数字或日期超出允许范围",
                         "en": "A number or date in the request is out of range"},
        "too_deep": {"zh-CN": "请求内容嵌套层级过深", "en": "The request is nested too deeply"},
        "token_revoked": {"zh-CN": "账号信息已变更，请重新登录",
                          "en": "The account changed; log in again"},
        "login_busy": {"zh-CN": "登录请求过多，请稍后再试",
                       "en": "Too many logins at once; try again in a moment"},
        "quota_exceeded": {"zh-CN": "未完成的上传已达到配额，请先完成或取消部分上传",
                           "en": "The quota of unfinished uploads is reached; finish or cancel "
                                 "some first"},
        "export_rate": {"zh-CN": "导出过于频繁，请稍后再试",
                        "en": "Too many exports in the last hour; try again later"},
        "last_admin": {"zh-CN": "这是最后一个启用的管理员，请先设置另一位管理员",
                       "en": "This is the last active administrator; make another one first"},
        "bad_id": {"zh-CN": "编号格式不正确", "en": "The id is not valid"},
    })


_register_messages()
