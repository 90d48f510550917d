"""The supervision report as tables: a summary of agencies and units, per-article case numbers,
overdue approvals and rectifications, officers and a monthly trend; as CSV (Chinese headers by
default) or as one XLSX workbook."""

from __future__ import annotations

from typing import Any

from server.cases.spreadsheet import to_csv, to_xlsx
from server.catalogue.models import ENFORCEMENT_TYPES

TYPE_ZH = {
    "penalty": "行政处罚",
    "coercion": "行政强制",
    "levy": "行政征收征用",
    "inspection": "行政检查",
    "licensing": "行政许可",
    "charging": "行政收费",
    "other": "其他",
}


TYPE_EN = {
    "penalty": "Penalty",
    "coercion": "Coercion",
    "levy": "Levy",
    "inspection": "Inspection",
    "licensing": "Licensing",
    "charging": "Charging",
    "other": "Other",
}


def _labels(lang: str) -> dict[str, str]:
    zh = lang != "en"
    return {
        "agency": "机关代码" if zh else "Agency code",
        "agency_name": "机关名称" if zh else "Agency",
        "unit": "执法单位" if zh else "Unit",
        "from": "统计起始" if zh else "From",
        "to": "统计截止" if zh else "To",
        "cases": "案件数" if zh else "Cases",
        "archived": "已归档" if zh else "Archived",
        "complete": "记录完整" if zh else "Complete",
        "complete_share": "完整率" if zh else "Complete share",
        "overdue_approvals": "逾期审批" if zh else "Overdue approvals",
        "lacking_av": "缺少音像记录案件" if zh else "Cases lacking AV",
        "exec_coverage": "强制执行音像覆盖率" if zh else "Execution AV coverage",
        "overdue_rect": "逾期未整改" if zh else "Overdue rectifications",
        "pack_filed": "记录制度备案" if zh else "Rules filed",
        "yes": "已备案" if zh else "filed",
        "no": "未备案" if zh else "not filed",
        "no_unit": "未指定单位" if zh else "(no unit)",
        "article": "条款" if zh else "Article",
        "art": "第{n}条不符合" if zh else "Art. {n} non-compliant",
        "case_numbers": "案号" if zh else "Case numbers",
        "error_cases": "须整改案件数" if zh else "Cases with errors",
        "findings": "问题数" if zh else "Findings",
        "month": "月份" if zh else "Month",
        "officer": "执法人员" if zh else "Officer",
        "certificate": "执法证件编号" if zh else "Certificate no.",
        "number": "案号" if zh else "Case number",
        "reason": "原因" if zh else "Reason",
        "late_24h": "超过24小时补办" if zh else "approved after 24 h",
        "pending": "待决定" if zh else "pending decision",
        "age": "已等待（天）" if zh else "Waiting (days)",
        "detail": "说明" if zh else "Detail",
    }


def _article_columns(report: dict[str, Any]) -> list[int]:
    return sorted(
        {a["article"] for ag in report["agencies"] for a in ag["by_article"]}
        | {a["article"] for ag in report["agencies"] for u in ag["units"] for a in u["by_article"]}
    )


