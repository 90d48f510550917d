"""Rule packs: the regulation's document types, requirements and rules as data (Art. 25).

A base pack (config/rules/lishui.toml) defines the five stages, the document types per stage, the
service methods and execution types, the approval kinds, the records required before archiving
and the rules the compliance engine checks. An agency pack in the same folder says
`extends = "<base id>"` and `agencies = ["CODE", ...]`; it may add document types,
requirements and rules (never remove or replace the city's). Every key is checked when the
pack loads: an unknown key or a dangling reference fails naming the file and the key.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from server.errors import SettingsError

SHIPPED_RULES_DIR = Path(__file__).resolve().parents[2] / "config" / "rules"
STAGES = ("initiation", "investigation", "decision", "service_execution", "archiving")
SEVERITIES = ("error", "warning", "info")
CASE_WHEN_KEYS = frozenset(
    {"enforcement_type", "procedure", "emergency_start", "major", "disputed", "stage"}
)
RECORD_MATCH_KEYS = frozenset(
    {
        "doc_type",
        "stage",
        "signature_status",
        "service_method",
        "execution_type",
        "party_rights",
        "has_field",
    }
)
# check kind -> (required params, optional params, uses `match`)
CHECKS: dict[str, tuple[frozenset[str], frozenset[str], bool]] = {
    "approval_deadline": (
        frozenset({"kind", "hours"}),
        frozenset({"opened_tolerance_minutes"}),
        False,
    ),
    "approval_fields": (frozenset({"kind", "fields"}), frozenset(), False),
    "approval_separation": (frozenset(), frozenset({"kinds"}), False),
    "case_clock": (frozenset({"tolerance_minutes"}), frozenset(), False),
    "complaint_notified": (frozenset({"notice_doc_types"}), frozenset(), False),
    "execution_prerequisites": (
        frozenset({"demand_doc_types", "approval_kind"}),
        frozenset({"period_days"}),
        True,
    ),
    "record_av_coverage": (
        frozenset({"kinds"}),
        frozenset({"margin_seconds", "time_field"}),
        True,
    ),
    "record_av_span": (
        frozenset({"kinds", "min_share"}),
        frozenset({"photo_seconds"}),
        True,
    ),
    "record_needs_record": (frozenset({"doc_types"}), frozenset(), True),
    "rectification_check": (
        frozenset({"deadline_field", "check_doc_types"}),
        frozenset({"grace_days"}),
        True,
    ),
    "record_fields": (frozenset({"fields"}), frozenset(), True),
    "record_officers": (
        frozenset({"min_officers"}),
        frozenset({"require_certificate", "require_shown"}),
        True,
    ),
    "record_present": (frozenset(), frozenset(), True),
    "case_av": (frozenset({"kinds"}), frozenset(), False),
    "required_records": (frozenset(), frozenset(), False),
}
AV_KINDS = frozenset({"video", "audio", "photo"})


@dataclass(frozen=True)
class Entry:
    """A labelled catalogue entry: stage, document type, service method, execution type,
    approval kind."""

    id: str
    label_zh: str
    label_en: str
    article: int | None = None
    stage: str | None = None
    party_rights: bool = False
    legal_only: bool = False
    pack: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False) or k == "id"}


@dataclass(frozen=True)
class Requirement:
    """Records a stage needs before the case may be archived."""

    id: str
    stage: str
    article: int
    any_of: tuple[str, ...]
    label_zh: str
    label_en: str
    when: Mapping[str, Any] = field(default_factory=dict)
    if_present: tuple[str, ...] = ()
    pack: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "article": self.article,
            "any_of": list(self.any_of),
            "if_present": list(self.if_present),
            "when": dict(self.when),
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "pack": self.pack,
        }


@dataclass(frozen=True)
class Rule:
    """One compliance rule: a check kind with its parameters, article and messages."""

    id: str
    article: int
    severity: str
    check: str
    message_zh: str
    message_en: str
    when: Mapping[str, Any] = field(default_factory=dict)
    match: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    pack: str = ""
    stage: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "article": self.article,
            "stage": self.stage,
            "severity": self.severity,
            "check": self.check,
            "when": dict(self.when),
            "match": dict(self.match),
            "params": dict(self.params),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "pack": self.pack,
        }


@dataclass(frozen=True)
class Pack:
    """A rule pack, or the effective pack of an agency (its base merged with its own)."""

    id: str
    title_zh: str
    title_en: str
    path: str
    extends: str | None
    agencies: tuple[str, ...]
    stages: Mapping[str, Entry]
    service_methods: Mapping[str, Entry]
    execution_types: Mapping[str, Entry]
    doc_types: Mapping[str, Entry]
    approval_kinds: Mapping[str, Entry]
    requirements: tuple[Requirement, ...]
    rules: tuple[Rule, ...]
    # Art. 25: when and under which number the pack was filed with the Justice Bureau (备案)
    filed_at: str | None = None
    filing_no: str | None = None

    def filing_json(self) -> dict[str, Any]:
        return {
            "pack": self.id,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "filed": bool(self.filed_at and self.filing_no),
            "filed_at": self.filed_at,
            "filing_no": self.filing_no,
        }

    def to_json(self) -> dict[str, Any]:
        """The pack as the API shows it (the web UI builds its forms from this)."""

        def entries(m: Mapping[str, Entry]) -> list[dict[str, Any]]:
            return [e.to_json() for e in m.values()]

        return {
            "id": self.id,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "filed_at": self.filed_at,
            "filing_no": self.filing_no,
            "stages": entries(self.stages),
            "service_methods": entries(self.service_methods),
            "execution_types": entries(self.execution_types),
            "doc_types": entries(self.doc_types),
            "approval_kinds": entries(self.approval_kinds),
            "requirements": [r.to_json() for r in self.requirements],
            "rules": [r.to_json() for r in self.rules],
        }


class PackError(SettingsError):
    """A rule pack that cannot be used; the message names the file and the key."""

    code = "bad_rule_pack"


# -- reading and validating ------------------------------------------------------------------
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


def merge(base: Pack, ext: Pack) -> Pack:
    """The effective pack of an agency: the base plus the agency's additions."""

    def add(kind: str, a: Mapping[str, Entry], b: Mapping[str, Entry]) -> dict[str, Entry]:
        clash = sorted(set(a) & set(b))
        if clash:
            raise PackError(
                f"rule pack {ext.path}: [{kind}.{clash[0]}] already exists in pack "
                f"{base.id!r}; an agency pack adds, it does not replace"
            )
        return {**a, **b}

    for kind, a_items, b_items in (
        ("requirements", base.requirements, ext.requirements),
        ("rules", base.rules, ext.rules),
    ):
        clash = sorted({x.id for x in a_items} & {x.id for x in b_items})
        if clash:
            raise PackError(
                f"rule pack {ext.path}: [[{kind}]] {clash[0]!r} already exists in pack "
                f"{base.id!r}; an agency pack adds, it does not replace"
            )
    return replace(
        base,
        id=f"{base.id}+{ext.id}",
        path=ext.path,
        extends=base.id,
        agencies=ext.agencies,
        service_methods=add("service_methods", base.service_methods, ext.service_methods),
        execution_types=add("execution_types", base.execution_types, ext.execution_types),
        doc_types=add("doc_types", base.doc_types, ext.doc_types),
        approval_kinds=add("approval_kinds", base.approval_kinds, ext.approval_kinds),
        requirements=base.requirements + ext.requirements,
        rules=base.rules + ext.rules,
        title_zh=ext.title_zh,
        title_en=ext.title_en,
        filed_at=ext.filed_at,
        filing_no=ext.filing_no,
    )


