"""Rule packs: checked at start (unknown keys named), agency packs extend the base (Art. 25)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.cases.rulebook import load_rulebook
from server.cases.rulepack import SHIPPED_RULES_DIR
from server.http.errors import SettingsError
from server.settings import load_settings

AGENCY_PACK = """
[pack]
id = "a1-market"
extends = "lishui"
agencies = ["A1"]
title_zh = "A1 市场监管执法全过程记录制度"

[doc_types.sampling_photo_log]
stage = "investigation"
label_zh = "抽样现场照片记录"
party_rights = true

[[requirements]]
id = "a1-sampling-notice"
stage = "investigation"
article = 25
when = { enforcement_type = "inspection" }
any_of = ["sampling_notice"]
label_zh = "抽样取证通知书"

[[rules]]
id = "a1-inspection-video"
article = 25
severity = "warning"
check = "case_av"
when = { enforcement_type = "inspection" }
params = { kinds = ["video"] }
message_zh = "本局规定：行政检查应全程录像。"
message_en = "Agency rule: inspections are filmed."
"""


def _folder(tmp_path: Path, extra: str | None = None, name: str = "a1.toml") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    shutil.copy(SHIPPED_RULES_DIR / "lishui.toml", folder / "lishui.toml")
    if extra is not None:
        (folder / name).write_text(extra, encoding="utf-8")
    return folder


def test_shipped_pack_loads_and_covers_the_articles() -> None:
    book = load_rulebook("", "lishui")
    articles = {r.article for r in book.base.rules}
    assert {3, 8, 9, 10, 13, 14, 15, 17, 18, 21, 24} <= articles
    assert all(r.message_zh and r.message_en for r in book.base.rules)
    stages = {d.stage for d in book.base.doc_types.values()}
    assert stages == {"initiation", "investigation", "decision", "service_execution", "archiving"}
    assert book.base.service_methods["left_at_residence"].label_zh == "留置送达"
    assert {"remove_obstruction", "restore_original"} <= set(book.base.execution_types)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\ncolour = "red"\n', "'colour'"),
        (
            '[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\n[[rules]]\nid = "r"\narticle = 1\n'
            'severity = "error"\ncheck = "case_av"\nparams = { kinds = ["video"], minutes = 3 }\n'
            'message_zh = "x"\nmessage_en = "x"\n',
            "'minutes'",
        ),
        (
            '[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\n[[rules]]\nid = "r"\narticle = 1\n'
            'severity = "error"\ncheck = "record_fields"\nmatch = { doc_typ = "decision" }\n'
            'params = { fields = ["a"] }\nmessage_zh = "x"\nmessage_en = "x"\n',
            "'doc_typ'",
        ),
        (
            '[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\n[[rules]]\nid = "r"\narticle = 1\n'
            'severity = "error"\ncheck = "telepathy"\nmessage_zh = "x"\nmessage_en = "x"\n',
            "telepathy",
        ),
        (
            '[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\n[doc_types.d]\nstage = "nowhere"\n'
            'label_zh = "x"\n',
            "nowhere",
        ),
        (
            '[pack]\nid = "x"\nextends = "lishui"\nagencies = ["A9"]\n[[rules]]\nid = "art24-separation-of-duties"\n'
            'article = 24\nseverity = "info"\ncheck = "approval_separation"\nmessage_zh = "x"\nmessage_en = "x"\n',
            "does not replace",
        ),
    ],
)
def test_bad_pack_fails_at_start_naming_file_and_key(tmp_path, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path, text, "bad.toml")
    with pytest.raises(SettingsError) as err:
        load_settings(None, env={}, overrides={"rules_dir": str(folder), "data_dir": str(tmp_path)})
    assert "bad.toml" in str(err.value) and needle in str(err.value)


def test_missing_base_pack_fails(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match="rule_pack"):
        load_settings(None, env={}, overrides={"rule_pack": "hangzhou", "data_dir": str(tmp_path)})


def test_agency_pack_extends_without_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    book = load_rulebook(_folder(tmp_path, AGENCY_PACK), "lishui")
    a1, a2 = book.for_agency("A1"), book.for_agency("A2")
    assert "sampling_photo_log" in a1.doc_types and "sampling_photo_log" not in a2.doc_types
    assert [r.id for r in a1.rules][-1] == "a1-inspection-video"
    assert len(a1.rules) == len(a2.rules) + 1 and a2 is book.base
    assert "a1-inspection-video" in book.rule_ids()


async def test_agency_pack_applies_to_its_agency_cases(make_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through the API: an A1 inspection case gets the agency's rule and requirement; A2 does not."""
    from helpers import PASSWORD, app_db, bearer
    from server.people.accounts import add_agency, add_user

    client = await make_client(rules_dir=str(_folder(tmp_path, AGENCY_PACK)))
    app_db(client).call(
        lambda s: (
            add_agency(s, "A1", "a"),
            add_agency(s, "A2", "b"),
            add_user(s, "o1", PASSWORD, "officer", "A1"),
            add_user(s, "o2", PASSWORD, "officer", "A2"),
        )
    )
    found = {}
    for user in ("o1", "o2"):
        r = await client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        h = bearer((await r.json())["token"])
        r = await client.post(
            "/api/v1/cases",
            json={
                "number": "X",
                "title": "t",
                "procedure": "general",
                "enforcement_type": "inspection",
            },
            headers=h,
        )
        case = await r.json()
        r = await client.get(f"/api/v1/cases/{case['id']}/compliance", headers=h)
        found[user] = {f["rule"] for f in (await r.json())["findings"]}
        r = await client.get("/api/v1/rules", headers=h)
        rules = await r.json()
        assert ("sampling_photo_log" in {d["id"] for d in rules["doc_types"]}) == (user == "o1")
        r = await client.post(
            f"/api/v1/cases/{case['id']}/stage", json={"stage": "archiving"}, headers=h
        )
        missing = {m.get("requirement") for m in (await r.json())["missing"]}
        assert ("a1-sampling-notice" in missing) == (user == "o1")
    assert found["o1"] == {"a1-inspection-video"} and found["o2"] == set()


