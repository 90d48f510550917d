"""Sealed court exports: gather a case's originals, cut clips, ledger the export, seal the bag.

An export is a job (kind "export"). It runs in a worker thread:
  1. read the request: the case, its linked items (or the chosen ones), the clips;
  2. cut each clip with the ffmpeg binary into a private temp folder and hash it;
  3. append the EXPORT ledger entry naming recipient, purpose and every file's hash;
  4. sign a fresh tree head over the ledger (it covers that entry), with its RFC 3161 token;
  5. collect every ledger entry about these items and this case with inclusion proofs;
  6. write the custody report (PDF with an embedded CJK font, and JSON);
  7. stream the bag into the package ZIP, re-hashing each original on the way and failing
     the export if the store's bytes are not the bytes the catalogue recorded;
  8. record the package's hash on the export and in a second ledger entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrity.canonical import canonical_json
from integrity.export_layout import (
    ClipFile,
    ExportBundle,
    LedgerRecord,
    ManifestVersion,
    OriginalFile,
    build_spec,
    export_details,
    ledger_records,
)
from integrity.hashing import sha256_file
from integrity.ledger import EXPORT as EXPORT_ACTION
from integrity.package import PackageResult, unique_name, verifier_source, write_package_file
from integrity.timefmt import rfc3339
from server.access import EXPORT, Principal, require
from server.catalogue.db import Database
from server.catalogue.models import (
    Agency,
    BasketClip,
    Case,
    CaseLink,
    EvidenceItem,
    Export,
    LedgerRow,
    utcnow,
)
from server.custody.ledger import actor_of, append, row_entry
from server.errors import BadRequest, Conflict, NotFound
from server.exports.report import FontChoice, choose_font, render_pdf
from server.isotime import iso
from server.media import jobs
from server.settings import Settings
from server.store.base import ObjectStore

logger = logging.getLogger(__name__)

EXPORT_JOB = "export"
SEALED_FORMAT = "custodian.export-sealed/1"
MAX_TEXT = 500
MAX_PURPOSE = 1000
CLIP_NAME_MAX = 120
FFMPEG_TIMEOUT_S = 3600
MIN_CLIP_SECONDS = 0.04


# -- requests --------------------------------------------------------------------------------
def _text(data: dict[str, Any], key: str, max_len: int, default: str) -> str:
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise BadRequest(f"field {key!r} must be a string", code="bad_field")
    value = " ".join(value.split())  # no line breaks: the values go into bag-info.txt
    if not value:
        raise BadRequest(f"field {key!r} must not be empty", code="bad_field")
    if len(value) > max_len:
        raise BadRequest(f"field {key!r} is longer than {max_len} characters", code="bad_field")
    return value


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{what} must be a number of seconds", code="bad_clip")
    number = float(value)
    if not 0 <= number < 7 * 24 * 3600:
        raise BadRequest(f"{what} is out of range", code="bad_clip")
    return number


def _clip_request(raw: Any, n: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest(f"clips[{n}] must be an object", code="bad_clip")
    item = raw.get("evidence_id", raw.get("item_id"))
    if not isinstance(item, str) or not item or len(item) > 64:
        raise BadRequest(f"clips[{n}].evidence_id is required", code="bad_clip")
    in_s = _seconds(raw.get("in_s"), f"clips[{n}].in_s")
    out_s = _seconds(raw.get("out_s"), f"clips[{n}].out_s")
    if out_s - in_s < MIN_CLIP_SECONDS:
        raise BadRequest(f"clips[{n}]: out_s must be after in_s", code="bad_clip")
    name = raw.get("name") or f"clip-{n + 1:02d}"
    if not isinstance(name, str) or len(name) > CLIP_NAME_MAX:
        raise BadRequest(f"clips[{n}].name must be a string of at most {CLIP_NAME_MAX} "
                         "characters", code="bad_clip")
    precise = raw.get("precise")
    if precise is not None and not isinstance(precise, bool):
        raise BadRequest(f"clips[{n}].precise must be true or false", code="bad_clip")
    return {"evidence_id": item, "in_s": in_s, "out_s": out_s, "name": name, "precise": precise}


def _find_case(s: Session, ref: str, who: Principal | None) -> Case:
    if who is not None:
        from server.cases.lookups import get_case

        case = get_case(s, ref, who, EXPORT)
        return case
    # The command line acts with the operator's own access to the catalogue.
    case = s.get(Case, ref) if isinstance(ref, str) and len(ref) <= 64 else None
    if case is None:
        found = list(s.scalars(select(Case).where(Case.number == ref)))
        if len(found) > 1:
            raise Conflict(f"case number {ref!r} is used by several agencies; use the case id",
                           code="ambiguous_case")
        case = found[0] if found else None
    if case is None:
        raise NotFound(f"no case {ref!r}")
    return case


def _linked_items(s: Session, case_id: str) -> list[EvidenceItem]:
    rows = s.execute(
        select(EvidenceItem)
        .join(CaseLink, CaseLink.item_id == EvidenceItem.id)
        .where(CaseLink.case_id == case_id, CaseLink.unlinked_at.is_(None),
               EvidenceItem.retention_class != "disposed")  # disposed: never packaged again
        .order_by(EvidenceItem.recorded_at, EvidenceItem.received_at, EvidenceItem.id)
    )
    seen: dict[str, EvidenceItem] = {}
    for (item,) in rows:
        seen.setdefault(item.id, item)
    return list(seen.values())


def create_export(
    s: Session,
    case_ref: str,
    who: Principal | None,
    data: dict[str, Any],
    settings: Settings,
    *,
    enqueue: bool = True,
) -> Export:
    """Validate an export request, store it and (by default) queue its job."""
    case = _find_case(s, case_ref, who)
    recipient = _text(data, "recipient", MAX_TEXT, "")
    purpose = _text(data, "purpose", MAX_PURPOSE, "诉讼 / court proceedings")
    watermark = data.get("watermark", False)
    if not isinstance(watermark, bool):
        raise BadRequest("field 'watermark' must be true or false", code="bad_field")
    linked = {i.id for i in _linked_items(s, case.id)}
    if not linked:
        raise BadRequest(f"case {case.number} has no linked evidence to export", code="empty_export")
    items = data.get("items")
    if items is not None:
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or not items:
            raise BadRequest("field 'items' must be a non-empty list of evidence ids",
                             code="bad_field")
        unknown = sorted(set(items) - linked)
        if unknown:
            raise BadRequest(f"not linked to case {case.number}: {', '.join(unknown[:5])}",
                             code="not_linked")
        if len(set(items)) > settings.export_max_items:
            raise BadRequest(f"more than {settings.export_max_items} items", code="too_many")
        items = sorted(set(items), key=items.index)
    elif len(linked) > settings.export_max_items:
        raise BadRequest(f"the case links more than {settings.export_max_items} items; choose "
                         "them with 'items'", code="too_many")
    clips = data.get("clips")
    if clips is not None:
        if not isinstance(clips, list) or len(clips) > settings.export_max_clips:
            raise BadRequest(f"field 'clips' must be a list of at most "
                             f"{settings.export_max_clips} clips", code="bad_clip")
        clips = [_clip_request(c, n) for n, c in enumerate(clips)]
        for c in clips:
            if c["evidence_id"] not in linked:
                raise BadRequest(f"clip of {c['evidence_id']}: not linked to case {case.number}",
                                 code="not_linked")
    export = Export(
        case_id=case.id,
        agency_id=case.agency_id,
        recipient=recipient,
        purpose=purpose,
        item_ids=items,
        clips=clips,
        watermark=watermark,
        requested_by=who.user_id if who else None,
        requested_by_name=actor_of(who) if who else f"cli:{_os_user()}",
        state="queued",
    )
    s.add(export)
    s.flush()
    if enqueue:
        job = jobs.enqueue(s, EXPORT_JOB, export.id, max_attempts=2)
        export.job_id = job.id
    return export


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in a container is not an error
        return "operator"


def export_json(e: Export) -> dict[str, Any]:
    """An export for the API."""
    done = e.state == "done"
    return {
        "id": e.id,
        "case_id": e.case_id,
        "state": e.state,
        "status": e.state,
        "recipient": e.recipient,
        "purpose": e.purpose,
        "items": e.item_ids,
        "clips": e.clips,
        "watermark": e.watermark,
        "requested_by": e.requested_by_name,
        "job_id": e.job_id,
        "ledger_seq": e.ledger_seq,
        "package": {
            "url": f"/api/v1/exports/{e.id}/package",
            "sha256": e.package_sha256,
            "size": e.package_size,
            "verifier_sha256": e.verifier_sha256,
        } if done else None,
        "summary": e.summary,
        "error": e.error or None,
        "created_at": iso(e.created_at),
        "finished_at": iso(e.finished_at),
    }


def get_export(s: Session, export_id: str, who: Principal) -> Export:
    """An export the caller may see (EXPORT permission in the case's agency)."""
    e = s.get(Export, export_id) if isinstance(export_id, str) and len(export_id) <= 64 else None
    if e is None:
        raise NotFound(f"no export {export_id}")
    require(who, EXPORT, e.agency_id, what=f"export {export_id}")
    return e


def list_exports(s: Session, case_ref: str, who: Principal) -> dict[str, Any]:
    """The exports of a case, newest first."""
    case = _find_case(s, case_ref, who)
    rows = s.scalars(select(Export).where(Export.case_id == case.id)
                     .order_by(Export.created_at.desc()).limit(200))
    return {"items": [export_json(e) for e in rows], "next": None}


# -- clips -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CutClip:
    """A clip cut into a temp file: how, from what, and its hash."""

    path: Path
    sha256: str
    size: int
    method: str
    start_s: float
    end_s: float
    argv: tuple[str, ...]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, timeout=30)
    first = out.stdout.splitlines()[0] if out.stdout else "ffmpeg"
    return first.split(" Copyright")[0].removeprefix("ffmpeg version ").strip()


