"""抽查 / 案卷评查 (Art. 22-23): a supervisor draws a seeded, reproducible random sample of an
agency's archived cases, scores each against a checklist derived from the rule pack, records the
problems, and issues a 责令限期整改 with a deadline; the agency answers with its rectification.
Every step is ledgered in the same transaction as the act."""

from __future__ import annotations

import hashlib
import random
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.ledger import RECTIFICATION, SPOT_CHECK
from server.cases import compliance
from server.cases.compliance_facts import CaseFacts
from server.cases.compliance_reading import (
    approved,
    case_matches,
    missing_records,
    record_matches,
    requirement_applies,
    stages_left,
)
from server.cases.facts import case_facts
from server.cases.inputs import parse_time
from server.cases.lookups import pack_for
from server.cases.rulepack import CHECKS, Pack
from server.catalogue.models import (
    Agency,
    Case,
    RectificationOrder,
    SpotCheck,
    SpotCheckCase,
    utcnow,
)
from server.custody.ledger import actor_of, append
from server.fields import text_field
from server.http import messages
from server.http.access import RECTIFY, SUPERVISE, Principal, require, sees_all
from server.http.access import SPOT_CHECK as MAY_SPOT_CHECK
from server.http.errors import BadRequest, Conflict, NotFound
from server.isotime import iso
from server.settings import Settings

# Words for people (server/messages.py renders error codes per language).
messages.register(
    {
        "empty": {
            "zh-CN": "该单位在此期间没有已归档的案卷可供抽查",
            "en": "The agency has no archived case in that period to sample",
        },
        "no_problems": {
            "zh-CN": "已评分的案卷中没有发现问题，无需下达整改通知",
            "en": "No scored case has problems to order rectified",
        },
    }
)
messages.ACTION_NAMES.setdefault(MAY_SPOT_CHECK, ("进行抽查和下达整改通知", "run spot checks"))
messages.ACTION_NAMES.setdefault(RECTIFY, ("报送整改情况", "answer rectification orders"))

MAX_SAMPLE = 200
RESULTS = ("pass", "fail", "na")
MAX_NOTE = 2000
MAX_PROBLEMS = 100


# -- the checklist -----------------------------------------------------------------------------
def checklist(pack: Pack) -> list[dict[str, Any]]:
    """One item per rule (bar the umbrella 'required records' rule) and per required record."""
    items = [
        {
            "id": f"rule:{r.id}",
            "article": r.article,
            "label_zh": r.message_zh,
            "label_en": r.message_en,
        }
        for r in pack.rules
        if r.check != "required_records"
    ]
    items += [
        {
            "id": f"req:{q.id}",
            "article": q.article,
            "label_zh": f"应有{q.label_zh}",
            "label_en": f"Has: {q.label_en}",
        }
        for q in pack.requirements
    ]
    return sorted(items, key=lambda i: (i["article"], i["id"]))


def _applies(rule: Any, facts: CaseFacts, pack: Pack) -> bool:
    """Whether the case has anything the rule looks at (a record it matches, an approval of
    its kind, a complaint)."""
    if CHECKS[rule.check][2]:  # a record rule: only when a record matches
        return any(record_matches(rule.match, rec, pack) for rec in facts.records)
    if rule.check in ("approval_fields", "approval_separation"):
        kinds = [rule.params["kind"]] if "kind" in rule.params else rule.params.get("kinds")
        return any(not kinds or a.kind in kinds for a in approved(facts))
    if rule.check == "complaint_notified":
        return bool(facts.complaints)
    return True


def suggested(pack: Pack, facts: CaseFacts, now: datetime) -> dict[str, str]:
    """What the rule engine finds, item by item: pass, fail, or na (the item does not apply)."""
    found = compliance.evaluate(pack, facts, now, archiving=facts.stage == "archiving")
    failed = {f["rule"] for f in found}
    out: dict[str, str] = {}
    for r in pack.rules:
        if r.check == "required_records":
            continue
        if not case_matches(r.when, facts) or not _applies(r, facts, pack):
            out[f"rule:{r.id}"] = "na"
        else:
            out[f"rule:{r.id}"] = "fail" if r.id in failed else "pass"
    stages = stages_left(facts, archiving=facts.stage == "archiving")
    missing = {m["requirement"] for m in missing_records(pack, facts, stages)}
    for q in pack.requirements:
        if not requirement_applies(q, facts):
            out[f"req:{q.id}"] = "na"
        else:
            out[f"req:{q.id}"] = "fail" if q.id in missing else "pass"
    return out


def score_of(results: dict[str, str]) -> int | None:
    passed = sum(1 for v in results.values() if v == "pass")
    failed = sum(1 for v in results.values() if v == "fail")
    return round(100 * passed / (passed + failed)) if passed + failed else None