async def test_supervision_lists_packs_not_filed(make_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Art. 25: "各行政执法机关应结合本部门实际制定各类行政执法的全过程记录制度，并报同级司法局备案"
    — A1's pack records its filing (date and number), A2's pack is not filed, A3 has none of its
    own; the supervision report and the rules API say so."""
    from helpers import PASSWORD, app_db, bearer
    from server.people.accounts import add_agency, add_user

    folder = _folder(
        tmp_path,
        AGENCY_PACK.replace(
            'title_zh = "A1 市场监管执法全过程记录制度"',
            'title_zh = "A1 市场监管执法全过程记录制度"\nfiled_at = 2026-01-15\n'
            'filing_no = "丽司备〔2026〕3号"',
        ),
    )
    (folder / "a2.toml").write_text(
        '[pack]\nid = "a2-rules"\nextends = "lishui"\nagencies = ["A2"]\n'
        'title_zh = "A2 执法全过程记录制度"\n',
        encoding="utf-8",
    )
    client = await make_client(rules_dir=str(folder))
    app_db(client).call(
        lambda s: (
            add_agency(s, "A1", "a"),
            add_agency(s, "A2", "b"),
            add_agency(s, "A3", "c"),
            add_user(s, "sup", PASSWORD, "supervisor", None),
        )
    )
    r = await client.post("/api/v1/auth/login", json={"username": "sup", "password": PASSWORD})
    h = bearer((await r.json())["token"])
    rep = await (await client.get("/api/v1/supervision", headers=h)).json()
    by = {a["agency"]: a["pack"] for a in rep["agencies"]}
    assert by["A1"]["filed"] and by["A1"]["filing_no"] == "丽司备〔2026〕3号"
    assert by["A1"]["filed_at"] == "2026-01-15"
    assert by["A2"]["filed"] is False and by["A2"]["pack"].endswith("a2-rules")
    assert by["A3"]["own_pack"] is False
    not_filed = rep["packs_not_filed"]
    assert {p.get("pack", "").split("+")[-1] for p in not_filed if "pack" in p} == {"a2-rules"}
    assert [p["agency"] for p in not_filed if "agency" in p] == ["A3"]
    rules = await (await client.get("/api/v1/rules?agency=A1", headers=h)).json()
    assert rules["filing_no"] == "丽司备〔2026〕3号"
