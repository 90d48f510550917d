"""Reading one rule pack file: every key is checked, an unknown key or a wrong type fails naming
the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from server.cases.rulepack import (
    AV_KINDS,
    CASE_WHEN_KEYS,
    CHECKS,
    RECORD_MATCH_KEYS,
    SEVERITIES,
    Entry,
    Pack,
    PackError,
    Requirement,
    Rule,
)

TOP_KEYS = frozenset(
    {
        "pack",
        "stages",
        "service_methods",
        "execution_types",
        "doc_types",
        "approval_kinds",
        "requirements",
        "rules",
    }
)
PACK_KEYS = frozenset(
    {"id", "title_zh", "title_en", "extends", "agencies", "filed_at", "filing_no"}
)
ENTRY_KEYS = {
    "stages": frozenset({"label_zh", "label_en", "article"}),
    "service_methods": frozenset({"label_zh", "label_en", "article"}),
    "execution_types": frozenset({"label_zh", "label_en", "article"}),
    "doc_types": frozenset({"label_zh", "label_en", "article", "stage", "party_rights"}),
    "approval_kinds": frozenset({"label_zh", "label_en", "article", "stage", "legal_only"}),
}
REQUIREMENT_KEYS = frozenset(
    {"id", "stage", "article", "when", "any_of", "if_present", "label_zh", "label_en"}
)
RULE_KEYS = frozenset(
    {
        "id",
        "article",
        "severity",
        "check",
        "when",
        "match",
        "params",
        "message_zh",
        "message_en",
        "stage",
    }
)


class _Reader:
    """Checks one pack file's keys and types, naming the file and the key in every error."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str) -> PackError:
        return PackError(f"rule pack {self.path}: {where}: {message}")

    def keys(
        self,
        table: Any,
        allowed: frozenset[str],
        where: str,
        required: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table")
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
            )
        missing = sorted(required - set(table))
        if missing:
            raise self.fail(where, f"missing key {missing[0]!r}")
        return table

    def text(self, table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", "must be a non-empty string")
        return value

    def integer(
        self, table: dict[str, Any], key: str, where: str, default: int | None = None
    ) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be an integer")
        return value

    def flag(self, table: dict[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be true or false")
        return value

    def strings(
        self, table: dict[str, Any], key: str, where: str, required: bool = True
    ) -> tuple[str, ...]:
        value = table.get(key, [] if not required else None)
        if (
            not isinstance(value, list)
            or not all(isinstance(v, str) and v for v in value)
            or (required and not value)
        ):
            raise self.fail(
                f"{where}.{key}",
                "must be a non-empty list of strings" if required else "must be a list of strings",
            )
        return tuple(value)

    def selector(
        self, table: dict[str, Any], key: str, allowed: frozenset[str], where: str
    ) -> dict[str, Any]:
        sel = self.keys(table.get(key, {}), allowed, f"{where}.{key}")
        for k, v in sel.items():
            values = v if isinstance(v, list) else [v]
            if not values or not all(isinstance(x, (str, bool)) for x in values):
                raise self.fail(
                    f"{where}.{key}.{k}", "must be a string, a boolean or a list of them"
                )
        return dict(sel)


def read_pack(path: Path) -> Pack:
    """Parse and check one pack file on its own (references are checked once merged)."""
    r = _Reader(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise PackError(f"rule pack {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"rule pack {path} is not valid TOML: {exc}") from None
    r.keys(data, TOP_KEYS, "top level", frozenset({"pack"}))
    head = r.keys(data["pack"], PACK_KEYS, "[pack]", frozenset({"id"}))
    pack_id = r.text(head, "id", "[pack]")
    extends = head.get("extends")
    if extends is not None and (not isinstance(extends, str) or not extends):
        raise r.fail("[pack].extends", "must be a pack id")
    agencies = r.strings(head, "agencies", "[pack]", required=False)
    if extends and not agencies:
        raise r.fail("[pack].agencies", "an agency pack must name the agency codes it applies to")
    if not extends and agencies:
        raise r.fail("[pack].agencies", "only a pack that extends another applies to agencies")

    sections: dict[str, dict[str, Entry]] = {}
    for section, allowed in ENTRY_KEYS.items():
        table = r.keys(data.get(section, {}), frozenset(data.get(section, {})), f"[{section}]")
        out: dict[str, Entry] = {}
        for key, body in table.items():
            where = f"[{section}.{key}]"
            body = r.keys(body, allowed, where, frozenset({"label_zh"}))
            out[key] = Entry(
                id=key,
                label_zh=r.text(body, "label_zh", where),
                label_en=r.text(body, "label_en", where, default=key),
                article=r.integer(body, "article", where) if "article" in body else None,
                stage=r.text(body, "stage", where)
                if "stage" in allowed and "stage" in body
                else None,
                party_rights=r.flag(body, "party_rights", where),
                legal_only=r.flag(body, "legal_only", where),
                pack=pack_id,
            )
            if section in ("doc_types", "approval_kinds") and out[key].stage is None:
                raise r.fail(where, "missing key 'stage'")
        sections[section] = out
    if extends and sections["stages"]:
        raise r.fail(
            "[stages]", "the stages are fixed by Art. 3; an agency pack cannot redefine them"
        )

    requirements = []
    reqs = data.get("requirements", [])
    if not isinstance(reqs, list):
        raise r.fail("[[requirements]]", "must be an array of tables")
    for i, body in enumerate(reqs):
        where = f"[[requirements]] #{i + 1}"
        body = r.keys(
            body,
            REQUIREMENT_KEYS,
            where,
            frozenset({"id", "stage", "article", "any_of", "label_zh"}),
        )
        where = f"[[requirements]] {body.get('id')!r}"
        requirements.append(
            Requirement(
                id=r.text(body, "id", where),
                stage=r.text(body, "stage", where),
                article=r.integer(body, "article", where),
                any_of=r.strings(body, "any_of", where),
                if_present=r.strings(body, "if_present", where, required=False),
                when=r.selector(body, "when", CASE_WHEN_KEYS, where),
                label_zh=r.text(body, "label_zh", where),
                label_en=r.text(body, "label_en", where, default=str(body.get("id"))),
                pack=pack_id,
            )
        )

    rules = []
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise r.fail("[[rules]]", "must be an array of tables")
    for i, body in enumerate(raw_rules):
        where = f"[[rules]] #{i + 1}"
        body = r.keys(
            body,
            RULE_KEYS,
            where,
            frozenset({"id", "article", "severity", "check", "message_zh", "message_en"}),
        )
        where = f"[[rules]] {body.get('id')!r}"
        check = r.text(body, "check", where)
        if check not in CHECKS:
            raise r.fail(
                f"{where}.check", f"unknown check {check!r} (known: {', '.join(sorted(CHECKS))})"
            )
        required, optional, uses_match = CHECKS[check]
        params = r.keys(body.get("params", {}), required | optional, f"{where}.params", required)
        if "match" in body and not uses_match:
            raise r.fail(f"{where}.match", f"check {check!r} takes no 'match' (use 'when')")
        severity = r.text(body, "severity", where)
        if severity not in SEVERITIES:
            raise r.fail(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
        for key in (
            "kinds",
            "fields",
            "notice_doc_types",
            "demand_doc_types",
            "doc_types",
            "check_doc_types",
        ):
            if key in params:
                r.strings(params, key, f"{where}.params")
        for key in ("kind", "approval_kind", "time_field", "deadline_field"):
            if key in params:
                r.text(params, key, f"{where}.params")
        if "min_share" in params and not (
            isinstance(params["min_share"], (int, float))
            and not isinstance(params["min_share"], bool)
            and 0 <= params["min_share"] <= 1
        ):
            raise r.fail(f"{where}.params.min_share", "must be a share between 0 and 1")
        for key in (
            "hours",
            "margin_seconds",
            "min_officers",
            "tolerance_minutes",
            "period_days",
            "opened_tolerance_minutes",
            "photo_seconds",
            "grace_days",
        ):
            if key in params and (
                not isinstance(params[key], (int, float))
                or isinstance(params[key], bool)
                or params[key] < 0
            ):
                raise r.fail(f"{where}.params.{key}", "must be a number, 0 or more")
        bad_kinds = (
            sorted(set(params.get("kinds", ())) - AV_KINDS)
            if check != "approval_separation"
            else []
        )
        if bad_kinds:
            raise r.fail(f"{where}.params.kinds", f"unknown evidence kind {bad_kinds[0]!r}")
        rules.append(
            Rule(
                id=r.text(body, "id", where),
                article=r.integer(body, "article", where),
                severity=severity,
                check=check,
                message_zh=r.text(body, "message_zh", where),
                message_en=r.text(body, "message_en", where),
                when=r.selector(body, "when", CASE_WHEN_KEYS, where),
                match=r.selector(body, "match", RECORD_MATCH_KEYS, where),
                params=dict(params),
                pack=pack_id,
                stage=r.text(body, "stage", where) if "stage" in body else None,
            )
        )
    filed_at = head.get("filed_at")
    if filed_at is not None:
        if hasattr(filed_at, "isoformat"):  # a TOML date or datetime
            filed_at = filed_at.isoformat()
        if not isinstance(filed_at, str) or not filed_at:
            raise r.fail("[pack].filed_at", "must be a date (YYYY-MM-DD)")
    filing_no = head.get("filing_no")
    if filing_no is not None and (not isinstance(filing_no, str) or not filing_no):
        raise r.fail("[pack].filing_no", "must be a non-empty string")
    if (filed_at is None) != (filing_no is None):
        raise r.fail("[pack]", "filed_at and filing_no go together (Art. 25 备案)")
    return Pack(
        id=pack_id,
        title_zh=str(head.get("title_zh", pack_id)),
        title_en=str(head.get("title_en", pack_id)),
        path=str(path),
        extends=extends,
        agencies=agencies,
        stages=sections["stages"],
        service_methods=sections["service_methods"],
        execution_types=sections["execution_types"],
        doc_types=sections["doc_types"],
        approval_kinds=sections["approval_kinds"],
        requirements=tuple(requirements),
        rules=tuple(rules),
        filed_at=filed_at,
        filing_no=filing_no,
    )
