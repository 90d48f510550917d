"""The custody report PDF: an embedded CJK font subset, or the STSong-Light fallback, said so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.report import _register_font, choose_font, find_font, render_pdf

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
    font = _register_font(None)
    assert not font.embedded and "NOT embedded" in font.describe()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(REPORT, font))
    line = next(ln for ln in _fonts(pdf).splitlines() if ln.startswith("STSong-Light"))
    assert line.split()[-5] == "no"


def test_font_setting_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="report_font_path"):
        find_font(str(tmp_path / "missing.ttc"))
