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
from integrity.ledger import EXPORT as EXPORT_ACTION
from integrity.package import PackageResult, unique_name, verifier_source, write_package_file
from integrity.timefmt import rfc3339
from server.catalogue.db import Database
from server.catalogue.models import Agency, BasketClip, Case, Export, LedgerRow, utcnow
from server.custody.ledger import append, row_entry
from server.errors import NotFound

# Re-exported: the routes, the worker and the command line import these from here.
from server.exports.api import (  # noqa: F401
    EXPORT_JOB,
    _linked_items,
    _os_user,
    create_export,
    export_json,
    get_export,
    list_exports,
    log_download,
    package_file,
)
from server.exports.report import FontChoice, choose_font, render_pdf
from server.settings import Settings
from server.store.base import ObjectStore
from transcode._tools import ffmpeg_version
from transcode.clip import PLAYABLE_PURPOSE, cut_clip, make_playable_copy, needs_playable_copy

logger = logging.getLogger(__name__)

SEALED_FORMAT = "custodian.export-sealed/1"


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
        clips = [
            {
                "evidence_id": c.item_id,
                "in_s": c.in_s,
                "out_s": c.out_s,
                "name": c.name,
                "precise": None,
                "basket_id": c.id,
            }
            for c in s.scalars(
                select(BasketClip).where(BasketClip.case_id == case.id).order_by(BasketClip.id)
            )
            if c.item_id in by_id
        ]
    # A clip's original always travels with it, so the court can check the derivation.
    for c in clips:
        if c["evidence_id"] in by_id and by_id[c["evidence_id"]] not in chosen:
            chosen.append(by_id[c["evidence_id"]])
    e.state = "running"
    return _Plan(
        export={
            "id": e.id,
            "recipient": e.recipient,
            "purpose": e.purpose,
            "watermark": e.watermark,
            "requested_by": e.requested_by_name,
        },
        case={
            "id": case.id,
            "number": case.number,
            "title": case.title,
            "agency": f"{agency.code} {agency.name}" if agency else "",
            "agency_code": agency.code if agency else "",
            "enforcement_type": case.enforcement_type,
            "procedure": case.procedure,
        },
        items=[
            {
                "id": i.id,
                "sha256": i.sha256,
                "size": i.size,
                "name": i.original_filename,
                # Sealed in the report: the textual form of the manifests and the ledger.
                "recorded_at": rfc3339(i.recorded_at) if i.recorded_at else None,
                "received_at": rfc3339(i.received_at),
                "device_id": i.device_id,
                "officer_id": i.officer_id,
                "kind": i.kind,
            }
            for i in chosen
        ],
        clips=clips,
    )


def _record_export(
    s: Session, export_id: str, actor: str, details: dict[str, Any], subject: str
) -> int:
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
    rows = s.scalars(
        select(LedgerRow)
        .where(LedgerRow.subject.in_(subjects), LedgerRow.seq <= upto)
        .order_by(LedgerRow.seq)
    )
    return [(row_entry(r), json.loads(r.details)) for r in rows]


def _manifests(s: Session, item_ids: list[str], key: Any) -> dict[str, list[ManifestVersion]]:
    from server.custody.manifests import manifest_versions, signed_of, write_manifest

    out: dict[str, list[ManifestVersion]] = {}
    for item_id in item_ids:
        rows = manifest_versions(s, item_id)
        if not rows:
            # Every item should have been given a manifest when it was received; one that
            # has none gets its first version now, so the court can check the original.
            logger.warning("evidence %s had no manifest; signing version 1 for the export", item_id)
            rows = [write_manifest(s, item_id, key=key)]
        out[item_id] = [ManifestVersion(signed_of(r), r.version, r.tsa_token) for r in rows]
    return out


def _finish(
    s: Session,
    export_id: str,
    result: PackageResult,
    path: Path,
    summary: dict[str, Any],
    actor: str,
    case_id: str,
) -> None:
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
    append(
        s,
        actor=actor,
        action=EXPORT_ACTION,
        subject=f"case:{case_id}",
        details={
            "format": SEALED_FORMAT,
            "export_id": export_id,
            "package_sha256": result.archive_sha256,
            "package_size": result.archive_size,
            "payload_oxum": result.payload_oxum,
            "verifier_sha256": result.verifier_sha256,
        },
    )


def _fail(s: Session, export_id: str, error: str) -> None:
    e = s.get(Export, export_id)
    if e is not None:
        e.state = "failed"
        e.error = error[:4000]
        e.finished_at = utcnow()


def package_path_for(settings: Settings, export_id: str) -> Path:
    """Where the package of an export is written by default."""
    return settings.resolved_export_path / f"custodian-export-{export_id}.zip"


