"""Who may do what: one permission check by role and agency that every route calls."""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import Forbidden, NotFound

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
SUPERVISE = (
    "supervision.read"  # Art. 5, 22: the Justice Bureau; an agency's legal office for its own
)
HOLD = "retention.hold"  # place or release a legal hold
DISPOSE = "retention.dispose"  # request or approve disposal after retention (two people)
SPOT_CHECK = "supervision.spot_check"  # Art. 22-23: draw and score 抽查, issue 责令限期整改
RECTIFY = "supervision.rectify"  # an agency answers a 责令限期整改 (its legal office)

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "station": frozenset({UPLOAD, UPLOAD_MANY}),
    "officer": frozenset({UPLOAD, READ_EVIDENCE, READ_CASES, WRITE_CASES}),
    # Reviewers and legal staff may upload one file at a time (a phone video handed in).
    "reviewer": frozenset(
        {READ_EVIDENCE, READ_CASES, WRITE_CASES, REVIEW, EXPORT, HOLD, DISPOSE, UPLOAD}
    ),
    "legal": frozenset(
        {
            READ_EVIDENCE,
            READ_CASES,
            WRITE_CASES,
            REVIEW,
            EXPORT,
            LEGAL_REVIEW,
            SUPERVISE,
            HOLD,
            DISPOSE,
            RECTIFY,
            UPLOAD,
        }
    ),
    "supervisor": frozenset({READ_EVIDENCE, READ_CASES, READ_LEDGER, SUPERVISE, SPOT_CHECK}),
    "auditor": frozenset({READ_LEDGER, VERIFY, READ_METRICS}),
    "admin": frozenset(
        {
            READ_EVIDENCE,
            READ_CASES,
            WRITE_CASES,
            REVIEW,
            EXPORT,
            MANAGE_USERS,
            READ_LEDGER,
            VERIFY,
            READ_METRICS,
            UPLOAD,
            LEGAL_REVIEW,
            SUPERVISE,
            HOLD,
            DISPOSE,
            SPOT_CHECK,
            RECTIFY,
        }
    ),
}
# The officer/device/station registry (issue 16): admins write; reviewers, legal and supervisors
# read; stations report their heartbeat.
READ_REGISTRY = "registry.read"
WRITE_REGISTRY = "registry.write"
HEARTBEAT = "stations.heartbeat"
for _role, _acts in {
    "reviewer": {READ_REGISTRY},
    "legal": {READ_REGISTRY},
    "supervisor": {READ_REGISTRY},
    "admin": {READ_REGISTRY, WRITE_REGISTRY, HEARTBEAT},
    "station": {HEARTBEAT},
}.items():
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


class Sealed(NotFound):
    """Another agency's object: answered exactly like a missing one (404 "not_found"), so
    neither its existence nor its owner leaks; the access ledger records it as a denial."""


def sees_all(who: Principal) -> bool:
    """Cross-agency roles see every agency, except a supervisor bound to one agency."""
    if who.role not in CROSS_AGENCY:
        return False
    return not (who.role == "supervisor" and who.agency_id is not None)


def sees(who: Principal, agency_id: int | None) -> bool:
    """True when an object of this agency is visible to the caller. An object of no agency
    (a legacy row) is visible only to the roles that see every agency."""
    if sees_all(who):
        return True
    return agency_id is not None and who.agency_id == agency_id


def can(who: Principal, action: str, agency_id: int | None = None) -> bool:
    """True when the role allows the action and the resource's agency is visible to the caller."""
    if action not in ROLE_ACTIONS.get(who.role, frozenset()):
        return False
    return agency_id is None or sees(who, agency_id)


def require(
    who: Principal, action: str, agency_id: int | None = None, *, what: str = "such object"
) -> None:
    """404 (Sealed) when the resource's agency is not visible to the caller, 403 when the role
    may not take the action."""
    if agency_id is not None and not sees(who, agency_id):
        raise Sealed(f"no {what}")
    if action not in ROLE_ACTIONS.get(who.role, frozenset()):
        raise Forbidden(
            f"role {who.role!r} may not {action}",
            code="forbidden",
            params={"role": who.role, "action": action},
        )


def require_seen(who: Principal, action: str, agency_id: int | None, what: str) -> None:
    """Like `require` for an object that was found: one of no agency counts as unseen too."""
    if not sees(who, agency_id):
        raise Sealed(f"no {what}")
    require(who, action)