def keyframe_at_or_before(path: Path, moment: float) -> float:
    """The time of the last video keyframe at or before `moment` (0.0 without video)."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0.0
        stream = container.streams.video[0]
        base = stream.time_base
        start = stream.start_time or 0
        best = 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float((packet.pts - start) * base)
            if t > moment + 1e-6:
                break
            if packet.is_keyframe:
                best = t
        return best


def _drawtext_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def clip_argv(
    source: Path,
    out: Path,
    *,
    start: float,
    end: float,
    reencode: bool,
    watermark_file: Path | None = None,
    font: str | None = None,
) -> list[str]:
    """The ffmpeg command line of one clip (paths are ours; times are validated numbers)."""
    argv = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-ss", f"{start:.6f}", "-i",
            str(source), "-t", f"{end - start:.6f}", "-map", "0:v:0?", "-map", "0:a:0?"]
    if not reencode:
        return [*argv, "-c", "copy", "-avoid_negative_ts", "make_zero", "-movflags",
                "+faststart", str(out)]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    if watermark_file is not None:
        parts = [f"textfile='{_drawtext_escape(str(watermark_file))}'", "fontcolor=white@0.75",
                 "fontsize=max(12\\,h/22)", "box=1", "boxcolor=black@0.35", "boxborderw=6",
                 "x=12", "y=h-th-12"]
        if font:
            parts.insert(0, f"fontfile='{_drawtext_escape(font)}'")
        argv += ["-vf", "drawtext=" + ":".join(parts)]
    return [*argv, "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out)]


def cut_clip(
    source: Path,
    out: Path,
    *,
    in_s: float,
    out_s: float,
    precise: bool,
    watermark: str | None,
    font: str | None,
) -> CutClip:
    """Cut [in_s, out_s) of source into out: stream copy from the keyframe at or before in_s,
    or a precise re-encode (always when a watermark is burned in)."""
    reencode = precise or watermark is not None
    start = in_s if reencode else keyframe_at_or_before(source, in_s)
    text_file = None
    if watermark is not None:
        text_file = out.with_suffix(".watermark.txt")
        text_file.write_text(watermark, encoding="utf-8")
    argv = clip_argv(source, out, start=start, end=out_s, reencode=reencode,
                     watermark_file=text_file, font=font)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT_S)
    if text_file is not None:
        text_file.unlink(missing_ok=True)
    if result.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"ffmpeg could not cut {source.name} [{in_s}, {out_s}): "
                           f"{result.stderr.strip()[-500:]}")
    return CutClip(out, sha256_file(out), out.stat().st_size,
                   "reencode" if reencode else "stream_copy", round(start, 6), out_s,
                   tuple(Path(a).name if a in (str(source), str(out)) else a for a in argv[1:]))


# -- browser-playable copies -----------------------------------------------------------------
BROWSER_VIDEO_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".webm"})
PLAYABLE_PURPOSE = "browser_playable_copy"


def needs_playable_copy(path: Path, name: str) -> float | None:
    """The duration (s) of a video original a browser cannot play (HEVC, MPEG-4 part 2, AVI…),
    so the package gets an H.264 copy of it; None when it plays as it is or is not video."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            codec = container.streams.video[0].codec_context.name
            duration = float(container.duration or 0) / 1_000_000
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    if codec in BROWSER_VIDEO_CODECS and Path(name).suffix.lower() in BROWSER_CONTAINERS:
        return None
    return duration


