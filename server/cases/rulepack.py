"""Rule packs: the regulation's document types, requirements and rules as data (Art. 25).

A base pack (config/rules/lishui.toml) defines the five stages, the document types per stage, the
service methods and execution types, the approval kinds, the records required before archiving
and the rules the compliance engine checks. An agency pack in the same folder says
`extends = "<base id>"` and `agencies = ["CODE", ...]`; it may add document types,
requirements and rules (never remove or replace the city's). Every key is checked when the
pack loads: an unknown key or a dangling reference fails naming the file and the key.

This module says what a pack is; rulepack_reader.py reads and checks one file, rulebook.py
merges the packs of a folder per agency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.http.errors import SettingsError

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