def _report(
    plan: _Plan,
    originals: list[OriginalFile],
    clips: list[ClipFile],
    records: list[LedgerRecord],
    head: Any,
    head_token: bytes | None,
    created: datetime,
    font: FontChoice,
    head_fingerprint: str = "",
    zone: str = "Asia/Shanghai",
) -> tuple[dict[str, Any], bytes, bytes]:
    by_id = {i["id"]: i for i in plan.items}
    report = {
        "format": "custodian.custody-report/1",
        "time_zone": zone,
        "case": plan.case,
        "export": {
            "id": plan.export["id"],
            "created_at": rfc3339(created),
            "exporter": plan.export["requested_by"],
            "recipient": plan.export["recipient"],
            "purpose": plan.export["purpose"],
            "watermark": (
                f"{plan.export['recipient']} / {plan.export['id']} (clips only)"
                if plan.export["watermark"]
                else None
            ),
            "verifier_sha256": hashlib.sha256(verifier_source()).hexdigest(),
            "font": font.describe(),
        },
        "items": [
            {
                "item_id": o.item_id,
                "path": f"data/originals/{o.name}",
                "original_name": by_id[o.item_id]["name"],
                "sha256": o.sha256,
                "size": o.size,
                "recorded_at": by_id[o.item_id]["recorded_at"],
                "received_at": by_id[o.item_id]["received_at"],
                "device_id": by_id[o.item_id]["device_id"],
                "officer_id": by_id[o.item_id]["officer_id"],
            }
            for o in originals
        ],
        "clips": [{**c.record(), "path": f"data/clips/{c.name}"} for c in clips],
        "custody": [
            {
                **r.entry.to_dict(),
                "entry_hash": json.loads(r.line())["entry_hash"],
                "details": dict(r.details),
            }
            for r in records
        ],
        "tree_head": {
            "size": head.size,
            "root": head.root_hex,
            "time": head.time,
            "key_id": head.key_id,
            "fingerprint": head_fingerprint,
            "time_source": "RFC 3161" if head_token else "server clock",
        },
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
        for n, item in enumerate(plan.items, 1):
            name = unique_name(f"{n:02d}_{item['name']}", taken)
            sha = item["sha256"]
            source: Any = store.local_path(sha) or (lambda sha=sha: store.open_range(sha))
            originals.append(
                OriginalFile(item["id"], name, sha, item["size"], source, f"{n:02d} {item['name']}")
            )
        by_item = {o.item_id: o for o in originals}
        # Step 2: clips, cut from the stored original into the work folder.
        clips: list[ClipFile] = []
        tool_version = ffmpeg_version() if plan.clips else ""
        watermark = (
            f"{plan.export['recipient']} · {export_id}" if plan.export["watermark"] else None
        )
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
            cut = cut_clip(
                src,
                work / f"clip-{n:03d}.mp4",
                in_s=req["in_s"],
                out_s=req["out_s"],
                precise=settings.export_clip_precise if precise is None else precise,
                watermark=watermark,
                font=font.path,
            )
            clips.append(
                ClipFile(
                    name=name,
                    sha256=cut.sha256,
                    size=cut.size,
                    source=cut.path,
                    item_id=original.item_id,
                    derived_from=original.sha256,
                    method=str(cut.method),
                    start_s=cut.start_s,
                    end_s=cut.end_s,
                    watermark=watermark,
                    tool="ffmpeg",
                    tool_version=tool_version,
                    parameters={
                        "argv": list(cut.argv),
                        "requested_in_s": req["in_s"],
                        "requested_out_s": req["out_s"],
                    },
                    label=req["name"],
                )
            )
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
            copy = make_playable_copy(src, work / f"playable-{n:03d}.mp4")
            stem = o.name.rsplit(".", 1)[0]
            clips.append(
                ClipFile(
                    name=unique_name(f"{stem}.h264.mp4", clip_names),
                    sha256=copy.sha256,
                    size=copy.size,
                    source=copy.path,
                    item_id=o.item_id,
                    derived_from=o.sha256,
                    method="reencode",
                    start_s=0.0,
                    end_s=round(duration, 3),
                    watermark=None,
                    tool="ffmpeg",
                    tool_version=tool_version or ffmpeg_version(),
                    parameters={"purpose": PLAYABLE_PURPOSE, "argv": list(copy.argv)},
                    label=f"{o.label or o.name} — H.264 浏览器播放副本 (derived copy)",
                )
            )
        # Step 3: the EXPORT ledger entry pins recipient, purpose and every hash.
        details = export_details(
            export_id=export_id,
            case_id=plan.case["id"],
            case_number=plan.case["number"],
            recipient=plan.export["recipient"],
            purpose=plan.export["purpose"],
            originals=originals,
            clips=clips,
            exporter=actor,
        )
        db.call(_record_export, export_id, actor, details, f"case:{plan.case['id']}")
        # Step 4: a fresh signed tree head covering that entry.
        head_row = issue_tree_head(db, key, settings)
        assert head_row is not None
        head, head_token = head_of(head_row), head_row.tsa_token
        # Every key the server has signed with (old manifests may carry a retired key), each
        # with its validity window; the head's fingerprint goes into bag-info and the report.
        keys_known = db.call(keyring, key)
        head_fp = next(
            (r.fingerprint for r in keys_known if r.key_id == head.key_id), fingerprint(key.private)
        )
        # Step 5: the ledger slice with inclusion proofs, and the signed manifests.
        subjects = [f"case:{plan.case['id']}"] + [f"evidence:{o.item_id}" for o in originals]

        def gather(s: Session) -> tuple[list[Any], list[bytes], dict[str, list[ManifestVersion]]]:
            return (
                _slice(s, subjects, head.size),
                ledger_leaves(s, head.size),
                _manifests(s, [o.item_id for o in originals], key),
            )

        entries, leaves, manifests = db.call(gather)
        if len(leaves) != head.size:
            raise RuntimeError("the ledger changed under the tree head just signed")
        records = ledger_records(entries, leaves)
        # Step 6: the custody report.
        created = utcnow()
        report, pdf, report_json = _report(
            plan,
            originals,
            clips,
            records,
            head,
            head_token,
            created,
            font,
            head_fp,
            settings.camera_timezone,
        )
        roots = (
            Path(settings.tsa_roots_file).read_bytes()
            if settings.tsa_roots_file and Path(settings.tsa_roots_file).is_file()
            else None
        )
        bundle = ExportBundle(
            export_id=export_id,
            bag_info=(
                ("Source-Organization", plan.case["agency"] or "—"),
                ("Internal-Sender-Identifier", plan.case["number"]),
                ("Internal-Sender-Description", f"案件 {plan.case['number']} {plan.case['title']}"),
                ("Case-Number", plan.case["number"]),
                ("Agency", plan.case["agency"] or "—"),
                ("Exporter", actor),
                ("Recipient", plan.export["recipient"]),
                ("Purpose", plan.export["purpose"]),
                ("Export-Time", rfc3339(created)),
                ("Report-Font", font.describe()),
            ),
            originals=tuple(originals),
            clips=tuple(clips),
            manifests=manifests,
            ledger=tuple(records),
            tree_head=head,
            tree_head_token=head_token,
            public_keys=[r.public for r in keys_known],
            key_windows=windows(keys_known),
            report_pdf=pdf,
            report_json=report_json,
            created_at=created,
            tsa_roots_pem=roots,
            title=f"{plan.case['number']} {plan.case['title']}",
        )
        spec = build_spec(bundle)
        total = sum(o.size for o in originals) + sum(c.size for c in clips) or 1
        result = write_package_file(
            spec, target, progress=lambda done: progress(0.05 + 0.95 * done / total)
        )
        # Step 7: the bytes sealed must be the bytes the catalogue recorded.
        written = {f.path: f for f in result.payload}
        for o in originals:
            got = written[f"data/originals/{o.name}"]
            if got.sha256 != o.sha256 or got.size != o.size:
                target.unlink(missing_ok=True)
                raise RuntimeError(
                    f"stored original of {o.item_id} hashes to {got.sha256}, "
                    f"not {o.sha256}: the store is damaged; run custodian verify"
                )
        summary = {
            "originals": len(originals),
            "clips": len(clips),
            "ledger_entries": len(records),
            "tree_head_size": head.size,
            "payload_oxum": result.payload_oxum,
            "font_embedded": font.embedded,
            "font": font.describe(),
            "font_warnings": list(font.skipped),
            "signing_key_fingerprint": head_fp,
            "timestamped": head_token is not None,
        }
        if out_path is None:  # a package kept on the server: its user's only
            from server.intake.hygiene import private_export

            private_export(target)
        db.call(_finish, export_id, result, target, summary, actor, plan.case["id"])
        if not font.embedded:
            logger.warning("export %s: %s", export_id, font.describe())
        logger.info(
            "export %s sealed: %s (%d bytes, sha256 %s)",
            export_id,
            target,
            result.archive_size,
            result.archive_sha256,
        )
        return {
            "export_id": export_id,
            "package_sha256": result.archive_sha256,
            "package_size": result.archive_size,
            **summary,
        }
    except BaseException as exc:
        db.call(_fail, export_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_job(
    settings: Settings,
    db: Database,
    store: ObjectStore,
    subject: str,
    progress: Callable[[float], None],
) -> dict[str, Any]:
    """Job handler for kind "export" (subject: the export id)."""
    return run_export(settings, db, store, subject, progress)
