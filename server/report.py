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
}


@dataclass(frozen=True)
class FontChoice:
    """Which font the PDF uses and whether it is embedded in the file."""

    name: str
    path: str | None
    embedded: bool

    def describe(self) -> str:
        if self.embedded:
            return f"embedded subset of {self.path}"
        return (
            f"{self.name} (a standard CID font, NOT embedded: the reader needs an Adobe "
            "Asian font pack to show the Chinese text; set report_font_path to a CJK TTF/TTC)"
        )


def find_font(setting: str) -> str | None:
    """The CJK font file to embed: the setting when given (must exist), else the first
    candidate that exists; None when there is none."""
    if setting:
        path = Path(setting).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"setting report_font_path: no font file at {path}")
        return str(path)
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def _register_font(path: str | None) -> FontChoice:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if path is not None:
        name = "CustodianCJK-" + Path(path).stem
        if name not in pdfmetrics.getRegisteredFontNames():
            kwargs = {"subfontIndex": 0} if path.lower().endswith(".ttc") else {}
            pdfmetrics.registerFont(TTFont(name, path, **kwargs))
        return FontChoice(name, path, True)
    if FALLBACK_CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    logger.warning("no CJK font file found: the custody report uses %s, not embedded",
                   FALLBACK_CID_FONT)
    return FontChoice(FALLBACK_CID_FONT, None, False)


def choose_font(setting: str) -> FontChoice:
    """Register and return the report font (embedded TTF/TTC, or the STSong-Light fallback)."""
    return _register_font(find_font(setting))


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

    def p(text: Any, style: ParagraphStyle = base) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape("—" if text in (None, "") else str(text)), style)

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
        table.setStyle(TableStyle(style))
        return table

    case = report["case"]
    export = report["export"]
    head = report["tree_head"]
    story: list[Any] = [
        p("视听资料证据监管链报告", h1),
        p("Custody report of audio-visual evidence (Chinese; the same data is in "
          "custody-report.json)", small),
        Spacer(1, 4 * mm),
        p("一、案件信息", h2),
        grid(
            [
                ["案件编号", case.get("number")],
                ["案件名称", case.get("title")],
                ["执法机关", case.get("agency")],
                ["执法类别", case.get("enforcement_type")],
                ["程序", case.get("procedure")],
                ["案件标识", case.get("id")],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        p("二、导出信息", h2),
        grid(
            [
                ["导出编号", export.get("id")],
                ["导出时间 (UTC)", export.get("created_at")],
                ["导出人", export.get("exporter")],
                ["接收方", export.get("recipient")],
                ["用途", export.get("purpose")],
                ["水印", export.get("watermark") or "无 (原始文件从不加水印)"],
                ["校验程序 verify.py SHA-256", export.get("verifier_sha256")],
                ["报告字体", export.get("font")],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        p("三、证据清单 (原始文件，未经改动)", h2),
    ]
    rows: list[list[Any]] = [["序号", "文件 / 标识", "SHA-256", "大小", "拍摄时间 / 接收时间"]]
    for n, item in enumerate(report["items"], 1):
        rows.append([
            n,
            f"{item.get('path')}\n{item.get('original_name')}\n{item.get('item_id')}",
            item.get("sha256"),
            _size(item.get("size")),
            f"拍摄 {item.get('recorded_at') or '未知'}\n接收 {item.get('received_at')}",
        ])
    story.append(grid(rows, [10 * mm, 45 * mm, 55 * mm, 22 * mm, 38 * mm]))
    clips = report.get("clips") or []
    story.append(p("四、剪辑 (由原始文件截取)", h2))
    if clips:
        rows = [["文件", "SHA-256", "来源原始文件 SHA-256", "方式 / 区间"]]
        for clip in clips:
            method = "关键帧流复制" if clip.get("method") == "stream_copy" else "精确重新编码"
            rows.append([
                clip.get("path"),
                clip.get("sha256"),
                clip.get("derived_from"),
                f"{method}\n{clip.get('start_s')}s – {clip.get('end_s')}s"
                + (f"\n水印: {clip.get('watermark')}" if clip.get("watermark") else ""),
            ])
        story.append(grid(rows, [35 * mm, 50 * mm, 50 * mm, 35 * mm]))
    else:
        story.append(p("本次导出不含剪辑。"))
    story.append(p("五、监管链记录 (逐条)", h2))
    rows = [["序号", "时间 (UTC)", "操作人", "操作", "对象", "记录哈希"]]
    for entry in report["custody"]:
        action = entry.get("action")
        rows.append([
            entry.get("seq"),
            entry.get("time"),
            entry.get("actor"),
            f"{ACTION_NAMES.get(action, action)}\n({action})",
            entry.get("subject"),
            entry.get("entry_hash"),
        ])
    story.append(grid(rows, [12 * mm, 30 * mm, 32 * mm, 22 * mm, 30 * mm, 44 * mm]))
    story += [
        p("六、签名与校验", h2),
        grid(
            [
                ["签名树头大小", head.get("size")],
                ["Merkle 根", head.get("root")],
                ["签名时间", f"{head.get('time')} ({head.get('time_source')})"],
                ["签名密钥标识", head.get("key_id")],
            ],
            [35 * mm, 135 * mm],
            header=False,
        ),
        Spacer(1, 3 * mm),
        p(
            "校验方法：解压证据包后，在包含 bagit.txt 的文件夹中运行 “python verify.py”"
            "（仅需 Python 3 标准库），或在浏览器中打开 verify.html 并选择该文件夹。"
            "任何文件的任何字节被改动、删除或增加，校验都会指出具体文件。签名密钥标识与"
            "verify.py 的 SHA-256 应与出具机关另行提供的数值一致。"
        ),
        p(
            "To verify: unzip, then run `python verify.py` in the folder holding bagit.txt "
            "(Python 3 standard library only), or open verify.html and choose that folder. "
            "Compare the signing key id and the SHA-256 of verify.py with the values the "
            "issuing agency gives you separately.",
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
        canvas.drawString(18 * mm, 8 * mm, f"案件 {case.get('number')} · 导出 {export.get('id')} "
                          f"· 接收方 {export.get('recipient')} · 第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