def playable_argv(source: Path, out: Path) -> list[str]:
    """ffmpeg argv of a whole-length H.264/AAC MP4 copy for browsers (paths are ours)."""
    return [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(source), "-map", "0:v:0",
            "-map", "0:a:0?", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
            str(out)]


def make_playable_copy(source: Path, out: Path) -> tuple[str, int, tuple[str, ...]]:
    """Transcode source into out; (sha256, size, argv as recorded)."""
    argv = playable_argv(source, out)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT_S)
    if result.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"ffmpeg could not make a playable copy of {source.name}: "
                           f"{result.stderr.strip()[-500:]}")
    recorded = tuple(Path(a).name if a in (str(source), str(out)) else a for a in argv[1:])
    return sha256_file(out), out.stat().st_size, recorded


# -- the job ---------------------------------------------------------------------------------
@dataclass
class _Plan:
    export: dict[str, Any]
    case: dict[str, Any]
    items: list[dict[str, Any]]
    clips: list[dict[str, Any]]


def _plan(s: Session, export_id: str) -> _Plan:
    e = s.get(Export, export_id)
    if e is None:
        raise NotFound(f"no export {export_id}")
    case = s.get(Case, e.case_id)
    assert case is not None
    agency = s.get(Agency, case.agency_id)
    linked = _linked_items(s, case.id)
    by_id = {i.id: i for i in linked}
    chosen = [by_id[i] for i in e.item_ids if i in by_id] if e.item_ids else linked
    if e.clips is not None:
        clips = list(e.clips)
    else:
        clips = [{"evidence_id": c.item_id, "in_s": c.in_s, "out_s": c.out_s, "name": c.name,
                  "precise": None, "basket_id": c.id}
                 for c in s.scalars(select(BasketClip).where(BasketClip.case_id == case.id)
                                    .order_by(BasketClip.id))
                 if c.item_id in by_id]
    # A clip's original always travels with it, so the court can check the derivation.
    for c in clips:
        if c["evidence_id"] in by_id and by_id[c["evidence_id"]] not in chosen:
            chosen.append(by_id[c["evidence_id"]])
    e.state = "running"
    return _Plan(
        export={"id": e.id, "recipient": e.recipient, "purpose": e.purpose,
                "watermark": e.watermark, "requested_by": e.requested_by_name},
        case={"id": case.id, "number": case.number, "title": case.title,
              "agency": f"{agency.code} {agency.name}" if agency else "",
              "agency_code": agency.code if agency else "",
              "enforcement_type": case.enforcement_type, "procedure": case.procedure},
        items=[{"id": i.id, "sha256": i.sha256, "size": i.size, "name": i.original_filename,
                "recorded_at": iso(i.recorded_at), "received_at": iso(i.received_at),
                "device_id": i.device_id, "officer_id": i.officer_id, "kind": i.kind}
               for i in chosen],
        clips=clips,
    )