# -- helpers -----------------------------------------------------------------------------------
def _agency(s: Session, code: Any) -> Agency:
    if not isinstance(code, str) or not code:
        raise BadRequest("field 'agency' (an agency code) is required", code="bad_field")
    a = s.scalar(select(Agency).where(Agency.code == code))
    if a is None:
        raise BadRequest(f"no agency {code!r}", code="bad_agency")
    return a


def _visible(who: Principal, agency_id: int) -> bool:
    return sees_all(who) or who.agency_id == agency_id


def _get(s: Session, who: Principal, spot_id: str) -> SpotCheck:
    require(who, SUPERVISE)
    sc = s.get(SpotCheck, spot_id)
    if sc is None or not _visible(who, sc.agency_id):
        raise NotFound(f"no spot check {spot_id}")
    return sc


def population(
    s: Session, agency_id: int, start: datetime | None, end: datetime | None
) -> list[Case]:
    """The archived cases of the agency archived in [start, end), in a stable order."""
    q = select(Case).where(Case.agency_id == agency_id, Case.status == "archived")
    if start:
        q = q.where(Case.archived_at >= start)
    if end:
        q = q.where(Case.archived_at < end)
    return list(s.scalars(q.order_by(Case.number, Case.id)))


def draw_sample(cases: list[Case], seed: str, size: int) -> list[Case]:
    """The same seed over the same population draws the same cases, in the same order."""
    return random.Random(seed).sample(cases, min(size, len(cases)))


def _order_json(o: RectificationOrder, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": o.id,
        "spot_check_id": o.spot_check_id,
        "agency_id": o.agency_id,
        "case_ids": o.case_ids,
        "problems": o.problems,
        "requirement": o.requirement,
        "deadline": iso(o.deadline),
        "status": o.status,
        "overdue": o.status == "open" and o.deadline < now,
        "issued_by": o.issued_by,
        "issued_at": iso(o.issued_at),
        "response": o.response,
        "response_by": o.response_by,
        "response_at": iso(o.response_at),
    }


def spot_check_json(s: Session, sc: SpotCheck, settings: Settings) -> dict[str, Any]:
    agency = s.get(Agency, sc.agency_id)
    pack = pack_for(s, settings, sc.agency_id)
    now = utcnow()
    rows = list(
        s.scalars(
            select(SpotCheckCase)
            .where(SpotCheckCase.spot_check_id == sc.id)
            .order_by(SpotCheckCase.position)
        )
    )
    cases = []
    for row in rows:
        case = s.get(Case, row.case_id)
        assert case is not None
        cases.append(
            {
                "case_id": case.id,
                "number": case.number,
                "title": case.title,
                "position": row.position,
                "suggested": suggested(pack, case_facts(s, case), now),
                "results": row.results,
                "problems": row.problems,
                "score": row.score,
                "scored_by": row.scored_by,
                "scored_at": iso(row.scored_at),
            }
        )
    orders = s.scalars(
        select(RectificationOrder)
        .where(RectificationOrder.spot_check_id == sc.id)
        .order_by(RectificationOrder.issued_at)
    )
    return {
        "id": sc.id,
        "agency": agency.code if agency else None,
        "agency_name": agency.name if agency else None,
        "from": iso(sc.period_from),
        "to": iso(sc.period_to),
        "seed": sc.seed,
        "sample_size": sc.sample_size,
        "population": sc.population,
        "population_sha256": sc.population_sha256,
        "pack": sc.pack,
        "checklist": sc.checklist,
        "note": sc.note,
        "created_by": sc.created_by,
        "created_at": iso(sc.created_at),
        "cases": cases,
        "orders": [_order_json(o, now) for o in orders],
    }


