"""Error (and other) messages rendered in the caller's language.

The API keeps stable machine codes ("code") and English diagnostics ("error"); `message` is the
same error written for a person, in the language of the request's Accept-Language (zh-CN by
default, en). Templates take their parameters with str.format names: "no case {case}".

A Chinese message never falls back to English text: a code without a template of its own gets
the generic text of its HTTP status. Other modules may add their own templates with `register`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"

# code -> {lang: template}
MESSAGES: dict[str, dict[str, str]] = {
    # authentication and permission
    "unauthorized": {"zh-CN": "请先登录", "en": "Please log in"},
    "bad_credentials": {"zh-CN": "用户名或密码错误", "en": "Wrong username or password"},
    "token_expired": {
        "zh-CN": "登录已过期，请重新登录",
        "en": "Your session has expired; log in again",
    },
    "bad_token": {"zh-CN": "登录凭证无效，请重新登录", "en": "Invalid session; log in again"},
    "account_disabled": {"zh-CN": "该账号已停用", "en": "This account is disabled"},
    "forbidden": {
        "zh-CN": "{role_zh}无权{action_zh}",
        "en": "The role {role_en} may not {action_en}",
    },
    "other_agency": {"zh-CN": "该音像记录属于其他单位", "en": "The item belongs to another agency"},
    # not found
    "not_found": {"zh-CN": "未找到{what_zh}{ref}", "en": "No {what_en} {ref}"},
    "object_not_found": {"zh-CN": "存储中找不到该文件", "en": "The stored file is missing"},
    # bad input
    "bad_request": {"zh-CN": "请求有误", "en": "Bad request"},
    "bad_json": {"zh-CN": "请求内容格式有误", "en": "The request body is not a valid JSON object"},
    "bad_field": {
        "zh-CN": "“{field_zh}”填写有误{detail_zh}",
        "en": "Field “{field}” is not valid{detail_en}",
    },
    "field_required": {"zh-CN": "“{field_zh}”为必填项", "en": "Field “{field}” is required"},
    "field_too_long": {
        "zh-CN": "“{field_zh}”不能超过 {max} 个字符",
        "en": "Field “{field}” is longer than {max} characters",
    },
    "bad_time": {
        "zh-CN": "“{field_zh}”不是有效的时间",
        "en": "Field “{field}” is not a valid time",
    },
    "bad_query": {
        "zh-CN": "查询参数“{field_zh}”无效",
        "en": "Query parameter “{field}” is not valid",
    },
    "bad_cursor": {
        "zh-CN": "分页位置无效，请从第一页重新查询",
        "en": "Bad page cursor; start again from the first page",
    },
    "bad_range": {"zh-CN": "请求的字节范围无效", "en": "The requested byte range is not valid"},
    "bad_metadata": {"zh-CN": "上传信息有误", "en": "The upload metadata is not valid"},
    "too_large": {"zh-CN": "请求内容过大", "en": "The request is too large"},
    "too_many": {"zh-CN": "所选条目过多", "en": "Too many items chosen"},
    "rate_limited": {
        "zh-CN": "操作过于频繁，请稍后再试",
        "en": "Too many requests; try again later",
    },
    "validation": {"zh-CN": "填写内容未通过校验", "en": "The input did not pass validation"},
    # conflicts
    "conflict": {
        "zh-CN": "操作与当前状态冲突",
        "en": "The action conflicts with the current state",
    },
    "archived": {
        "zh-CN": "案件已归档，不能再修改",
        "en": "The case is archived; its file is closed",
    },
    "stage_backwards": {
        "zh-CN": "案件只能向后推进执法阶段",
        "en": "A case only moves forward through its stages",
    },
    "disposed": {"zh-CN": "该音像记录已按规定处置", "en": "The item has been disposed of"},
    "inside_retention": {
        "zh-CN": "该音像记录仍在保存期限内或被诉讼保全",
        "en": "The item is inside its retention or under a legal hold",
    },
    "already_unlinked": {"zh-CN": "该关联已解除", "en": "The link was already removed"},
    "separation_of_duties": {
        "zh-CN": "承办人、审核人、批准人须为不同人员",
        "en": "Handler, reviewer and approver must be three different people",
    },
    "same_person": {
        "zh-CN": "申请人不能审批自己的申请",
        "en": "The requester cannot approve their own request",
    },
    "empty_export": {
        "zh-CN": "该案件尚未关联任何音像记录，无法导出",
        "en": "The case has no linked items to export",
    },
    "not_ready": {"zh-CN": "导出包尚未生成", "en": "The package is not ready yet"},
    # uploads and storage
    "hash_mismatch": {
        "zh-CN": "文件校验值不一致，未保存任何内容",
        "en": "The file does not match its SHA-256; nothing was kept",
    },
    "insufficient_storage": {"zh-CN": "存储空间不足", "en": "The store is full"},
    "catalogue_unavailable": {
        "zh-CN": "数据库暂不可用，请稍后再试",
        "en": "The catalogue is unavailable; try again later",
    },
    "catalogue_busy": {
        "zh-CN": "数据库繁忙，请稍后再试",
        "en": "The catalogue is busy; try again shortly",
    },
    "store_unavailable": {
        "zh-CN": "存储暂不可用，请稍后再试",
        "en": "The store is unavailable; try again later",
    },
    "store_error": {"zh-CN": "存储出错", "en": "Storage error"},
    "tus_version": {"zh-CN": "上传协议版本不受支持", "en": "Unsupported upload protocol version"},
    "method_not_allowed": {"zh-CN": "不支持该请求方法", "en": "Method not allowed"},
    # uploads
    "one_at_a_time": {
        "zh-CN": "请先完成或取消正在进行的上传",
        "en": "Finish or cancel your unfinished upload first",
    },
    "empty_upload": {"zh-CN": "不能上传空文件", "en": "An empty file cannot be uploaded"},
    "upload_too_large": {
        "zh-CN": "文件超过允许的上传大小",
        "en": "The file is larger than uploads may be",
    },
    "exceeds_upload_length": {
        "zh-CN": "上传内容超过声明的文件大小",
        "en": "More bytes than the declared upload length",
    },
    "offset_mismatch": {
        "zh-CN": "上传位置不一致，请重试",
        "en": "The upload moved on meanwhile; try again",
    },
    "checksum_mismatch": {
        "zh-CN": "分块校验值不一致，未保存该分块",
        "en": "Chunk checksum mismatch; the chunk was not kept",
    },
    "bad_checksum": {"zh-CN": "校验值格式有误", "en": "Malformed checksum"},
    "bad_hash": {"zh-CN": "SHA-256 校验值格式有误", "en": "Malformed SHA-256"},
    "committing": {
        "zh-CN": "该上传正在入库，请稍候",
        "en": "The upload is being committed; wait a moment",
    },
    "already_committed": {"zh-CN": "该上传已完成入库", "en": "The upload is already committed"},
    "upload_gone": {"zh-CN": "该上传已失效", "en": "The upload is no longer available"},
    "bad_content_type": {"zh-CN": "上传内容类型有误", "en": "Wrong content type for the upload"},
    "upload_io_error": {
        "zh-CN": "接收文件时出错，请重试",
        "en": "Error while receiving the file; try again",
    },
    # cases and records
    "duplicate_number": {"zh-CN": "该案号已被使用", "en": "The case number is already used"},
    "ambiguous_case": {
        "zh-CN": "多个单位使用了该案号，请从案件列表打开",
        "en": "Several agencies use this case number; open the case from the list",
    },
    "not_linked": {
        "zh-CN": "该音像记录未关联到本案件",
        "en": "The item is not linked to this case",
    },
    "bad_stage": {"zh-CN": "执法阶段有误", "en": "Unknown enforcement stage"},
    "bad_clip": {"zh-CN": "片段起点或终点有误", "en": "The clip start or end is not valid"},
    "pending": {"zh-CN": "已有一项申请在办理中", "en": "A request is already pending"},
    "not_pending": {"zh-CN": "该申请已办结", "en": "The request is no longer pending"},
    "already_answered": {"zh-CN": "已经答复过", "en": "Already answered"},
    "package_gone": {
        "zh-CN": "导出包已不在服务器上，请重新导出",
        "en": "The package is no longer on the server; export again",
    },
    "agency_required": {"zh-CN": "请指定单位", "en": "An agency is required"},
    "agency_mismatch": {"zh-CN": "所属单位不一致", "en": "The agencies do not match"},
    "bad_agency": {"zh-CN": "单位有误", "en": "Unknown agency"},
    # users and registry
    "weak_password": {"zh-CN": "密码强度不足", "en": "The password is too weak"},
    "bad_password": {"zh-CN": "密码有误", "en": "Bad password"},
    "login_locked": {
        "zh-CN": "登录失败次数过多，请稍后再试",
        "en": "Too many failed logins; try again later",
    },
    "bad_role": {"zh-CN": "角色有误", "en": "Unknown role"},
    "bad_user": {"zh-CN": "用户有误", "en": "Unknown user"},
    "officer_exists": {"zh-CN": "该执法人员已登记", "en": "The officer is already registered"},
    "certificate_exists": {
        "zh-CN": "该执法证件编号已登记",
        "en": "The certificate number is already registered",
    },
    "device_exists": {"zh-CN": "该执法记录仪已登记", "en": "The body camera is already registered"},
    "station_exists": {"zh-CN": "该采集站已登记", "en": "The station is already registered"},
    "assignment_overlap": {
        "zh-CN": "该时段已有配发记录",
        "en": "The assignment overlaps another one",
    },
    "device_retired": {"zh-CN": "该执法记录仪已停用", "en": "The body camera is retired"},
    "officer_left": {"zh-CN": "该执法人员已离岗", "en": "The officer has left"},
    "bad_import": {"zh-CN": "导入文件有误", "en": "The import file is not valid"},
    "bad_format": {"zh-CN": "格式有误", "en": "Unsupported format"},
    "no_rendition": {"zh-CN": "尚未生成播放版本", "en": "No playback rendition yet"},
    "internal": {"zh-CN": "服务器内部错误", "en": "Internal server error"},
}

# The generic text of each HTTP status, for codes without a template of their own.
BY_STATUS: dict[int, dict[str, str]] = {
    400: {"zh-CN": "请求有误，请检查填写的内容", "en": "Bad request"},
    401: MESSAGES["unauthorized"],
    403: {"zh-CN": "无权进行此操作", "en": "Not allowed"},
    404: {"zh-CN": "未找到所请求的内容", "en": "Not found"},
    405: MESSAGES["method_not_allowed"],
    409: MESSAGES["conflict"],
    410: {"zh-CN": "该内容已不存在", "en": "Gone"},
    412: {"zh-CN": "前提条件不满足", "en": "Precondition failed"},
    413: MESSAGES["too_large"],
    415: {"zh-CN": "不支持的内容类型", "en": "Unsupported media type"},
    416: MESSAGES["bad_range"],
    422: {"zh-CN": "内容校验未通过", "en": "The content did not pass validation"},
    429: MESSAGES["rate_limited"],
    460: MESSAGES["hash_mismatch"],
    500: MESSAGES["internal"],
    503: {"zh-CN": "服务暂不可用，请稍后再试", "en": "Service unavailable; try again later"},
    507: MESSAGES["insufficient_storage"],
}

# Things that may be missing (NotFound params "what").
WHAT: dict[str, tuple[str, str]] = {
    "evidence": ("音像记录", "evidence item"),
    "case": ("案件", "case"),
    "export": ("导出包", "export"),
    "user": ("用户", "user"),
    "upload": ("上传任务", "upload"),
    "agency": ("单位", "agency"),
    "record": ("文书", "record"),
    "link": ("关联", "link"),
    "approval": ("审批", "approval"),
    "ledger_entry": ("留痕记录", "ledger entry"),
    "tree_head": ("签名树头", "signed tree head"),
    "rendition": ("播放版本", "rendition"),
    "disposal_request": ("处置申请", "disposal request"),
    "officer": ("执法人员", "officer"),
    "device": ("执法记录仪", "body camera"),
    "job": ("处理任务", "job"),
    "file": ("文件", "file"),
    "page": ("页面", "page"),
}

ROLE_NAMES: dict[str, tuple[str, str]] = {
    "station": ("采集工作站", "station"),
    "officer": ("执法人员", "officer"),
    "reviewer": ("审核人员", "reviewer"),
    "legal": ("法制审核人员", "legal reviewer"),
    "supervisor": ("监督人员", "supervisor"),
    "auditor": ("审计人员", "auditor"),
    "admin": ("系统管理员", "administrator"),
}

ACTION_NAMES: dict[str, tuple[str, str]] = {
    "evidence.read": ("查看音像记录", "read evidence"),
    "evidence.upload": ("上传音像记录", "upload evidence"),
    "evidence.upload_many": ("批量上传", "upload in bulk"),
    "users.manage": ("管理用户", "manage users"),
    "ledger.read": ("查看留痕记录", "read the custody ledger"),
    "cases.read": ("查看案件", "read cases"),
    "cases.write": ("编辑案件", "edit cases"),
    "cases.review": ("审核案件", "review cases"),
    "exports.create": ("导出证据包", "export packages"),
    "integrity.verify": ("进行完整性核验", "verify integrity"),
    "metrics.read": ("查看运行指标", "read metrics"),
    "cases.legal_review": ("进行法制审核", "do legal review"),
    "supervision.read": ("查看监督统计", "read supervision"),
    "retention.hold": ("设置诉讼保全", "place legal holds"),
    "retention.dispose": ("申请或批准处置", "dispose of items"),
}

# Chinese labels of common API field names (anything else is shown as its identifier).
FIELD_NAMES: dict[str, str] = {
    "number": "案号",
    "title": "标题",
    "enforcement_type": "执法类型",
    "procedure": "程序",
    "parties": "当事人",
    "officers": "执法人员",
    "stage": "执法阶段",
    "evidence_id": "音像记录",
    "recipient": "接收单位",
    "purpose": "用途",
    "items": "音像记录",
    "clips": "待导出片段",
    "name": "名称",
    "note": "备注",
    "time": "时间",
    "end_time": "结束时间",
    "time_s": "时间点",
    "in_s": "片段起点",
    "out_s": "片段终点",
    "reason": "原因",
    "hold": "诉讼保全",
    "watermark": "水印",
    "opened_at": "启动时间",
    "recorded_at": "录制时间",
    "limit": "每页条数",
    "from": "起始",
    "to": "截止",
    "cursor": "分页位置",
    "username": "用户名",
    "password": "密码",
    "role": "角色",
    "agency": "单位",
    "officer": "执法人员",
    "device": "执法记录仪编号",
    "station": "采集站",
    "kind": "类型",
    "status": "处理状态",
    "unlinked": "未关联案件",
    "doc_type": "文书类型",
    "signature_status": "签名情况",
    "opinion": "意见",
    "decision": "审批意见",
    "handler_id": "承办人",
    "reviewer_id": "审核人",
    "approver_id": "批准人",
    "filename": "文件名",
    "supersedes": "被更正的文书",
    "party": "当事人",
    "q": "关键词",
    "case": "案件",
    "recorded_from": "录制时间起",
    "recorded_to": "录制时间止",
    "officer_id": "执法人员",
    "device_id": "执法记录仪编号",
    "station_id": "采集站",
    "ids": "音像记录",
    "after": "起始序号",
    "unit": "科室/中队",
    "sha256": "SHA-256",
    "first": "起始树大小",
    "second": "截止树大小",
    "tree_size": "树大小",
}

# What is wrong with a field (bad_field params "problem").
PROBLEMS: dict[str, tuple[str, str]] = {
    "required": ("必填", "it is required"),
    "too_long": ("不能超过 {max} 个字符", "longer than {max} characters"),
    "not_string": ("须为文本", "must be text"),
    "not_bool": ("须为是或否", "must be true or false"),
    "not_number": ("须为数字", "must be a number"),
    "not_time": ("须为有效时间", "must be a valid time"),
    "not_list": ("须为列表", "must be a list"),
    "unknown": ("取值不在允许范围内", "not one of the allowed values"),
}

_FIELD_RE = re.compile(r"(?:field|parameter|query parameter)\s+'([A-Za-z0-9_.\[\]]+)'")
_FORMATTER = string.Formatter()


def negotiate(accept_language: str | None) -> str:
    """zh-CN or en from an Accept-Language header (highest q wins; zh-CN when unsure)."""
    if not accept_language:
        return DEFAULT_LANG
    best, best_q = DEFAULT_LANG, -1.0
    for part in accept_language.split(","):
        tag, _, rest = part.strip().partition(";")
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        lang = "en" if primary == "en" else "zh-CN" if primary == "zh" else None
        if lang and q > best_q:
            best, best_q = lang, q
    return best


def register(templates: Mapping[str, Mapping[str, str]]) -> None:
    """Add (or replace) templates: {code: {"zh-CN": ..., "en": ...}}."""
    for code, texts in templates.items():
        MESSAGES[code] = {**MESSAGES.get(code, {}), **texts}


def _enrich(params: Mapping[str, Any]) -> dict[str, Any]:
    """Derived parameters: Chinese/English names of roles, actions, things and fields."""
    p: dict[str, Any] = {k: ("" if v is None else v) for k, v in params.items()}
    if "role" in p:
        zh, en = ROLE_NAMES.get(str(p["role"]), (str(p["role"]), str(p["role"])))
        p.setdefault("role_zh", zh)
        p.setdefault("role_en", en)
    if "action" in p:
        zh, en = ACTION_NAMES.get(str(p["action"]), ("进行此操作", "do this"))
        p.setdefault("action_zh", zh)
        p.setdefault("action_en", en)
    if "what" in p:
        zh, en = WHAT.get(str(p["what"]), ("", str(p["what"])))
        p.setdefault("what_zh", zh)
        p.setdefault("what_en", en)
    if "field" in p:
        p.setdefault("field_zh", FIELD_NAMES.get(str(p["field"]), str(p["field"])))
    if "ref" in p and p["ref"] != "":
        p["ref"] = f"“{p['ref']}”" if not str(p["ref"]).startswith("“") else p["ref"]
    problem = PROBLEMS.get(str(p.get("problem", "")))
    if problem and (_fill(problem[0], p) is not None):
        p.setdefault("detail_zh", "：" + str(_fill(problem[0], p)))
        p.setdefault("detail_en", ": " + str(_fill(problem[1], p)))
    p.setdefault("detail_zh", "")
    p.setdefault("detail_en", "")
    return p


def _fill(template: str, params: Mapping[str, Any]) -> str | None:
    """The template with its parameters, or None when one is missing."""
    names = {f for _, f, _, _ in _FORMATTER.parse(template) if f}
    if not names <= params.keys():
        return None
    return template.format(**{k: params[k] for k in names})


def params_from_text(code: str, text: str) -> dict[str, Any]:
    """Parameters that older raise sites put only into their English text (the field name)."""
    m = _FIELD_RE.search(text or "")
    return {"field": m.group(1)} if m else {}


def render(
    code: str,
    params: Mapping[str, Any] | None = None,
    lang: str = DEFAULT_LANG,
    *,
    status: int = 400,
    fallback: str = "",
) -> str:
    """The message of `code` in `lang`. Without a usable template: English gets `fallback` (the
    diagnostic text) or the status text; Chinese gets the status text, never English."""
    lang = lang if lang in LANGS else DEFAULT_LANG
    p = _enrich(params or {})
    template = MESSAGES.get(code, {}).get(lang)
    if template:
        text = _fill(template, p)
        if text is not None:
            return text
    if lang == "en" and fallback:
        return fallback
    generic = BY_STATUS.get(status) or BY_STATUS[500 if status >= 500 else 400]
    return generic[lang]


def error_body(
    code: str, error: str, params: Mapping[str, Any] | None, lang: str, status: int
) -> dict[str, Any]:
    """The JSON of an error: {"error", "code", "message", "params"?}."""
    params = dict(params or {}) or params_from_text(code, error)
    body: dict[str, Any] = {
        "error": error,
        "code": code,
        "message": render(code, params, lang, status=status, fallback=error),
    }
    if params:
        body["params"] = params
    return body