def _record_export(s: Session, export_id: str, actor: str, details: dict[str, Any],
                   subject: str) -> int:
    """The export's entry, written once: a run that was killed after writing it and is run
    again reuses it when it pins the same files (the same hashes, recipient and purpose); only
    different bytes (e.g. a clip cut anew differently) make a new entry, which names the one
    it replaces."""
    e = s.get(Export, export_id)
    if e is not None and e.ledger_seq is not None:
        before = s.get(LedgerRow, e.ledger_seq)
        if before is not None and before.details == canonical_json(dict(details)).decode():
            return before.seq
        details = {**details, "replaces_seq": e.ledger_seq}
    entry = append(s, actor=actor, action=EXPORT_ACTION, subject=subject, details=details)
    if e is not None:
        e.ledger_seq = entry.seq
    return entry.seq


def _slice(s: Session, subjects: list[str], upto: int) -> list[tuple[Any, dict[str, Any]]]:
    rows = s.scalars(select(LedgerRow).where(LedgerRow.subject.in_(subjects),
                                             LedgerRow.seq <= upto).order_by(LedgerRow.seq))
    return [(row_entry(r), json.loads(r.details)) for r in rows]


def _manifests(s: Session, item_ids: list[str], key: Any) -> dict[str, list[ManifestVersion]]:
    from server.custody.manifests import manifest_versions, signed_of, write_manifest

    out: dict[str, list[ManifestVersion]] = {}
    for item_id in item_ids:
        rows = manifest_versions(s, item_id)
        if not rows:
            # Every item should have been given a manifest when it was received; one that
            # has none gets its first version now, so the court can check the original.
            logger.warning("evidence %s had no manifest; signing version 1 for the export",
                           item_id)
            rows = [write_manifest(s, item_id, key=key)]
        out[item_id] = [ManifestVersion(signed_of(r), r.version, r.tsa_token) for r in rows]
    return out


