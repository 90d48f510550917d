"""The custody report of an export: a Chinese PDF (with an embedded CJK font subset) and JSON."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Tried in order when the setting report_font_path is empty (Debian package names in comments).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
FALLBACK_CID_FONT = "STSong-Light"

ACTION_NAMES = {
    "ingest": "接收入库",
    "duplicate_received": "重复接收",
    "view": "查看",
    "link": "关联案件",
    "unlink": "取消关联",
    "annotation": "标注",
    "export": "导出",
    "retention_change": "保存期限变更",
    "user_change": "用户变更",
    "verification": "校验",
    "upload_refused": "拒收上传",
    "fixity_scrub": "完整性巡检",
    "case_change": "案件变更",
    "record": "执法文书记录",
    "approval": "审批",
    "complaint": "投诉处理",
    "disposal_request": "销毁申请",
    "disposal_approval": "销毁批准",
    "key_rotation": "签名密钥轮换",
    "derivation": "衍生处理",
}
ENFORCEMENT_NAMES = {
    "penalty": "行政处罚",
    "coercion": "行政强制",
    "levy": "行政征收征用",
    "inspection": "行政检查",
    "licensing": "行政许可",
    "charging": "行政收费",
    "other": "其他",
}
PROCEDURE_NAMES = {"general": "一般程序", "simple": "简易程序"}
STAGE_NAMES = {
    "initiation": "程序启动",
    "investigation": "调查取证",
    "decision": "审查决定",
    "service_execution": "送达执行",
    "archiving": "归档管理",
}
ZONE_NAMES = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "PRC": "北京时间"}


def label(names: Mapping[str, str], value: Any) -> str:
    """The Chinese label of a vocabulary id (the id itself when unknown, never empty)."""
    if value in (None, ""):
        return "—"
    return names.get(str(value), str(value))


def local_time(value: Any, zone: str) -> str:
    """An RFC 3339 UTC time as the agency's wall-clock time, e.g. '2026-12-01 10:15:00 北京时间'."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from integrity.timefmt import parse_rfc3339

    if not isinstance(value, str) or not value:
        return "—"
    try:
        local = parse_rfc3339(value, naive_zone=UTC).astimezone(ZoneInfo(zone))
    except (ValueError, KeyError):
        return str(value)
    name = ZONE_NAMES.get(zone)
    if name is None:
        offset = local.strftime("%z")
        name = f"{zone} UTC{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M:%S} {name}"


@dataclass(frozen=True)
class FontChoice:
    """Which font the PDF uses and whether it is embedded in the file."""

    name: str
    path: str | None
    embedded: bool
    skipped: tuple[str, ...] = ()  # candidates that could not be embedded, with the reason

    def describe(self) -> str:
        if self.embedded:
            return f"embedded subset of {self.path}"
        return (
            f"{self.name} (a standard CID font, NOT embedded: the reader needs an Adobe "
            "Asian font pack to show the Chinese text; set report_font_path to a CJK TTF/TTC)"
        )


def font_candidates(setting: str, candidates: Sequence[str] = FONT_CANDIDATES) -> list[str]:
    """CJK font files to try in order: the setting when given (must exist), then every
    candidate that exists."""
    out: list[str] = []
    if setting:
        path = Path(setting).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"setting report_font_path: no font file at {path}")
        out.append(str(path))
    out += [c for c in candidates if Path(c).is_file() and c not in out]
    return out


def find_font(setting: str) -> str | None:
    """The first CJK font file to try (see font_candidates); None when there is none."""
    found = font_candidates(setting)
    return found[0] if found else None