def check_references(pack: Pack) -> None:
    """Every stage, document type, method and kind a pack names must exist."""

    def fail(where: str, message: str) -> PackError:
        return PackError(f"rule pack {pack.path}: {where}: {message}")

    if tuple(pack.stages) != STAGES:
        raise fail(
            "[stages]",
            f"must define exactly the five stages of Art. 3 in order: {', '.join(STAGES)}",
        )
    for section in ("doc_types", "approval_kinds"):
        for e in getattr(pack, section).values():
            if e.stage not in STAGES:
                raise fail(f"[{section}.{e.id}].stage", f"unknown stage {e.stage!r}")
    enums = {
        "doc_type": pack.doc_types,
        "stage": pack.stages,
        "service_method": pack.service_methods,
        "execution_type": pack.execution_types,
    }
    case_enums: dict[str, Any] = {"stage": pack.stages}

    def check_selector(sel: Mapping[str, Any], where: str, known: Mapping[str, Any]) -> None:
        for key, value in sel.items():
            if key in known:
                for v in value if isinstance(value, list) else [value]:
                    if v not in known[key]:
                        raise fail(f"{where}.{key}", f"unknown {key} {v!r}")

    for req in pack.requirements:
        where = f"[[requirements]] {req.id!r}"
        if req.stage not in STAGES:
            raise fail(f"{where}.stage", f"unknown stage {req.stage!r}")
        for ref in (*req.any_of, *req.if_present):
            if ref.startswith("approval:"):
                if ref.removeprefix("approval:") not in pack.approval_kinds:
                    raise fail(f"{where}.any_of", f"unknown approval kind {ref!r}")
            elif ref not in pack.doc_types:
                raise fail(f"{where}", f"unknown document type {ref!r}")
        check_selector(req.when, f"{where}.when", case_enums)
    for rule in pack.rules:
        where = f"[[rules]] {rule.id!r}"
        check_selector(rule.match, f"{where}.match", enums)
        check_selector(rule.when, f"{where}.when", case_enums)
        if rule.stage is not None and rule.stage not in STAGES:
            raise fail(f"{where}.stage", f"unknown stage {rule.stage!r}")
        for key in ("kind", "approval_kind"):
            kind = rule.params.get(key)
            if kind is not None and kind not in pack.approval_kinds:
                raise fail(f"{where}.params.{key}", f"unknown approval kind {kind!r}")
        for key in ("notice_doc_types", "demand_doc_types", "doc_types", "check_doc_types"):
            for d in rule.params.get(key, ()):
                if d not in pack.doc_types:
                    raise fail(f"{where}.params.{key}", f"unknown document type {d!r}")