def _finish(s: Session, export_id: str, result: PackageResult, path: Path,
            summary: dict[str, Any], actor: str, case_id: str) -> None:
    e = s.get(Export, export_id)
    assert e is not None
    e.state = "done"
    e.package_path = str(path)
    e.package_sha256 = result.archive_sha256
    e.package_size = result.archive_size
    e.verifier_sha256 = result.verifier_sha256
    e.summary = summary
    e.finished_at = utcnow()
    e.error = ""
    append(s, actor=actor, action=EXPORT_ACTION, subject=f"case:{case_id}", details={
        "format": SEALED_FORMAT, "export_id": export_id, "package_sha256": result.archive_sha256,
        "package_size": result.archive_size, "payload_oxum": result.payload_oxum,
        "verifier_sha256": result.verifier_sha256})


def _fail(s: Session, export_id: str, error: str) -> None:
    e = s.get(Export, export_id)
    if e is not None:
        e.state = "failed"
        e.error = error[:4000]
        e.finished_at = utcnow()


def package_path_for(settings: Settings, export_id: str) -> Path:
    """Where the package of an export is written by default."""
    return settings.resolved_export_path / f"custodian-export-{export_id}.zip"


def _report(plan: _Plan, originals: list[OriginalFile], clips: list[ClipFile],
            records: list[LedgerRecord], head: Any, head_token: bytes | None, created: datetime,
            font: FontChoice, head_fingerprint: str = "",
            zone: str = "Asia/Shanghai") -> tuple[dict[str, Any], bytes, bytes]:
    by_id = {i["id"]: i for i in plan.items}
    report = {
        "format": "custodian.custody-report/1",
        "time_zone": zone,
        "case": plan.case,
        "export": {
            "id": plan.export["id"], "created_at": rfc3339(created),
            "exporter": plan.export["requested_by"], "recipient": plan.export["recipient"],
            "purpose": plan.export["purpose"],
            "watermark": (f"{plan.export['recipient']} / {plan.export['id']} (clips only)"
                          if plan.export["watermark"] else None),
            "verifier_sha256": hashlib.sha256(verifier_source()).hexdigest(),
            "font": font.describe(),
        },
        "items": [
            {"item_id": o.item_id, "path": f"data/originals/{o.name}",
             "original_name": by_id[o.item_id]["name"], "sha256": o.sha256, "size": o.size,
             "recorded_at": by_id[o.item_id]["recorded_at"],
             "received_at": by_id[o.item_id]["received_at"],
             "device_id": by_id[o.item_id]["device_id"],
             "officer_id": by_id[o.item_id]["officer_id"]}
            for o in originals
        ],
        "clips": [{**c.record(), "path": f"data/clips/{c.name}"} for c in clips],
        "custody": [
            {**r.entry.to_dict(), "entry_hash": json.loads(r.line())["entry_hash"],
             "details": dict(r.details)}
            for r in records
        ],
        "tree_head": {"size": head.size, "root": head.root_hex, "time": head.time,
                      "key_id": head.key_id, "fingerprint": head_fingerprint,
                      "time_source": "RFC 3161" if head_token else "server clock"},
    }
    pdf = render_pdf(report, font)
    return report, pdf, canonical_json(report)