# -- the acts ----------------------------------------------------------------------------------
def draw(s: Session, who: Principal, settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    """Draw the sample; the seed (given or generated) and the population's hash are ledgered."""
    require(who, MAY_SPOT_CHECK)
    agency = _agency(s, data.get("agency"))
    start = parse_time(data["from"], "from") if data.get("from") else None
    end = parse_time(data["to"], "to") if data.get("to") else None
    if start and end and end <= start:
        raise BadRequest("'to' must be after 'from'", code="bad_time")
    size = data.get("size", 5)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SAMPLE:
        raise BadRequest(f"field 'size' must be a whole number 1-{MAX_SAMPLE}", code="bad_field")
    seed = text_field(data, "seed", 64) or secrets.token_hex(8)
    pop = population(s, agency.id, start, end)
    if not pop:
        raise Conflict("no archived case of the agency in that period to sample", code="empty")
    pop_hash = hashlib.sha256("\n".join(c.id for c in pop).encode()).hexdigest()
    sample = draw_sample(pop, seed, size)
    pack = pack_for(s, settings, agency.id)
    sc = SpotCheck(
        agency_id=agency.id,
        period_from=start,
        period_to=end,
        seed=seed,
        sample_size=len(sample),
        population=len(pop),
        population_sha256=pop_hash,
        pack=pack.id,
        checklist=checklist(pack),
        note=text_field(data, "note", MAX_NOTE),
        created_by=who.user_id,
        created_at=utcnow(),
    )
    s.add(sc)
    s.flush()
    for i, case in enumerate(sample):
        s.add(SpotCheckCase(spot_check_id=sc.id, case_id=case.id, position=i))
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=SPOT_CHECK,
        subject=f"spot_check:{sc.id}",
        details={
            "event": "drawn",
            "agency": agency.code,
            "from": iso(start),
            "to": iso(end),
            "seed": seed,
            "size": size,
            "population": len(pop),
            "population_sha256": pop_hash,
            "cases": [c.id for c in sample],
            "numbers": [c.number for c in sample],
            "pack": pack.id,
        },
    )
    return spot_check_json(s, sc, settings)


def get(s: Session, who: Principal, settings: Settings, spot_id: str) -> dict[str, Any]:
    return spot_check_json(s, _get(s, who, spot_id), settings)


def list_checks(s: Session, who: Principal, agency_code: str | None) -> dict[str, Any]:
    require(who, SUPERVISE)
    q = select(SpotCheck, Agency).join(Agency, Agency.id == SpotCheck.agency_id)
    if not sees_all(who):
        q = q.where(SpotCheck.agency_id == who.agency_id)
    if agency_code:
        q = q.where(Agency.code == agency_code)
    items = []
    for sc, agency in s.execute(q.order_by(SpotCheck.created_at.desc()).limit(200)):
        scores = [
            r.score
            for r in s.scalars(select(SpotCheckCase).where(SpotCheckCase.spot_check_id == sc.id))
        ]
        done = [x for x in scores if x is not None]
        items.append(
            {
                "id": sc.id,
                "agency": agency.code,
                "agency_name": agency.name,
                "from": iso(sc.period_from),
                "to": iso(sc.period_to),
                "seed": sc.seed,
                "sample_size": sc.sample_size,
                "population": sc.population,
                "scored": len(done),
                "mean_score": round(sum(done) / len(done), 1) if done else None,
                "created_at": iso(sc.created_at),
            }
        )
    return {"items": items}