@dataclass(frozen=True)
class RuleBook:
    """The base pack and the agency packs that extend it, merged per agency."""

    base: Pack
    by_agency: Mapping[str, Pack]

    def for_agency(self, code: str | None) -> Pack:
        """The pack a case of this agency is checked against."""
        return self.by_agency.get(code or "", self.base)

    def packs(self) -> list[Pack]:
        """The base pack and each distinct agency pack."""
        seen: dict[str, Pack] = {self.base.id: self.base}
        for p in self.by_agency.values():
            seen.setdefault(p.id, p)
        return list(seen.values())

    def rule_ids(self) -> list[str]:
        seen: dict[str, None] = {r.id: None for r in self.base.rules}
        for p in self.by_agency.values():
            seen.update({r.id: None for r in p.rules})
        return list(seen)


def load_rulebook(rules_dir: str | Path, base_id: str) -> RuleBook:
    """Read every pack in the folder, check them all, and merge agency packs onto the base."""
    folder = Path(rules_dir) if rules_dir else SHIPPED_RULES_DIR
    if not folder.is_dir():
        raise PackError(f"rule pack folder {folder} does not exist")
    packs = [read_pack(p) for p in sorted(folder.glob("*.toml"))]
    by_id: dict[str, Pack] = {}
    for p in packs:
        if p.id in by_id:
            raise PackError(
                f"rule pack {p.path}: [pack].id {p.id!r} is also used by {by_id[p.id].path}"
            )
        by_id[p.id] = p
    base = by_id.get(base_id)
    if base is None or base.extends:
        raise PackError(
            f"rule pack folder {folder}: no base pack with [pack].id = {base_id!r} "
            "(setting 'rule_pack')"
        )
    for p in packs:
        if not p.extends:
            check_references(p)
    by_agency: dict[str, Pack] = {}
    for p in packs:
        if not p.extends:
            continue
        parent = by_id.get(p.extends)
        if parent is None or parent.extends:
            raise PackError(
                f"rule pack {p.path}: [pack].extends: no base pack {p.extends!r} in {folder}"
            )
        merged = merge(parent, p)
        check_references(merged)
        if parent.id != base.id:
            continue
        for code in p.agencies:
            if code in by_agency:
                raise PackError(
                    f"rule pack {p.path}: [pack].agencies: agency {code!r} already "
                    f"has pack {by_agency[code].path}"
                )
            by_agency[code] = merged
    return RuleBook(base=base, by_agency=by_agency)


@functools.lru_cache(maxsize=16)
def _cached(folder: str, base_id: str, _stamp: tuple[tuple[str, float], ...]) -> RuleBook:
    return load_rulebook(folder, base_id)


def rulebook(rules_dir: str, base_id: str) -> RuleBook:
    """The rule book for these settings, re-read only when a pack file changes."""
    folder = Path(rules_dir) if rules_dir else SHIPPED_RULES_DIR
    stamp = (
        tuple((str(p), p.stat().st_mtime) for p in sorted(folder.glob("*.toml")))
        if folder.is_dir()
        else ()
    )
    return _cached(str(folder), base_id, stamp)
