"""Finding a case the caller may see (by id or number), the rule pack it is checked against,
and the officers its records name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.cases.inputs import field_flag, field_text
from server.cases.rulebook import rulebook
from server.cases.rulepack import Pack
from server.catalogue.models import Agency, Case, Officer
from server.http.access import READ_CASES, Principal, Sealed, require_seen, sees
from server.http.errors import BadRequest, Conflict, NotFound
from server.settings import Settings


def pack_for(s: Session, settings: Settings, agency_id: int | None) -> Pack:
    """The rule pack a case of this agency is checked against (Art. 25)."""
    agency = s.get(Agency, agency_id) if agency_id is not None else None
    return rulebook(settings.rules_dir, settings.rule_pack).for_agency(
        agency.code if agency else None
    )


def resolve_officer(s: Session, agency_id: int, ref: Any) -> Officer | None:
    """An officer of the agency by id, code (camera naming id) or certificate number."""
    if isinstance(ref, bool) or ref is None or ref == "":
        return None
    q = select(Officer).where(Officer.agency_id == agency_id)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = s.scalar(q.where(Officer.id == int(ref)))
        if found is not None:
            return found
    if isinstance(ref, str):
        return s.scalar(q.where(or_(Officer.code == ref, Officer.certificate_no == ref)))
    return None


def officer_entry(s: Session, agency_id: int, raw: Any, *, with_shown: bool) -> dict[str, Any]:
    """{officer_id, code, name, certificate_no[, shown]} from an id, code, certificate number or
    an object naming one (an officer unknown to the catalogue may be given by name + number)."""
    body = raw if isinstance(raw, dict) else {"officer": raw}
    ref = body.get("officer", body.get("officer_id", body.get("id", body.get("code"))))
    officer = resolve_officer(s, agency_id, ref)
    if officer is None and ref not in (None, ""):
        officer = resolve_officer(s, agency_id, body.get("certificate_no"))
        if officer is None and not (body.get("name") and body.get("certificate_no")):
            raise BadRequest(f"no officer {ref!r} in this agency", code="bad_officer")
    entry: dict[str, Any] = {
        "officer_id": officer.id if officer else None,
        "code": officer.code if officer else None,
        "name": officer.name if officer else field_text(body, "name", 200, required=True),
        "certificate_no": (
            officer.certificate_no
            if officer and officer.certificate_no
            else field_text(body, "certificate_no", 100)
        ),
    }
    if with_shown:
        entry["shown"] = field_flag(body, "shown", False)
    return entry


def get_case(s: Session, ref: str, who: Principal, action: str = READ_CASES) -> Case:
    """A case by id or by case number; 404 when absent or another agency's (the same answer),
    403 when the caller's role may not."""
    if not isinstance(ref, str) or not ref or len(ref) > 100:
        raise NotFound(f"no case {ref!r}")
    case = s.get(Case, ref)
    if case is None:
        # By number: only among the agencies the caller sees (numbers are unique per agency).
        numbered = list(s.scalars(select(Case).where(Case.number == ref)))
        found = [c for c in numbered if sees(who, c.agency_id)]
        if numbered and not found:
            raise Sealed(f"no case {ref!r}")  # the same answer as an absent one, ledgered
        if len(found) > 1:
            mine = [c for c in found if c.agency_id == who.agency_id]
            if len(mine) == 1:
                found = mine
            else:
                raise Conflict(
                    f"case number {ref!r} is used by several agencies; use the case id",
                    code="ambiguous_case",
                )
        case = found[0] if found else None
    if case is None:
        raise NotFound(f"no case {ref!r}")
    require_seen(who, action, case.agency_id, f"case {ref!r}")
    return case


def ensure_writable(case: Case) -> None:
    if case.status == "archived":
        raise Conflict(f"case {case.number} is archived; its file is closed", code="archived")
