"""The full integrity check of a Custodian installation, and the scheduled fixity scrub.

Read-only: it re-hashes every stored object against the catalogue, checks every manifest
version (signature, version chain, original matches the catalogue), recomputes the custody
ledger's hash chain and every signed tree head's root, and checks RFC 3161 tokens when roots
are configured. It collects every problem and never stops at the first; it never rewrites
anything. The caller records the result as a ledger entry (`record_result`).

The steps live in the modules of this package (objects, manifests, ledger), the report in
`report`, the run in `run`, the scheduled scrub in `scrub`; their names are re-exported here."""

from __future__ import annotations

from integrity.errors import CHECKSUM_MISMATCH
from server.custody.verification.ledger import (
    LEDGER_MISSING,
    check_key_windows,
    check_ledger,
    check_rows_have_entries,
    check_witness,
)
from server.custody.verification.manifests import check_manifests
from server.custody.verification.objects import check_objects
from server.custody.verification.report import (
    CATALOGUE_MISMATCH,
    RECORDED_PROBLEMS_MAX,
    Cancelled,
    ProgressFn,
    Report,
    Throttle,
    load_tsa_roots,
    problem_lines,
    report_json,
)
from server.custody.verification.run import record_result, verify_all
from server.custody.verification.scrub import SCRUB_LOCK, ScrubMetrics, run_scrub

__all__ = [
    "CATALOGUE_MISMATCH",
    "CHECKSUM_MISMATCH",
    "LEDGER_MISSING",
    "RECORDED_PROBLEMS_MAX",
    "SCRUB_LOCK",
    "Cancelled",
    "ProgressFn",
    "Report",
    "ScrubMetrics",
    "Throttle",
    "check_key_windows",
    "check_ledger",
    "check_manifests",
    "check_objects",
    "check_rows_have_entries",
    "check_witness",
    "load_tsa_roots",
    "problem_lines",
    "record_result",
    "report_json",
    "run_scrub",
    "verify_all",
]
