"""Verification steps: the custody ledger's hash chain, every signed tree head, the signing
keys' validity windows, catalogue rows that must have ledger entries, and the witness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity import tsa
from integrity.canonical import loads
from integrity.errors import (
    DETAILS_MISMATCH,
    Problem,
)
from integrity.ledger import LedgerEntry, check_chain, check_tree_heads
from server.catalogue.db import Database
from server.catalogue.models import TreeHeadRow
from server.custody.ledger import iter_rows, row_entry
from server.custody.treeheads import head_of
from server.custody.verification.report import (
    ProgressFn,
    Report,
)


def _ledger_data(
    s: Session,
) -> tuple[list[LedgerEntry], dict[int, Any], list[Problem], list[TreeHeadRow]]:  # noqa: D103
    entries: list[LedgerEntry] = []
    details: dict[int, Any] = {}
    bad: list[Problem] = []
    for row in iter_rows(s):
        entries.append(row_entry(row))
        try:
            details[row.seq] = loads(row.details.encode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            where = f"ledger entry {row.seq}"
            bad.append(
                Problem(DETAILS_MISMATCH, where, f"{where}: details are not valid JSON ({exc})")
            )
    heads = list(s.scalars(select(TreeHeadRow).order_by(TreeHeadRow.size, TreeHeadRow.id)))
    s.expunge_all()
    return entries, details, bad, heads


def check_ledger(
    db: Database,
    report: Report,
    public_keys: Mapping[str, Any],
    *,
    tsa_roots: bytes | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Recompute the hash chain (with every entry's details) and every signed tree head."""
    entries, details, bad, heads = db.call(_ledger_data)
    report.entries = len(entries)
    report.tree_heads = len(heads)
    report.problems.extend(bad)
    report.problems.extend(check_chain(entries, details))
    if progress is not None:
        progress("ledger", len(entries), len(entries))
    report.problems.extend(check_tree_heads(entries, [head_of(h) for h in heads], public_keys))
    # Each head against the window of the key that signed it (key rotation).
    report.problems.extend(db.call(check_key_windows, heads))
    # The tail: rows of the catalogue whose ledger entries are gone, and heads witnessed
    # outside the catalogue that it no longer holds.
    report.problems.extend(db.call(check_rows_have_entries, details, entries))
    report.problems.extend(check_witness(db, heads, entries))
    for row in heads:
        if not row.tsa_token:
            continue
        if tsa_roots is None:
            report.tokens_unchecked += 1
            continue
        report.tokens_checked += 1
        head = head_of(row)
        _, found = tsa.check_token(
            row.tsa_token, head.signing_bytes(), tsa_roots, where=f"{head.label()}: RFC 3161 token"
        )
        report.problems.extend(found)
    if progress is not None:
        progress("tree heads", len(heads), len(heads))


def check_key_windows(s: Session, heads: list[TreeHeadRow]) -> list[Problem]:
    """Every head signed by a recorded key must fall inside that key's validity window."""
    from integrity.errors import SIGNATURE_INVALID
    from integrity.timefmt import parse_rfc3339
    from server.catalogue.models import SigningKeyRow

    keys = {r.key_id: r for r in s.scalars(select(SigningKeyRow))}
    out: list[Problem] = []
    for head in heads:
        row = keys.get(head.key_id)
        if row is None:
            continue
        when = parse_rfc3339(head.time)
        start = parse_rfc3339(row.valid_from) if row.valid_from else None
        end = parse_rfc3339(row.valid_to) if row.valid_to else None
        if (start and when < start) or (end and when > end):
            where = head_of(head).label()
            out.append(
                Problem(
                    SIGNATURE_INVALID,
                    where,
                    (
                        f"{where}: signed by key {head.key_id}, valid only from "
                        f"{row.valid_from or 'the start'} to {row.valid_to or 'now'} (a retired key "
                        "signed after its rotation?)"
                    ),
                )
            )
    return out


# Catalogue rows that are acts and must each have their ledger entry: (label, model, id
# column, ledger action, details key naming the row, extra filter).
LEDGER_MISSING = "ledger_entry_missing"


