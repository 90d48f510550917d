"""The rule book: every pack of the rules folder read and checked, agency packs merged onto the
base (adding, never replacing), cached until a pack file changes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from server.cases.rulepack import SHIPPED_RULES_DIR, STAGES, Entry, Pack, PackError
from server.cases.rulepack_reader import read_pack


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