def summary_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    """One row per agency and one per unit of it: the headline figures and per-article counts."""
    L = _labels(lang)
    types = TYPE_EN if lang == "en" else TYPE_ZH
    arts = _article_columns(report)
    head = [
        L["agency"],
        L["agency_name"],
        L["unit"],
        L["from"],
        L["to"],
        L["cases"],
        L["archived"],
        L["complete"],
        L["complete_share"],
        *[types[t] for t in ENFORCEMENT_TYPES],
        *[L["art"].format(n=n) for n in arts],
        L["overdue_approvals"],
        L["lacking_av"],
        L["exec_coverage"],
        L["overdue_rect"],
        L["pack_filed"],
    ]
    rows: list[list[Any]] = [head]
    for a in report["agencies"]:
        art_counts = {x["article"]: x["cases"] for x in a["by_article"]}
        ex = a["executions"]["coverage_share"]
        rows.append(
            [
                a["agency"],
                a["agency_name"],
                "",
                report["from"] or "",
                report["to"] or "",
                a["cases"],
                a["archived"],
                a["complete"],
                "" if a["complete_share"] is None else a["complete_share"],
                *[a["by_type"].get(t, 0) for t in ENFORCEMENT_TYPES],
                *[art_counts.get(n, 0) for n in arts],
                len(a["overdue_approvals"]),
                len(a["lacking_av"]),
                "" if ex is None else ex,
                len(a["overdue_rectifications"]),
                L["yes"] if a["pack"].get("filed") else L["no"],
            ]
        )
        for u in a["units"]:
            uc = {x["article"]: x["cases"] for x in u["by_article"]}
            rows.append(
                [
                    a["agency"],
                    a["agency_name"],
                    u["unit"] or L["no_unit"],
                    report["from"] or "",
                    report["to"] or "",
                    u["cases"],
                    u["archived"],
                    u["complete"],
                    "" if u["complete_share"] is None else u["complete_share"],
                    *["" for _ in ENFORCEMENT_TYPES],
                    *[uc.get(n, 0) for n in arts],
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return rows


def article_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    """Per agency and article: the counts and the case numbers behind them."""
    L = _labels(lang)
    rows: list[list[Any]] = [
        [L["agency"], L["article"], L["cases"], L["error_cases"], L["findings"], L["case_numbers"]]
    ]
    sep = "、" if lang != "en" else ", "
    for a in report["agencies"]:
        for x in a["by_article"]:
            rows.append(
                [
                    a["agency"],
                    x["article"],
                    x["cases"],
                    x["error_cases"],
                    x["findings"],
                    sep.join(c["number"] for c in x["case_list"]),
                ]
            )
    return rows


def officer_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [
        [
            L["agency"],
            L["officer"],
            L["certificate"],
            L["cases"],
            L["archived"],
            L["complete"],
            L["complete_share"],
            L["findings"],
        ]
    ]
    for a in report["agencies"]:
        for p in a["officers"]:
            rows.append(
                [
                    a["agency"],
                    p["name"],
                    p["certificate_no"],
                    p["cases"],
                    p["archived"],
                    p["complete"],
                    "" if p["complete_share"] is None else p["complete_share"],
                    p["findings"],
                ]
            )
    return rows


def trend_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [
        [L["agency"], L["month"], L["cases"], L["archived"], L["complete"], L["complete_share"]]
    ]
    for a in report["agencies"]:
        for t in a["trend"]:
            rows.append(
                [
                    a["agency"],
                    t["month"],
                    t["cases"],
                    t["archived"],
                    t["complete"],
                    "" if t["complete_share"] is None else t["complete_share"],
                ]
            )
    return rows


def overdue_rows(report: dict[str, Any], lang: str = "zh-CN") -> list[list[Any]]:
    L = _labels(lang)
    rows: list[list[Any]] = [[L["agency"], L["number"], L["reason"], L["age"], L["detail"]]]
    for a in report["agencies"]:
        for o in a["overdue_approvals"]:
            rows.append(
                [
                    a["agency"],
                    o["number"],
                    L[o["reason"]],
                    o.get("age_days", ""),
                    o.get("message") or o.get("kind") or "",
                ]
            )
    return rows


TABLES = {
    "summary": summary_rows,
    "articles": article_rows,
    "overdue": overdue_rows,
    "officers": officer_rows,
    "trend": trend_rows,
}


def report_csv(report: dict[str, Any], lang: str = "zh-CN", table: str = "summary") -> str:
    """One table of the report (default: agencies and their units) with Chinese headers by
    default; `articles` lists the case numbers behind every per-article count."""
    return to_csv(TABLES[table](report, lang))


def report_xlsx(report: dict[str, Any], lang: str = "zh-CN") -> bytes:
    zh = lang != "en"
    return to_xlsx(
        [
            ("汇总" if zh else "Summary", summary_rows(report, lang)),
            ("按条款" if zh else "By article", article_rows(report, lang)),
            ("逾期审批" if zh else "Overdue approvals", overdue_rows(report, lang)),
            ("执法人员" if zh else "Officers", officer_rows(report, lang)),
            ("月度趋势" if zh else "Trend", trend_rows(report, lang)),
        ]
    )