def _row_rules() -> list[tuple[str, Any, Any, str, str | None, Any]]:
    from integrity import ledger as L
    from server.catalogue import models as M

    return [
        ("evidence item", M.EvidenceItem, M.EvidenceItem.id, L.INGEST, None, None),
        ("case", M.Case, M.Case.id, L.CASE_CHANGE, "opened", None),
        ("case record", M.CaseRecord, M.CaseRecord.id, L.RECORD, "record", None),
        ("case link", M.CaseLink, M.CaseLink.id, L.LINK, "link", None),
        ("approval", M.CaseApproval, M.CaseApproval.id, L.APPROVAL, "approval", None),
        ("complaint", M.CaseComplaint, M.CaseComplaint.id, L.COMPLAINT, "complaint", None),
        ("export", M.Export, M.Export.id, L.EXPORT, "export_id", M.Export.ledger_seq.is_not(None)),
        ("bookmark", M.Bookmark, M.Bookmark.id, L.ANNOTATION, "bookmark_id", None),
        ("basket clip", M.BasketClip, M.BasketClip.id, L.ANNOTATION, "clip_id", None),
        (
            "disposal request",
            M.DisposalRequest,
            M.DisposalRequest.id,
            L.DISPOSAL_REQUEST,
            "request",
            None,
        ),
        (
            "disposal approval",
            M.DisposalRequest,
            M.DisposalRequest.id,
            L.DISPOSAL_APPROVAL,
            "request",
            M.DisposalRequest.state == "approved",
        ),
    ]


def check_rows_have_entries(
    s: Session, details: dict[int, Any], entries: list[LedgerEntry]
) -> list[Problem]:
    """Every catalogue row that records an act has its ledger entry; a missing one means the
    entry (or the ledger's unsigned tail) was deleted while the row stayed."""
    found: set[tuple[str, str]] = set()
    for e in entries:
        d = details.get(e.seq)
        if e.action == "ingest" and e.subject.startswith("evidence:"):
            found.add(("ingest", e.subject.removeprefix("evidence:")))
        if not isinstance(d, dict):
            continue
        if e.action == "case_change" and d.get("event") == "opened":
            found.add(("case_change:opened", e.subject.removeprefix("case:")))
        for key in (
            "record",
            "link",
            "approval",
            "complaint",
            "export_id",
            "bookmark_id",
            "clip_id",
            "request",
        ):
            if key in d and d[key] is not None:
                found.add((f"{e.action}:{key}", str(d[key])))
    last = entries[-1].seq if entries else 0
    out: list[Problem] = []
    for label, _model, column, action, key, extra in _row_rules():
        q = select(column)
        if extra is not None:
            q = q.where(extra)
        for (row_id,) in s.execute(q):
            if key is None:
                want = (action, str(row_id))
            elif key == "opened":
                want = ("case_change:opened", str(row_id))
            else:
                want = (f"{action}:{key}", str(row_id))
            if want not in found:
                where = f"{label} {row_id}"
                out.append(
                    Problem(
                        LEDGER_MISSING,
                        where,
                        (
                            f"{where}: exists in the catalogue but the custody ledger has no "
                            f"'{action}' entry for it (the ledger ends at entry {last}: its entry, or "
                            "the ledger's tail, was deleted)"
                        ),
                    )
                )
    return out


def check_witness(
    db: Database, heads: list[TreeHeadRow], entries: list[LedgerEntry]
) -> list[Problem]:
    """Heads published to the witness file must still be in the catalogue (a rollback of the
    catalogue, ledger and heads together shows here)."""
    from server.custody.treeheads import read_witness

    witnessed = read_witness(db.settings) if hasattr(db, "settings") else []
    have = {(h.size, h.root) for h in heads}
    out: list[Problem] = []
    for w in witnessed:
        if (w.get("size"), w.get("root")) not in have:
            where = f"witnessed tree head of size {w.get('size')} at {w.get('time')}"
            out.append(
                Problem(
                    "tree_head_mismatch",
                    where,
                    (
                        f"{where}: published to the witness but missing from the catalogue, which "
                        f"holds {len(entries)} ledger entries (ledger rolled back?)"
                    ),
                )
            )
    return out
