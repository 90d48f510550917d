"""The custody report PDF: an embedded CJK font subset, or the STSong-Light fallback, said so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.exports.report import choose_font, find_font, local_time, render_pdf

REPORT = {
    "case": {
        "number": "丽综执罚〔2024〕007号",
        "title": "违法搭建",
        "agency": "A1 丽水市综合行政执法局",
    },
    "export": {"id": "e1", "recipient": "莲都区人民法院", "purpose": "诉讼", "font": "f"},
    "items": [
        {
            "path": "data/originals/01_执法仪.mp4",
            "original_name": "执法仪.mp4",
            "item_id": "i1",
            "sha256": "ab" * 32,
            "size": 123456,
            "received_at": "2024-05-01",
        }
    ],
    "clips": [
        {
            "path": "data/clips/01.mp4",
            "sha256": "cd" * 32,
            "derived_from": "ab" * 32,
            "method": "stream_copy",
            "start_s": 0.0,
            "end_s": 2.0,
            "watermark": None,
        }
    ],
    "custody": [
        {
            "seq": n,
            "time": "2024-05-01T00:00:00Z",
            "actor": "user:1:张三",
            "action": "view",
            "subject": "evidence:i1",
            "entry_hash": "ef" * 32,
        }
        for n in range(1, 60)
    ],
    "tree_head": {
        "size": 60,
        "root": "12" * 32,
        "time": "t",
        "key_id": "k",
        "time_source": "server clock",
    },
}


def _fonts(pdf: Path) -> str:
    return subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout


def test_embedded_cjk_subset_and_text(tmp_path: Path) -> None:
    font = choose_font("")
    assert font.embedded, "no CJK font installed: apt-get install fonts-wqy-zenhei (.ci/run does)"
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(REPORT, font))
    cjk = [ln for ln in _fonts(pdf).splitlines() if "+" in ln.split()[0]]  # subset: ABCDEF+Name
    assert cjk and all(ln.split()[-5:-3] == ["yes", "yes"] for ln in cjk)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for phrase in (
        "视听资料证据监管链报告",
        "丽综执罚〔2024〕007号",
        "莲都区人民法院",
        "监管链记录",
        "关键帧流复制",
    ):
        assert phrase in text


def test_fallback_when_no_font_is_available(tmp_path: Path) -> None:
    font = choose_font("", candidates=())
    assert not font.embedded and "NOT embedded" in font.describe()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(REPORT, font))
    line = next(ln for ln in _fonts(pdf).splitlines() if ln.startswith("STSong-Light"))
    assert line.split()[-5] == "no"


def test_font_setting_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="report_font_path"):
        find_font(str(tmp_path / "missing.ttc"))


NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def test_labels_are_chinese_and_times_in_the_agency_zone(tmp_path: Path) -> None:
    """No raw vocabulary ids (penalty, general, case_change) in the PDF; times in 北京时间."""
    report = {
        **REPORT,
        "time_zone": "Asia/Shanghai",
        "case": {**REPORT["case"], "enforcement_type": "penalty", "procedure": "general"},
        "export": {**REPORT["export"], "created_at": "2026-12-01T02:15:00Z"},
        "custody": [
            {
                **REPORT["custody"][0],
                "action": "case_change",
                "details": {"event": "opened"},
                "time": "2026-12-01T02:15:00Z",
            },
        ],
        "tree_head": {
            **REPORT["tree_head"],
            "time": "2026-12-01T02:15:00Z",
            "fingerprint": "ab" * 32,
        },
    }
    assert local_time("2026-12-01T02:15:00Z", "Asia/Shanghai") == "2026-12-01 10:15:00 北京时间"
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(report, choose_font("")))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for phrase in (
        "行政处罚",
        "一般程序",
        "案件变更",
        "立案",
        "2026-12-01 10:15:00 北京时间",
        "签名密钥指纹",
        "--trusted-key",
    ):
        assert phrase in text, phrase
    for raw in ("penalty", "general", "case_change", "(view)"):
        assert raw not in text, raw
    # Hashes are printed in whole groups of 16: no group is cut across lines.
    assert "abababababababab" in text


def test_a_font_that_cannot_be_embedded_is_skipped(tmp_path: Path) -> None:
    """Noto CJK (TTC with CFF outlines, Debian fonts-noto-cjk) makes reportlab raise
    'postscript outlines are not supported': skipped with a warning, the next one is used."""
    assert Path(NOTO_CJK).is_file(), "apt-get install -y fonts-noto-cjk (.ci/run does)"
    font = choose_font(NOTO_CJK)
    assert font.embedded and font.path != NOTO_CJK
    assert font.skipped and "NotoSansCJK" in font.skipped[0]
    assert "postscript outlines are not supported" in font.skipped[0]
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(REPORT, font))
    assert (
        "视听资料证据监管链报告"
        in subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    )
    # Only Noto as a candidate: the export still works, on the (not embedded) fallback.
    only = choose_font("", candidates=(NOTO_CJK,))
    assert not only.embedded and only.skipped
