"""Who may do what: one permission check by role and agency that every route calls."""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import Forbidden

ROLES = ("station", "officer", "reviewer", "legal", "supervisor", "auditor", "admin")

# Actions a route asks about. Roles map to the actions they may take.
READ_EVIDENCE = "evidence.read"
UPLOAD = "evidence.upload"
UPLOAD_MANY = "evidence.upload_many"  # dock-scale uploads (stations)
MANAGE_USERS = "users.manage"
READ_LEDGER = "ledger.read"
READ_CASES = "cases.read"
WRITE_CASES = "cases.write"
REVIEW = "cases.review"
EXPORT = "exports.create"
VERIFY = "integrity.verify"
READ_METRICS = "metrics.read"
LEGAL_REVIEW = "cases.legal_review"  # 法制审核 (Art. 8, 15)
SUPERVISE = "supervision.read"  # Art. 5, 22: the Justice Bureau; an agency's legal office for its own
HOLD = "retention.hold"  # place or release a legal hold
DISPOSE = "retention.dispose"  # request or approve disposal after retention (two people)
SPOT_CHECK = "supervision.spot_check"  # Art. 22-23: draw and score 抽查, issue 责令限期整改
RECTIFY = "supervision.rectify"  # an agency answers a 责令限期整改 (its legal office)

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "station": frozenset({UPLOAD, UPLOAD_MANY}),
    "officer": frozenset({UPLOAD, READ_EVIDENCE, READ_CASES, WRITE_CASES}),
    # Reviewers and legal staff may upload one file at a time (a phone video handed in).
    "reviewer": frozenset({READ_EVIDENCE, READ_CASES, WRITE_CASES, REVIEW, EXPORT, HOLD, DISPOSE,
                           UPLOAD}),
    "legal": frozenset({READ_EVIDENCE, READ_CASES, WRITE_CASES, REVIEW, EXPORT, LEGAL_REVIEW,
                        SUPERVISE, HOLD, DISPOSE, RECTIFY, UPLOAD}),
    "supervisor": frozenset({READ_EVIDENCE, READ_CASES, READ_LEDGER, SUPERVISE, SPOT_CHECK}),
    "auditor": frozenset({READ_LEDGER, VERIFY, READ_METRICS}),
    "admin": frozenset({READ_EVIDENCE, READ_CASES, WRITE_CASES, REVIEW, EXPORT, MANAGE_USERS,
                        READ_LEDGER, VERIFY, READ_METRICS, UPLOAD, LEGAL_REVIEW, SUPERVISE,
                        HOLD, DISPOSE, SPOT_CHECK, RECTIFY}),
}
# The officer/device/station registry (issue 16): admins write; reviewers, legal and supervisors
# read; stations report their heartbeat.
READ_REGISTRY = "registry.read"
WRITE_REGISTRY = "registry.write"
HEARTBEAT = "stations.heartbeat"
for _role, _acts in {"reviewer": {READ_REGISTRY}, "legal": {READ_REGISTRY},
                     "supervisor": {READ_REGISTRY},
                     "admin": {READ_REGISTRY, WRITE_REGISTRY, HEARTBEAT},
                     "station": {HEARTBEAT}}.items():
    ROLE_ACTIONS[_role] = ROLE_ACTIONS[_role] | _acts
# Roles that see every agency (the Justice Bureau supervises all; auditors and admins run it).
CROSS_AGENCY = frozenset({"supervisor", "auditor", "admin"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    username: str
    role: str
    agency_id: int | None


def can(who: Principal, action: str, agency_id: int | None = None) -> bool:
    """True when the role allows the action and the resource's agency is visible to the caller."""
    if action not in ROLE_ACTIONS.get(who.role, frozenset()):
        return False
    if agency_id is None or who.role in CROSS_AGENCY:
        return True
    return who.agency_id == agency_id


def require(who: Principal, action: str, agency_id: int | None = None) -> None:
    """Raise Forbidden unless `can` allows it."""
    if not can(who, action, agency_id):
        what = f"{action} in agency {agency_id}" if agency_id is not None else action
        raise Forbidden(f"role {who.role!r} may not {what}", code="forbidden",
                        params={"role": who.role, "action": action})
