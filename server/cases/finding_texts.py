"""The words of compliance findings, in Chinese and English, beside the rules (config/rules).

A finding carries a stable `code` and its `params` (ids, numbers, times); the text is made here
from a template per code and language. Parameters that name a document type, approval kind,
requirement, stage, field or recording kind are shown by their label in the pack; times are
shown in China Standard Time (UTC+8), the time the regulation's 24 hours are counted in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.cases.rulepack import Pack, Rule

LANGS = ("zh-CN", "en")
CST = timezone(timedelta(hours=8))

# code -> (zh-CN, en)
TEXTS: dict[str, tuple[str, str]] = {
    "approval_missing": (
        "未见{approval_kind}：应自{clock_start}起{hours}小时内（{deadline}前）补办，现已逾期。",
        "No {approval_kind}: it was due within {hours} h of {clock_start} (by {deadline}) "
        "and is overdue.",
    ),
    "approval_late": (
        "{approval_kind}于{approved_at}批准，超过时限（自{clock_start}起{hours}小时，即{deadline}）"
        "{late_hours}小时。",
        "The {approval_kind} was approved at {approved_at}, {late_hours} h after its deadline "
        "({hours} h from {clock_start}, i.e. {deadline}).",
    ),
    "case_opened_before_entry": (
        "立案时间{opened_at}早于案件录入系统的服务器时间{created_at}达{earlier_hours}小时"
        "（容差{tolerance_minutes}分钟），立案时间不予采信，24小时时限自录入时间起算，请核查。",
        "The opening time {opened_at} is {earlier_hours} h before the server time the case was "
        "entered ({created_at}; tolerance {tolerance_minutes} min). It is not trusted: the "
        "24-hour clock runs from the entry time. Review the case.",
    ),
    "approval_fields_missing": (
        "{approval_kind}未载明：{fields}。",
        "The {approval_kind} does not state: {fields}.",
    ),
    "approval_roles_not_separate": (
        "{approval_kind}的承办人、审核人、批准人不是三个不同的人。",
        "The {approval_kind} does not name three different people as handler, reviewer and "
        "approver.",
    ),
    "complaint_not_notified": (
        "{received_at}收到的实名投诉举报经审查不予立案，未见告知投诉人、举报人的书面记录。",
        "The named complaint received at {received_at} was declined, with no written record of "
        "telling the complainant.",
    ),
    "av_not_covering": (
        "「{doc_type}」：没有{kinds}记录覆盖{moment}（允许误差{margin_seconds}秒）。",
        "{doc_type}: no {kinds} recording covers {moment} (allowing {margin_seconds} s).",
    ),
    "av_span_no_end": (
        "「{doc_type}」未记录结束时间，无法核对音像记录是否覆盖执行全过程（开始于{start}）。",
        "{doc_type} has no end time, so whether the recordings cover the whole execution "
        "(from {start}) cannot be checked.",
    ),
    "av_span_uncovered": (
        "「{doc_type}」执行时段{start}至{end}共{span_seconds}秒，{kinds}记录覆盖{covered_seconds}秒"
        "（{share_pct}%），未覆盖{uncovered_seconds}秒；要求至少覆盖{min_share_pct}%。",
        "{doc_type}: the execution from {start} to {end} lasts {span_seconds} s; {kinds} "
        "recordings cover {covered_seconds} s ({share_pct}%), {uncovered_seconds} s are not "
        "covered; at least {min_share_pct}% is required.",
    ),
    "record_fields_missing": (
        "「{doc_type}」（{at}）未载明：{fields}。",
        "{doc_type} ({at}) does not state: {fields}.",
    ),
    "officers_too_few": (
        "「{doc_type}」（{at}）记载执法人员{named}名，至少应为{needed}名。",
        "{doc_type} ({at}) names {named} officers; at least {needed} are required.",
    ),
    "officer_no_certificate": (
        "「{doc_type}」（{at}）未记载执法证件编号：{officers}。",
        "{doc_type} ({at}) gives no certificate number for: {officers}.",
    ),
    "officer_certificate_not_shown": (
        "「{doc_type}」（{at}）未记载出示执法证件：{officers}。",
        "{doc_type} ({at}) does not record that these officers showed their certificates: "
        "{officers}.",
    ),
    "record_flagged": ("「{doc_type}」（{at}）：{rule}", "{doc_type} ({at}): {rule}"),
    "related_record_missing": (
        "有「{doc_type}」（{at}），但未见{needed}。",
        "There is a {doc_type} ({at}) but no {needed}.",
    ),
    "rectification_deadline_unreadable": (
        "「{doc_type}」的改正期限“{value}”无法识别（应为日期时间）。",
        "The rectification deadline {value!r} of the {doc_type} is not a date and time.",
    ),
    "rectification_check_late": (
        "「{doc_type}」责令改正期限为{deadline}，改正情况核查记录至{checked_at}才作出，未按期核查。",
        "The {doc_type} set a rectification deadline of {deadline}; the check was only recorded "
        "at {checked_at}, not on time.",
    ),
    "rectification_check_missing": (
        "「{doc_type}」责令改正期限{deadline}已过，未见改正情况核查记录。",
        "The rectification deadline {deadline} of the {doc_type} has passed with no record of "
        "checking the rectification.",
    ),
    "execution_no_demand": (
        "{executed_at}的「{doc_type}」之前未见催告书。",
        "No demand notice precedes the {doc_type} of {executed_at}.",
    ),
    "execution_demand_not_served": (
        "{demand_at}的催告书未见送达当事人（无送达时间，也无签收或拒签记录）。",
        "The demand notice of {demand_at} was not served on the party (no service time, no "
        "signature or refusal).",
    ),
    "execution_demand_period_running": (
        "催告书于{served_at}送达，履行期限{period_days}日至{due}届满，「{doc_type}」却在{executed_at}执行。",
        "The demand notice was served at {served_at}; its {period_days}-day period ends at "
        "{due}, but the {doc_type} took place at {executed_at}.",
    ),
    "execution_no_approval": (
        "「{doc_type}」未见经批准的{approval_kind}。",
        "The {doc_type} has no approved {approval_kind}.",
    ),
    "case_av_missing": ("未见关联的{kinds}记录。", "No {kinds} recording is linked to the case."),
    "required_record_missing": (
        "{stage_of}阶段缺少{requirement}。",
        "The {stage_of} stage lacks: {requirement}.",
    ),
}

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "reason": ("启动原因", "reason"),
    "party": ("当事人基本情况", "party"),
    "handler_opinion": ("承办人意见", "handler's opinion"),
    "unit_opinion": ("承办机构意见", "unit's opinion"),
    "legal_basis": ("法律依据", "legal basis"),
    "legal_review_opinion": ("法制机构合法性审查意见", "legal office's legality opinion"),
    "object": ("证据保全的具体标的物", "object preserved"),
    "form": ("证据保全的形式", "form of preservation"),
    "drafter": ("起草人", "drafter"),
    "draft_reviewer": ("起草机构审查人", "reviewer of the drafting unit"),
    "evidence": ("证据材料", "evidence"),
    "service_method": ("送达方式", "service method"),
    "witness": ("见证人", "witness"),
    "refusal_reason": ("拒收事由", "reason for refusing the document"),
    "refusal": ("拒绝签字或盖章的具体情况", "circumstances of the refusal to sign"),
    "refused_at": ("拒签时间", "time of the refusal"),
    "entrust_reason": ("委托、转交原因", "reason for entrusted or forwarded service"),
    "postal_register": ("邮寄送达登记", "postal service register"),
    "postal_receipt": ("付邮凭证", "posting receipt"),
    "return_receipt": ("回执", "return receipt"),
    "returned_details": ("被退回的具体情况", "circumstances of the return"),
    "other_methods_failed": (
        "已采用其他方式均无法送达的情况",
        "why no other method could serve it",
    ),
    "notice_medium": ("公告送达的方式和载体", "how and where it was published"),
    "notice_reason": ("公告送达的原因和经过", "reason and course of the public notice"),
    "reviewer": ("法制机构审查人员", "legal office reviewer"),
    "opinion": ("审查意见", "review opinion"),
    "suggestion": ("审查建议", "recommendations"),
    "approver_opinion": ("负责人签署意见", "the head's signed opinion"),
    "approver_signature": ("负责人签名", "the head's signature"),
    "fact_basis": ("适用简易程序的事实依据", "facts for the simple procedure"),
    "steps": ("实施简易程序的程序步骤及法定文书", "steps and statutory documents"),
    "statement": ("当事人陈述、申辩", "the party's statement and defence"),
    "statement_review": ("陈述、申辩的复核及处理", "review of the statement and its outcome"),
    "adopted_reason": ("是否采纳的理由", "why it was or was not accepted"),
    "collection_receipt": ("当场收缴罚款的票据", "receipt for the fine collected on the spot"),
    "result": ("履行情况", "compliance"),
    "place": ("地点", "place"),
    "items": ("物品、财产名称及数量", "items and quantities"),
    "period_days": ("履行期限", "period to comply"),
    "served_at": ("送达时间", "time of service"),
    "rectification_deadline": ("改正期限", "rectification deadline"),
    "hearing_host": ("听证主持人", "hearing officer"),
    "conclusion": ("处理意见", "conclusion"),
    "documents": ("文书清单", "list of documents"),
}
KIND_LABELS: dict[str, tuple[str, str]] = {
    "video": ("录像", "video"),
    "audio": ("录音", "audio"),
    "photo": ("照相", "photo"),
    "cctv": ("视频监控", "CCTV"),
}
TIME_KEYS = frozenset(
    {
        "moment",
        "at",
        "deadline",
        "approved_at",
        "opened_at",
        "created_at",
        "clock_start",
        "start",
        "end",
        "served_at",
        "due",
        "executed_at",
        "checked_at",
        "received_at",
        "demand_at",
    }
)


def lang_of(accept: str | None) -> str:
    """zh-CN or en from an Accept-Language header (or a language tag); zh-CN by default."""
    best, best_q = "zh-CN", -1.0
    for part in (accept or "").split(","):
        tag, _, rest = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                q = 0.0
        lang = "en" if tag.startswith("en") else "zh-CN" if tag.startswith("zh") else None
        if lang and q > best_q:
            best, best_q = lang, q
    return best


def request_lang(request: Any) -> str:
    """The language of an aiohttp request (?lang= wins over Accept-Language)."""
    return lang_of(request.query.get("lang") or request.headers.get("Accept-Language"))


def fmt_time(value: datetime, lang: str) -> str:
    local = value.astimezone(CST)
    text = local.strftime("%Y-%m-%d %H:%M")
    return text if lang != "en" else f"{text} (UTC+8)"


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _join(values: list[str], lang: str) -> str:
    return ("、" if lang != "en" else ", ").join(values)


def label(pack: Pack | None, section: str, key: str, lang: str) -> str:
    """The label of a document type, approval kind, stage … in this language."""
    if pack is not None:
        entry = getattr(pack, section).get(key)
        if entry is not None:
            return entry.label_en if lang == "en" else entry.label_zh
    return key


def _ref_label(pack: Pack | None, ref: str, lang: str) -> str:
    if ref.startswith("approval:"):
        return label(pack, "approval_kinds", ref.removeprefix("approval:"), lang)
    return label(pack, "doc_types", ref, lang)


def _show(key: str, value: Any, lang: str, pack: Pack | None) -> str:
    i = 0 if lang != "en" else 1
    if isinstance(value, datetime):
        return fmt_time(value, lang)
    if key == "doc_type":
        return label(pack, "doc_types", str(value), lang)
    if key == "approval_kind":
        return label(pack, "approval_kinds", str(value), lang)
    if key == "stage_of":
        return label(pack, "stages", str(value), lang)
    if key in ("needed", "any_of") and isinstance(value, (list, tuple)):
        return _join([_ref_label(pack, str(v), lang) for v in value], lang)
    if key == "fields":
        return _join([FIELD_LABELS.get(str(v), (str(v), str(v)))[i] for v in value], lang)
    if key == "kinds":
        words = [KIND_LABELS.get(str(v), (str(v), str(v)))[i] for v in value]
        return ("或" if lang != "en" else " or ").join(words)
    if key == "requirement" and pack is not None:
        for req in pack.requirements:
            if req.id == value:
                return req.label_en if lang == "en" else req.label_zh
    if isinstance(value, (list, tuple)):
        return _join([_num(v) for v in value], lang)
    return _num(value)


def render(
    code: str, params: dict[str, Any], lang: str, pack: Pack | None = None, rule: Rule | None = None
) -> str:
    """The text of a finding in zh-CN or en; an unknown code falls back to the rule's text."""
    lang = "en" if lang == "en" else "zh-CN"
    rule_text = "" if rule is None else (rule.message_en if lang == "en" else rule.message_zh)
    pair = TEXTS.get(code)
    if pair is None:
        return rule_text or code
    template = pair[1] if lang == "en" else pair[0]
    values = {k: _show(k, v, lang, pack) for k, v in params.items()}
    values["rule"] = rule_text
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return rule_text or code