def run_export(
    settings: Settings,
    db: Database,
    store: ObjectStore,
    export_id: str,
    progress: Callable[[float], None] = lambda f: None,
    *,
    out_path: Path | None = None,
) -> dict[str, Any]:
    """Build the sealed package of an export (blocking). The job handler of kind "export"."""
    from integrity.signing import fingerprint
    from server.custody.keyring import ensure_registered, keyring, windows
    from server.custody.signing import load_or_create_key
    from server.custody.treeheads import head_of, issue_tree_head, ledger_leaves

    key = load_or_create_key(settings)
    db.call(ensure_registered, key)
    plan = db.call(_plan, export_id)
    actor = plan.export["requested_by"] or "system"
    if not actor.startswith(("user:", "cli:", "system")):
        actor = "system"
    target = out_path or package_path_for(settings, export_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".export-{export_id}-", dir=target.parent))
    try:
        font = choose_font(settings.report_font_path)
        # Step 1: originals, named for people (number + original name), safe and unique.
        taken: set[str] = set()
        originals: list[OriginalFile] = []
        local = getattr(store, "local_path", None)
        for n, item in enumerate(plan.items, 1):
            name = unique_name(f"{n:02d}_{item['name']}", taken)
            sha = item["sha256"]
            source: Any = local(sha) if local else (lambda sha=sha: store.open_range(sha))
            originals.append(OriginalFile(item["id"], name, sha, item["size"], source,
                                          f"{n:02d} {item['name']}"))
        by_item = {o.item_id: o for o in originals}
        # Step 2: clips, cut from the stored original into the work folder.
        clips: list[ClipFile] = []
        tool_version = ffmpeg_version() if plan.clips else ""
        watermark = (f"{plan.export['recipient']} · {export_id}" if plan.export["watermark"]
                     else None)
        clip_names: set[str] = set()
        for n, req in enumerate(plan.clips, 1):
            original = by_item[req["evidence_id"]]
            src = original.source if isinstance(original.source, Path) else None
            if src is None:
                src = work / f"src-{original.sha256}"
                if not src.exists():
                    with open(src, "wb") as f:
                        for block in store.open_range(original.sha256):
                            f.write(block)
            name = unique_name(f"{n:02d}_{req['name']}.mp4", clip_names)
            precise = req.get("precise")
            cut = cut_clip(src, work / f"clip-{n:03d}.mp4", in_s=req["in_s"], out_s=req["out_s"],
                           precise=settings.export_clip_precise if precise is None else precise,
                           watermark=watermark, font=font.path)
            clips.append(ClipFile(
                name=name, sha256=cut.sha256, size=cut.size, source=cut.path,
                item_id=original.item_id, derived_from=original.sha256, method=cut.method,
                start_s=cut.start_s, end_s=cut.end_s, watermark=watermark, tool="ffmpeg",
                tool_version=tool_version,
                parameters={"argv": list(cut.argv), "requested_in_s": req["in_s"],
                            "requested_out_s": req["out_s"]},
                label=req["name"]))
            progress(0.05 * n / max(1, len(plan.clips)))
        # Step 2b: originals a browser cannot play (HEVC…) get an H.264 copy, marked as derived.
        kinds = {i["id"]: i.get("kind") for i in plan.items}
        for n, o in enumerate(originals, 1):
            if kinds.get(o.item_id) != "video":
                continue  # photos, audio and documents are shown as they are
            src = o.source if isinstance(o.source, Path) else work / f"src-{o.sha256}"
            if not isinstance(o.source, Path) and not src.exists():
                with open(src, "wb") as f:
                    for block in store.open_range(o.sha256):
                        f.write(block)
            duration = needs_playable_copy(src, o.name)
            if duration is None:
                continue
            out = work / f"playable-{n:03d}.mp4"
            sha, size, argv = make_playable_copy(src, out)
            stem = o.name.rsplit(".", 1)[0]
            clips.append(ClipFile(
                name=unique_name(f"{stem}.h264.mp4", clip_names), sha256=sha, size=size,
                source=out, item_id=o.item_id, derived_from=o.sha256, method="reencode",
                start_s=0.0, end_s=round(duration, 3), watermark=None, tool="ffmpeg",
                tool_version=tool_version or ffmpeg_version(),
                parameters={"purpose": PLAYABLE_PURPOSE, "argv": list(argv)},
                label=f"{o.label or o.name} — H.264 浏览器播放副本 (derived copy)"))
        # Step 3: the EXPORT ledger entry pins recipient, purpose and every hash.
        details = export_details(
            export_id=export_id, case_id=plan.case["id"], case_number=plan.case["number"],
            recipient=plan.export["recipient"], purpose=plan.export["purpose"],
            originals=originals, clips=clips, exporter=actor)
        db.call(_record_export, export_id, actor, details, f"case:{plan.case['id']}")
        # Step 4: a fresh signed tree head covering that entry.
        head_row = issue_tree_head(db, key, settings)
        assert head_row is not None
        head, head_token = head_of(head_row), head_row.tsa_token
        # Every key the server has signed with (old manifests may carry a retired key), each
        # with its validity window; the head's fingerprint goes into bag-info and the report.
        keys_known = db.call(keyring, key)
        head_fp = next((r.fingerprint for r in keys_known if r.key_id == head.key_id),
                       fingerprint(key.private))
        # Step 5: the ledger slice with inclusion proofs, and the signed manifests.
        subjects = [f"case:{plan.case['id']}"] + [f"evidence:{o.item_id}" for o in originals]

        def gather(s: Session) -> tuple[list[Any], list[bytes], dict[str, list[ManifestVersion]]]:
            return (_slice(s, subjects, head.size), ledger_leaves(s, head.size),
                    _manifests(s, [o.item_id for o in originals], key))

        entries, leaves, manifests = db.call(gather)
        if len(leaves) != head.size:
            raise RuntimeError("the ledger changed under the tree head just signed")
        records = ledger_records(entries, leaves)
        # Step 6: the custody report.
        created = utcnow()
        report, pdf, report_json = _report(plan, originals, clips, records, head, head_token,
                                           created, font, head_fp, settings.camera_timezone)
        roots = (Path(settings.tsa_roots_file).read_bytes()
                 if settings.tsa_roots_file and Path(settings.tsa_roots_file).is_file() else None)
        bundle = ExportBundle(
            export_id=export_id,
            bag_info=(
                ("Source-Organization", plan.case["agency"] or "—"),
                ("Internal-Sender-Identifier", plan.case["number"]),
                ("Internal-Sender-Description",
                 f"案件 {plan.case['number']} {plan.case['title']}"),
                ("Case-Number", plan.case["number"]),
                ("Agency", plan.case["agency"] or "—"),
                ("Exporter", actor),
                ("Recipient", plan.export["recipient"]),
                ("Purpose", plan.export["purpose"]),
                ("Export-Time", rfc3339(created)),
                ("Report-Font", font.describe()),
            ),
            originals=tuple(originals), clips=tuple(clips), manifests=manifests,
            ledger=tuple(records), tree_head=head, tree_head_token=head_token,
            public_keys=[r.public for r in keys_known], key_windows=windows(keys_known),
            report_pdf=pdf, report_json=report_json,
            created_at=created, tsa_roots_pem=roots,
            title=f"{plan.case['number']} {plan.case['title']}",
        )
        spec = build_spec(bundle)
        total = sum(o.size for o in originals) + sum(c.size for c in clips) or 1
        result = write_package_file(spec, target,
                                    progress=lambda done: progress(0.05 + 0.95 * done / total))
        # Step 7: the bytes sealed must be the bytes the catalogue recorded.
        written = {f.path: f for f in result.payload}
        for o in originals:
            got = written[f"data/originals/{o.name}"]
            if got.sha256 != o.sha256 or got.size != o.size:
                target.unlink(missing_ok=True)
                raise RuntimeError(f"stored original of {o.item_id} hashes to {got.sha256}, "
                                   f"not {o.sha256}: the store is damaged; run custodian verify")
        summary = {"originals": len(originals), "clips": len(clips), "ledger_entries":
                   len(records), "tree_head_size": head.size, "payload_oxum": result.payload_oxum,
                   "font_embedded": font.embedded, "font": font.describe(),
                   "font_warnings": list(font.skipped), "signing_key_fingerprint": head_fp,
                   "timestamped": head_token is not None}
        if out_path is None:  # a package kept on the server: its user's only
            from server.intake.hygiene import private_export

            private_export(target)
        db.call(_finish, export_id, result, target, summary, actor, plan.case["id"])
        if not font.embedded:
            logger.warning("export %s: %s", export_id, font.describe())
        logger.info("export %s sealed: %s (%d bytes, sha256 %s)", export_id, target,
                    result.archive_size, result.archive_sha256)
        return {"export_id": export_id, "package_sha256": result.archive_sha256,
                "package_size": result.archive_size, **summary}
    except BaseException as exc:
        db.call(_fail, export_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_job(settings: Settings, db: Database, store: ObjectStore, subject: str,
               progress: Callable[[float], None]) -> dict[str, Any]:
    """Job handler for kind "export" (subject: the export id)."""
    return run_export(settings, db, store, subject, progress)


def package_file(s: Session, export_id: str, who: Principal) -> tuple[Path, Export]:
    """The package of a finished export, for download."""
    e = get_export(s, export_id, who)
    if e.state != "done" or not e.package_path:
        raise Conflict(f"export {export_id} is {e.state}; the package is not ready",
                       code="not_ready")
    path = Path(e.package_path)
    if not path.is_file():
        raise NotFound(f"the package of export {export_id} is no longer on this server",
                       code="package_gone")
    return path, e


def log_download(s: Session, export_id: str, who: Principal) -> None:
    """A download hands the package out again: ledgered as a view of the export."""
    from integrity.ledger import VIEW

    e = s.get(Export, export_id)
    append(s, actor=actor_of(who), action=VIEW, subject=f"case:{e.case_id}" if e else "export",
           details={"what": "export_package", "export_id": export_id,
                    "package_sha256": e.package_sha256 if e else None})