def _try_register(path: str) -> str:
    """Register one TTF/TTC for embedding; raises when reportlab cannot embed it (e.g. a TTC
    with CFF/PostScript outlines such as Noto CJK: 'postscript outlines are not supported')."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = "CustodianCJK-" + Path(path).stem
    if name not in pdfmetrics.getRegisteredFontNames():
        if path.lower().endswith(".ttc"):  # a collection: its first face
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        else:
            pdfmetrics.registerFont(TTFont(name, path))
    return name


def choose_font(setting: str, candidates: Sequence[str] = FONT_CANDIDATES) -> FontChoice:
    """Register and return the report font: the first candidate reportlab can embed; a
    candidate that cannot be embedded is skipped with a warning (never failing the export);
    with none, the STSong-Light CID font (not embedded, and the report says so)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    skipped: list[str] = []
    for path in font_candidates(setting, candidates):
        try:
            return FontChoice(_try_register(path), path, True, tuple(skipped))
        except Exception as exc:  # reportlab raises TTFError, struct errors, OSError…
            reason = f"{path}: cannot be embedded ({type(exc).__name__}: {exc})"
            logger.warning("report font skipped: %s", reason)
            skipped.append(reason)
    if FALLBACK_CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    logger.warning(
        "no embeddable CJK font found: the custody report uses %s, not embedded", FALLBACK_CID_FONT
    )
    return FontChoice(FALLBACK_CID_FONT, None, False, tuple(skipped))


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n:,} 字节"