def score(
    s: Session,
    who: Principal,
    settings: Settings,
    spot_id: str,
    case_ref: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Score one sampled case: results per checklist item (missing ones take the engine's
    suggestion) and the problems found, each with its note."""
    require(who, MAY_SPOT_CHECK)
    sc = _get(s, who, spot_id)
    row = s.scalar(
        select(SpotCheckCase)
        .join(Case, Case.id == SpotCheckCase.case_id)
        .where(
            SpotCheckCase.spot_check_id == sc.id,
            (Case.id == case_ref) | (Case.number == case_ref),
        )
    )
    if row is None:
        raise NotFound(f"case {case_ref} is not in spot check {sc.id}")
    case = s.get(Case, row.case_id)
    assert case is not None
    items = {i["id"] for i in sc.checklist}
    raw = data.get("results", {})
    if not isinstance(raw, dict):
        raise BadRequest(
            "field 'results' must map checklist items to pass/fail/na", code="bad_field"
        )
    for k, v in raw.items():
        if k not in items:
            raise BadRequest(f"results: no checklist item {k!r}", code="bad_field")
        if v not in RESULTS:
            raise BadRequest(f"results.{k}: must be one of pass, fail, na", code="bad_field")
    pack = pack_for(s, settings, sc.agency_id)
    results = {**suggested(pack, case_facts(s, case), utcnow()), **raw}
    results = {k: v for k, v in results.items() if k in items}
    problems_in = data.get("problems", [])
    if not isinstance(problems_in, list) or len(problems_in) > MAX_PROBLEMS:
        raise BadRequest(
            f"field 'problems' must be a list of at most {MAX_PROBLEMS}", code="bad_field"
        )
    problems = []
    for i, p in enumerate(problems_in):
        if not isinstance(p, dict):
            raise BadRequest(f"problems[{i}] must be an object with a note", code="bad_field")
        item = p.get("item")
        if item is not None and item not in items:
            raise BadRequest(f"problems[{i}].item: no checklist item {item!r}", code="bad_field")
        note = text_field(p, "note", MAX_NOTE, required=True)
        art = next((c["article"] for c in sc.checklist if c["id"] == item), None)
        problems.append({"item": item, "article": art, "note": note})
    for k, v in results.items():  # every failed item is a problem, noted or not
        if v == "fail" and not any(p["item"] == k for p in problems):
            spec = next(c for c in sc.checklist if c["id"] == k)
            problems.append({"item": k, "article": spec["article"], "note": spec["label_zh"]})
    now = utcnow()
    row.results, row.problems, row.score = results, problems, score_of(results)
    row.scored_by, row.scored_at = who.user_id, now
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=SPOT_CHECK,
        subject=f"spot_check:{sc.id}",
        details={
            "event": "scored",
            "case": case.id,
            "number": case.number,
            "score": row.score,
            "failed": sorted(k for k, v in results.items() if v == "fail"),
            "problems": len(problems),
        },
    )
    return spot_check_json(s, sc, settings)


def issue_order(
    s: Session, who: Principal, settings: Settings, spot_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """责令限期整改: the problems of the scored cases (or of the cases named), a requirement and a
    deadline in the future."""
    require(who, MAY_SPOT_CHECK)
    sc = _get(s, who, spot_id)
    deadline = parse_time(data.get("deadline"), "deadline")
    now = utcnow()
    if deadline <= now:
        raise BadRequest("the deadline must be in the future", code="bad_time")
    requirement = text_field(data, "requirement", MAX_NOTE, required=True)
    rows = list(s.scalars(select(SpotCheckCase).where(SpotCheckCase.spot_check_id == sc.id)))
    wanted = data.get("case_ids")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(x, str) for x in wanted):
            raise BadRequest("field 'case_ids' must be a list of case ids", code="bad_field")
        known = {r.case_id for r in rows}
        unknown = [x for x in wanted if x not in known]
        if unknown:
            raise BadRequest(f"case {unknown[0]} is not in this spot check", code="bad_field")
        rows = [r for r in rows if r.case_id in wanted]
    else:
        rows = [r for r in rows if r.problems]
    if not rows:
        raise Conflict("no scored case with problems to order rectified", code="no_problems")
    problems = []
    for r in rows:
        number = s.get(Case, r.case_id).number  # type: ignore[union-attr]
        problems += [{"case_id": r.case_id, "number": number, **p} for p in r.problems]
    order = RectificationOrder(
        spot_check_id=sc.id,
        agency_id=sc.agency_id,
        case_ids=[r.case_id for r in rows],
        problems=problems,
        requirement=requirement,
        deadline=deadline,
        status="open",
        issued_by=who.user_id,
        issued_at=now,
    )
    s.add(order)
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=RECTIFICATION,
        subject=f"rectification:{order.id}",
        details={
            "event": "issued",
            "spot_check": sc.id,
            "agency_id": sc.agency_id,
            "cases": order.case_ids,
            "deadline": iso(deadline),
            "problems": len(problems),
            "requirement": requirement,
        },
    )
    return _order_json(order, now)


def respond(s: Session, who: Principal, order_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The agency's answer to a 责令限期整改 (its legal office); once."""
    order = s.get(RectificationOrder, order_id)
    if order is None or not _visible(who, order.agency_id):
        raise NotFound(f"no rectification order {order_id}")
    require(who, RECTIFY, order.agency_id)
    if order.status != "open":
        raise Conflict("this order has already been answered", code="already_answered")
    now = utcnow()
    order.response = text_field(data, "response", 10000, required=True)
    order.response_by, order.response_at, order.status = who.user_id, now, "answered"
    s.flush()
    append(
        s,
        actor=actor_of(who),
        action=RECTIFICATION,
        subject=f"rectification:{order.id}",
        details={
            "event": "answered",
            "spot_check": order.spot_check_id,
            "late": now > order.deadline,
            "deadline": iso(order.deadline),
        },
    )
    return _order_json(order, now)


def list_orders(
    s: Session, who: Principal, agency_code: str | None, overdue_only: bool
) -> dict[str, Any]:
    require(who, SUPERVISE)
    q = select(RectificationOrder, Agency).join(Agency, Agency.id == RectificationOrder.agency_id)
    if not sees_all(who):
        q = q.where(RectificationOrder.agency_id == who.agency_id)
    if agency_code:
        q = q.where(Agency.code == agency_code)
    now = utcnow()
    if overdue_only:
        q = q.where(RectificationOrder.status == "open", RectificationOrder.deadline < now)
    return {
        "items": [
            {**_order_json(o, now), "agency": a.code, "agency_name": a.name}
            for o, a in s.execute(q.order_by(RectificationOrder.deadline))
        ]
    }
