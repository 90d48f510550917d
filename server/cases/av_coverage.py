"""The audio-visual checks of the compliance engine: whether linked footage covers a record's
time or span (Art. 21), its share, and whether a case has any audio-visual record at all."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from server.cases.compliance_facts import CaseFacts, Ctx, ItemFact, RecordFact
from server.cases.compliance_reading import finding, parse_moment, record_matches, ref_record
from server.cases.rulepack import Rule


def _interval(item: ItemFact, photo_seconds: float) -> tuple[datetime, datetime] | None:
    """The span an item records; a photo stands for photo_seconds around its moment."""
    if item.recorded_at is None:
        return None
    if item.kind == "photo":
        half = timedelta(seconds=photo_seconds / 2)
        return item.recorded_at - half, item.recorded_at + half
    return item.recorded_at, item.recorded_at + timedelta(seconds=item.duration_s or 0.0)


def covers(item: ItemFact, rec: RecordFact, margin_s: float) -> bool:
    """True when the item's recording overlaps the record's time (± margin); used to propose
    links, not to judge coverage."""
    if item.recorded_at is None:
        return False
    start = item.recorded_at - timedelta(seconds=margin_s)
    end = item.recorded_at + timedelta(seconds=(item.duration_s or 0.0) + margin_s)
    return start <= (rec.end_at or rec.at) and end >= rec.at


def covers_moment(item: ItemFact, moment: datetime, margin_s: float) -> bool:
    """True when the item's recording (± margin) contains the moment."""
    span = _interval(item, 0.0)
    if span is None:
        return False
    margin = timedelta(seconds=margin_s)
    return span[0] - margin <= moment <= span[1] + margin


def record_av_coverage(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    kinds = set(rule.params["kinds"])
    margin = float(rule.params.get("margin_seconds", 0))
    time_field = rule.params.get("time_field")
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        if time_field:  # e.g. the moment of the refusal; else the end of the transcript
            moment = parse_moment(rec.fields.get(time_field)) or rec.end_at or rec.at
        else:
            moment = rec.at
        if not any(i.kind in kinds and covers_moment(i, moment, margin) for i in case.items):
            yield finding(
                rule,
                ctx,
                "av_not_covering",
                [ref_record(rec)],
                doc_type=rec.doc_type,
                moment=moment,
                kinds=sorted(kinds),
                margin_seconds=margin,
            )


def coverage(
    items: Iterable[ItemFact],
    kinds: set[str],
    start: datetime,
    end: datetime,
    photo_seconds: float,
) -> float:
    """Seconds of [start, end] covered by the union of the items' recordings."""
    raw = [_interval(i, photo_seconds) for i in items if i.kind in kinds]
    spans = sorted(
        (max(a, start), min(b, end)) for a, b in (sp for sp in raw if sp) if b > start and a < end
    )
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in spans:
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return total


def record_av_span(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    pack, case, _, _ = ctx
    kinds = set(rule.params["kinds"])
    need = float(rule.params["min_share"])
    photo_s = float(rule.params.get("photo_seconds", 30))
    for rec in case.records:
        if not record_matches(rule.match, rec, pack):
            continue
        if rec.end_at is None or rec.end_at <= rec.at:
            # the execution's span is unknown: a point in time cannot show how much was filmed
            yield finding(
                rule,
                ctx,
                "av_span_no_end",
                [ref_record(rec)],
                doc_type=rec.doc_type,
                start=rec.at,
            )
            continue
        span = (rec.end_at - rec.at).total_seconds()
        covered = coverage(case.items, kinds, rec.at, rec.end_at, photo_s)
        share = covered / span
        if share + 1e-9 < need:
            yield finding(
                rule,
                ctx,
                "av_span_uncovered",
                [ref_record(rec)],
                doc_type=rec.doc_type,
                start=rec.at,
                end=rec.end_at,
                span_seconds=round(span),
                covered_seconds=round(covered),
                uncovered_seconds=round(span - covered),
                share_pct=round(share * 100, 1),
                min_share_pct=round(need * 100, 1),
                kinds=sorted(kinds),
            )


def av_share(case: CaseFacts, rec: RecordFact, kinds: set[str], photo_s: float) -> float | None:
    """Share of a record's span covered by the case's recordings (None without a span)."""
    if rec.end_at is None or rec.end_at <= rec.at:
        return None
    return (
        coverage(case.items, kinds, rec.at, rec.end_at, photo_s)
        / (rec.end_at - rec.at).total_seconds()
    )


def case_av(rule: Rule, ctx: Ctx) -> Iterable[dict[str, Any]]:
    _, case, _, _ = ctx
    if not any(i.kind in rule.params["kinds"] for i in case.items):
        yield finding(rule, ctx, "case_av_missing", [], kinds=list(rule.params["kinds"]))