def render_pdf(report: Mapping[str, Any], font: FontChoice) -> bytes:
    """The custody report as a PDF, in Chinese, from the same data as the JSON report."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    base = ParagraphStyle("base", fontName=font.name, fontSize=9, leading=13, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=10)
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4)

    mono = ParagraphStyle(
        "mono", parent=small, fontName="Courier", fontSize=7, leading=9, wordWrap=None
    )
    zone = str(report.get("time_zone") or "Asia/Shanghai")

    def p(text: Any, style: ParagraphStyle = base) -> Paragraph:
        from xml.sax.saxutils import escape

        lines = str("—" if text in (None, "") else text).split("\n")
        return Paragraph("<br/>".join(escape(line) for line in lines), style)

    def digest(value: Any) -> Paragraph:
        """A hash in fixed groups of 16, one group per line: never cut mid-token."""
        text = str(value or "—")
        return Paragraph("<br/>".join(text[i : i + 16] for i in range(0, len(text), 16)), mono)

    def when(value: Any) -> Paragraph:
        # Date and time on their own lines, so neither is split by the table's wrapping.
        text = local_time(value, zone)
        date, _, rest = text.partition(" ")
        return p(f"{date}\n{rest}" if rest else text, small)

    def grid(rows: Sequence[Sequence[Any]], widths: Sequence[float], header: bool = True) -> Table:
        table = Table(
            [[c if isinstance(c, Paragraph) else p(c, small) for c in row] for row in rows],
            colWidths=widths,
            repeatRows=1 if header else 0,
        )
        style = [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
        table.setStyle(TableStyle(style))  # type: ignore[arg-type]  # reportlab's stubs want one tuple shape per command
        return table

    case = report["case"]
    export = report["export"]
    head = report["tree_head"]
    story: list[Any] = [
        p("视听资料证据监管链报告", h1),
        p(
            "Custody report of audio-visual evidence (Chinese; the same data is in "
            "custody-report.json)",
            small,
        ),
        Spacer(1, 4 * mm),
        p("一、案件信息", h2),
        grid(
            [
                ["案件编号", case.get("number")],
                ["案件名称", case.get("title")],
                ["执法机关", case.get("agency")],
                ["执法类别", label(ENFORCEMENT_NAMES, case.get("enforcement_type"))],
                ["程序", label(PROCEDURE_NAMES, case.get("procedure"))],
                ["案件标识", case.get("id")],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        p("二、导出信息", h2),
        grid(
            [
                ["导出编号", export.get("id")],
                ["导出时间", local_time(export.get("created_at"), zone)],
                ["导出人", export.get("exporter")],
                ["接收方", export.get("recipient")],
                ["用途", export.get("purpose")],
                ["水印", export.get("watermark") or "无 (原始文件从不加水印)"],
                ["校验程序 verify.py SHA-256", digest(export.get("verifier_sha256"))],
                ["报告字体", export.get("font")],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        p("三、证据清单 (原始文件，未经改动)", h2),
    ]
    rows: list[list[Any]] = [["序号", "文件 / 标识", "SHA-256", "大小", "拍摄时间 / 接收时间"]]
    for n, item in enumerate(report["items"], 1):
        rows.append(
            [
                n,
                f"{item.get('path')}\n{item.get('original_name')}\n{item.get('item_id')}",
                digest(item.get("sha256")),
                _size(item.get("size")),
                p(
                    f"拍摄 {local_time(item.get('recorded_at'), zone) if item.get('recorded_at') else '未知'}"
                    f"\n接收 {local_time(item.get('received_at'), zone)}",
                    small,
                ),
            ]
        )
    story.append(grid(rows, [10 * mm, 45 * mm, 55 * mm, 22 * mm, 38 * mm]))
    clips = report.get("clips") or []
    story.append(p("四、剪辑 (由原始文件截取)", h2))
    if clips:
        rows = [["文件", "SHA-256", "来源原始文件 SHA-256", "方式 / 区间"]]
        for clip in clips:
            method = "关键帧流复制" if clip.get("method") == "stream_copy" else "精确重新编码"
            if (clip.get("parameters") or {}).get("purpose") == "browser_playable_copy":
                method = "浏览器可播放副本\n(H.264 转码，全长，\n衍生文件，非原始文件)"
            rows.append(
                [
                    clip.get("path"),
                    digest(clip.get("sha256")),
                    digest(clip.get("derived_from")),
                    f"{method}\n{clip.get('start_s')}s – {clip.get('end_s')}s"
                    + (f"\n水印: {clip.get('watermark')}" if clip.get("watermark") else ""),
                ]
            )
        story.append(grid(rows, [35 * mm, 50 * mm, 50 * mm, 35 * mm]))
    else:
        story.append(p("本次导出不含剪辑。"))
    story.append(p("五、监管链记录 (逐条)", h2))
    rows = [["序号", "时间", "操作人", "操作", "对象", "记录哈希"]]
    for entry in report["custody"]:
        action = entry.get("action")
        details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
        what = label(ACTION_NAMES, action)
        if action == "case_change" and details.get("event"):
            event = {"opened": "立案", "stage": "阶段变更", "archived": "归档"}.get(
                str(details.get("event"))
            )
            what += f"\n{event}" if event else ""
        if details.get("stage") in STAGE_NAMES:
            what += f"\n{STAGE_NAMES[details['stage']]}"
        rows.append(
            [
                entry.get("seq"),
                when(entry.get("time")),
                entry.get("actor"),
                what,
                entry.get("subject"),
                digest(entry.get("entry_hash")),
            ]
        )
    story.append(grid(rows, [12 * mm, 30 * mm, 32 * mm, 22 * mm, 30 * mm, 44 * mm]))
    story += [
        p("六、签名与校验", h2),
        grid(
            [
                ["签名树头大小", head.get("size")],
                ["Merkle 根", digest(head.get("root"))],
                [
                    "签名时间",
                    f"{local_time(head.get('time'), zone)} "
                    f"({'RFC 3161 时间戳' if head.get('time_source') == 'RFC 3161' else '服务器时钟'})",
                ],
                ["签名密钥标识", head.get("key_id")],
                ["签名密钥指纹 (SHA-256)", digest(head.get("fingerprint"))],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        Spacer(1, 3 * mm),
        p(
            "校验方法：解压证据包后，在包含 bagit.txt 的文件夹中运行 "
            "“python verify.py --trusted-key 指纹”（仅需 Python 3 标准库），指纹取自出具机关"
            "另行公布（如在司法局备案）的签名密钥指纹，不得取自本证据包。未给出受信任指纹时，"
            "校验只能证明内容未被改动，不能证明证据包出自该机关（退出码 3）。"
            "verify.html 只能发现损坏，不能证明来源。"
        ),
        p(
            "To verify: unzip, then run `python verify.py --trusted-key FINGERPRINT` in the "
            "folder holding bagit.txt (Python 3 standard library only), with the fingerprint the "
            "issuing agency publishes separately (never the one printed in this package). Without "
            "a trusted key the check proves integrity, not origin (exit 3). verify.html detects "
            "damage only; it cannot prove origin.",
            small,
        ),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"监管链报告 {case.get('number')}",
        author="Custodian",
        subject=f"export {export.get('id')}",
        # A fixed creation date keeps the PDF a pure function of the report data.
        invariant=1,
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font.name, 7)
        canvas.drawString(
            18 * mm,
            8 * mm,
            f"案件 {case.get('number')} · 导出 {export.get('id')} "
            f"· 接收方 {export.get('recipient')} · 第 {document.page} 页",
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
