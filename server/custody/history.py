"""Custody history (留痕记录) of one evidence item or one case: the ledger entries about it, in
order, readable by whoever may read the item or case (not only auditors), each with a short
human description in the caller's language and the way to its inclusion proof."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from server.access import READ_LEDGER, Principal, can
from server.catalogue.models import Case, CaseLink, LedgerRow, User
from server.errors import BadRequest, NotFound

PAGE_DEFAULT = 200
PAGE_MAX = 1000

# Entry types (ledger actions) with their labels; unknown types are shown generically.
TYPE_LABELS: dict[str, tuple[str, str]] = {
    "ingest": ("接收入库", "Ingest"),
    "duplicate_received": ("重复接收", "Duplicate received"),
    "view": ("查看", "View"),
    "link": ("关联案件", "Link to case"),
    "unlink": ("解除关联", "Unlink"),
    "annotation": ("标注", "Annotation"),
    "export": ("导出", "Export"),
    "retention_change": ("保存期限变更", "Retention change"),
    "user_change": ("用户变更", "User change"),
    "verification": ("完整性核验", "Verification"),
    "upload_refused": ("拒收上传", "Upload refused"),
    "fixity_scrub": ("定期校验", "Fixity check"),
    "case_change": ("案件变更", "Case change"),
    "record": ("文书", "Record"),
    "approval": ("审批", "Approval"),
    "complaint": ("投诉举报", "Complaint"),
    "disposal_request": ("处置申请", "Disposal request"),
    "disposal_approval": ("处置批准", "Disposal approval"),
    "derivation": ("生成派生文件", "Derivation"),
    "download": ("下载", "Download"),
    "spot_check": ("抽查", "Spot check"),
    "rectification": ("责令限期整改", "Rectification order"),
    "attribute": ("归属认定", "Attribution"),
    "reattribute": ("重新归属", "Re-attribution"),
    "key_rotation": ("密钥轮换", "Key rotation"),
    "officer_add": ("登记执法人员", "Officer registered"),
    "officer_update": ("变更执法人员", "Officer updated"),
    "officer_leave": ("执法人员离岗", "Officer left"),
    "device_add": ("登记执法记录仪", "Camera registered"),
    "device_update": ("变更执法记录仪", "Camera updated"),
    "device_assign": ("配发执法记录仪", "Camera assigned"),
    "device_retire": ("停用执法记录仪", "Camera retired"),
    "station_add": ("登记采集站", "Station registered"),
    "access_denied": ("拒绝访问", "Access denied"),
    "agency_change": ("单位变更", "Agency change"),
    "login": ("登录", "Login"),
    "login_failed": ("登录失败", "Failed login"),
}

STAGE_NAMES: dict[str, tuple[str, str]] = {
    "initiation": ("程序启动", "Initiation"),
    "investigation": ("调查取证", "Investigation"),
    "decision": ("审查决定", "Review & decision"),
    "service_execution": ("送达执行", "Service & execution"),
    "archiving": ("归档管理", "Archiving"),
}

RETENTION_CLASSES: dict[str, tuple[str, str]] = {
    "ordinary": ("一般保存", "ordinary"),
    "case": ("随案保存", "kept with its case"),
    "legal_hold": ("诉讼保全", "legal hold"),
    "disposed": ("已处置", "disposed"),
}

VIEW_WHAT: dict[str, tuple[str, str]] = {
    "playback": ("播放", "playback"),
    "original": ("获取原始文件", "original file read"),
    "export_package": ("下载导出包", "package download"),
    "original_download": ("下载原始文件", "original download"),
    "case": ("打开案件", "case opened"),
    "package": ("下载导出包", "package download"),
    "download": ("下载", "download"),
}


def _pick(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def type_label(action: str, lang: str) -> str:
    pair = TYPE_LABELS.get(action)
    if pair:
        return _pick(lang, pair)
    return "其他操作" if lang != "en" else action.replace("_", " ").capitalize()


def _stage(value: Any, lang: str) -> str:
    pair = STAGE_NAMES.get(str(value))
    return _pick(lang, pair) if pair else str(value or "")


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


# Labels of the rule pack (document types, approval kinds): {(catalogue, id): (zh, en)}.
PackLabels = dict[tuple[str, str], tuple[str, str]]

SIGNATURE: dict[str, tuple[str, str]] = {
    "signed": ("已签名", "signed"),
    "refused": ("拒签", "refused to sign"),
    "not_applicable": ("无需签名", "no signature needed"),
}


def pack_labels(settings: Any) -> PackLabels:
    """Document-type and approval-kind labels of the base rule pack (empty if it cannot be read)."""
    try:
        from server.cases.rulebook import rulebook

        packs = rulebook(settings.rules_dir, settings.rule_pack).packs()
    except Exception:  # labels only: the history is still shown with identifiers named generically
        return {}
    out: PackLabels = {}
    for pack in packs:
        for cat, entries in (("doc_type", pack.doc_types), ("approval_kind", pack.approval_kinds)):
            for key, e in entries.items():
                out.setdefault((cat, key), (e.label_zh, e.label_en))
    return out


def summary(action: str, d: dict[str, Any], lang: str, labels: PackLabels | None = None) -> str:
    """One line saying what the entry records, in the caller's language (data stay as they are)."""
    en = lang == "en"
    labels = labels or {}
    sha = str(d.get("sha256") or "")[:12]
    if action in ("ingest", "duplicate_received"):
        parts = [
            str(d.get("filename") or ""),
            _size(d.get("size")),
            f"SHA-256 {sha}…" if sha else "",
        ]
        if d.get("device_id"):
            parts.append(("camera " if en else "执法记录仪 ") + str(d["device_id"]))
        return " · ".join(p for p in parts if p)
    if action == "view":
        pair = VIEW_WHAT.get(str(d.get("what") or ""))
        what = _pick(lang, pair) if pair else ("" if not en else str(d.get("what") or ""))
        return what
    if action in ("link", "unlink"):
        number, stage = str(d.get("number") or ""), _stage(d.get("stage"), lang)
        if action == "link":
            return f"case {number} · {stage}" if en else f"案件 {number} · {stage}"
        reason = str(d.get("reason") or "")
        return (f"case {number} · {stage}" if en else f"案件 {number} · {stage}") + (
            f" · {reason}" if reason else ""
        )
    if action == "annotation":
        annotated = d.get("what")
        if annotated == "bookmark":
            t = d.get("time_s")
            at = f"{float(t):.3f} s" if isinstance(t, int | float) else ""
            return (f"bookmark at {at}" if en else f"书签 {at}") + (
                f" · {d['note']}" if d.get("note") else ""
            )
        if annotated == "basket_clip":
            a, b = d.get("in_s"), d.get("out_s")
            span = f"{a}–{b} s" if a is not None and b is not None else ""
            return (f"clip for export {span}" if en else f"待导出片段 {span}") + (
                f" · {d['name']}" if d.get("name") else ""
            )
        return ""
    if action == "export":
        n = len(d.get("items") or []) + len(d.get("clips") or [])
        who = str(d.get("recipient") or "")
        why = str(d.get("purpose") or "")
        if en:
            return f"{n} file(s) to {who}" + (f" · purpose: {why}" if why else "")
        return f"{n} 个文件，接收单位：{who}" + (f" · 用途：{why}" if why else "")
    if action == "case_change":
        event = d.get("event")
        if event == "opened":
            return (
                f"case {d.get('number', '')} opened" if en else f"案件 {d.get('number', '')} 启动"
            )
        if event in ("stage", "archived"):
            frm, to = _stage(d.get("from"), lang), _stage(d.get("to"), lang)
            return f"{frm} → {to}"
        return ""
    if action == "retention_change":
        pair = RETENTION_CLASSES.get(str(d.get("to_class") or ""))
        until = str(d.get("to_until") or "")[:10]
        cls = _pick(lang, pair) if pair else ""
        if en:
            return " · ".join(
                p for p in (cls, f"kept until {until}" if until else "kept indefinitely") if p
            )
        return " · ".join(p for p in (cls, f"保存至 {until}" if until else "长期保存") if p)
    if action == "record":
        doc = labels.get(("doc_type", str(d.get("doc_type") or "")))
        sig = SIGNATURE.get(str(d.get("signature_status") or ""))
        parts = [
            _pick(lang, doc) if doc else str(d.get("title") or ""),
            _stage(d.get("stage"), lang),
            _pick(lang, sig) if sig else "",
        ]
        if d.get("supersedes"):
            parts.append("correction" if en else "更正")
        return " · ".join(p for p in parts if p)
    if action == "approval":
        kind = labels.get(("approval_kind", str(d.get("kind") or "")))
        state = str(d.get("decision") or d.get("state") or "")
        states = {
            "approve": ("同意", "approved"),
            "approved": ("同意", "approved"),
            "reject": ("不同意", "rejected"),
            "rejected": ("不同意", "rejected"),
            "requested": ("已提请", "requested"),
            "pending": ("待审批", "pending"),
        }
        parts = [
            _pick(lang, kind) if kind else "",
            _pick(lang, states[state]) if state in states else "",
        ]
        return " · ".join(p for p in parts if p)
    if action in ("attribute", "reattribute"):
        after = d.get("after") if isinstance(d.get("after"), dict) else d
        officer = str(after.get("officer") or "") if isinstance(after, dict) else ""
        device = str(d.get("device") or "")
        if en:
            return " · ".join(
                p
                for p in (
                    f"camera {device}" if device else "",
                    f"officer {officer}" if officer else "",
                )
                if p
            )
        return " · ".join(
            p
            for p in (
                f"执法记录仪 {device}" if device else "",
                f"执法人员 {officer}" if officer else "",
            )
            if p
        )
    if action == "derivation":
        n = len(d.get("derived") or [])
        version = d.get("version")
        if en:
            return f"{n} derived file(s)" + (f" · manifest version {version}" if version else "")
        return f"{n} 个派生文件" + (f" · 清单第 {version} 版" if version else "")
    return ""


def _actors(s: Session, rows: list[LedgerRow]) -> dict[str, dict[str, Any]]:
    """actor text -> {user_id, username, name}; "system" and other actors keep their text."""
    ids: dict[str, int] = {}
    for r in rows:
        parts = r.actor.split(":", 2)
        if len(parts) == 3 and parts[0] == "user" and parts[1].isdigit():
            ids[r.actor] = int(parts[1])
    names: dict[int, tuple[str, str]] = {}
    if ids:
        for u in s.scalars(select(User).where(User.id.in_(set(ids.values())))):
            names[u.id] = (u.username, u.display_name or u.username)
    out: dict[str, dict[str, Any]] = {}
    for actor, uid in ids.items():
        username, name = names.get(uid, (actor.split(":", 2)[2], actor.split(":", 2)[2]))
        out[actor] = {"user_id": uid, "username": username, "name": name}
    return out


def _item_names(s: Session, rows: list[LedgerRow]) -> dict[str, str]:
    """subject -> the item's original file name, for entries about items."""
    from server.catalogue.models import EvidenceItem

    ids = {r.subject.split(":", 1)[1] for r in rows if r.subject.startswith("evidence:")}
    if not ids:
        return {}
    found = s.execute(
        select(EvidenceItem.id, EvidenceItem.original_filename).where(EvidenceItem.id.in_(ids))
    )
    return {f"evidence:{i}": name for i, name in found}


def _entry(
    row: LedgerRow,
    actors: dict[str, dict[str, Any]],
    lang: str,
    proof: str,
    names: dict[str, str],
    labels: PackLabels,
) -> dict[str, Any]:
    details = json.loads(row.details)
    who = actors.get(row.actor)
    if who is None:
        system = (
            row.actor == "system" or row.actor.startswith("cli:") or row.actor.startswith("worker")
        )
        name = ("System" if lang == "en" else "系统") if system else row.actor
        who = {"user_id": None, "username": None, "name": name}
    return {
        "seq": row.seq,
        "time": row.time,
        "actor": row.actor,
        "actor_name": who["name"],
        "actor_username": who["username"],
        "type": row.action,
        "type_label": type_label(row.action, lang),
        "subject": row.subject,
        "subject_name": names.get(row.subject, ""),
        "summary": summary(row.action, details, lang, labels),
        "details": details,
        "entry_hash": row.entry_hash,
        "proof": f"{proof}/{row.seq}/proof",
    }


def _page(
    s: Session,
    where: Any,
    after: int,
    limit: int,
    lang: str,
    proof: str,
    labels: PackLabels | None = None,
) -> dict[str, Any]:
    limit = max(1, min(limit, PAGE_MAX))
    rows = list(
        s.scalars(
            select(LedgerRow)
            .where(where, LedgerRow.seq > after)
            .order_by(LedgerRow.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    actors, names = _actors(s, rows), _item_names(s, rows)
    return {
        "items": [_entry(r, actors, lang, proof, names, labels or {}) for r in rows],
        "next": str(rows[-1].seq) if more else None,
    }


def _like_json(key: str, value: str) -> str:
    """A LIKE pattern for "key":"value" inside canonical JSON (sorted keys, no spaces)."""
    esc = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{key}":"{esc}"%'


def item_where(s: Session, item_id: str) -> Any:
    """Entries about the item: its own, and the exports of its cases that carried it."""
    case_ids = list(
        s.scalars(select(CaseLink.case_id).where(CaseLink.item_id == item_id).distinct())
    )
    clauses = [LedgerRow.subject == f"evidence:{item_id}"]
    if case_ids:
        clauses.append(
            and_(
                LedgerRow.action == "export",
                LedgerRow.subject.in_([f"case:{c}" for c in case_ids]),
                LedgerRow.details.like(_like_json("item_id", item_id), escape="\\"),
            )
        )
    return or_(*clauses)


def case_where(case: Case) -> Any:
    """Entries about the case: its own, and the links and unlinks of items to it."""
    return or_(
        LedgerRow.subject == f"case:{case.id}",
        and_(
            LedgerRow.action.in_(("link", "unlink")),
            LedgerRow.subject.like("evidence:%"),
            LedgerRow.details.like(_like_json("case", case.id), escape="\\"),
        ),
    )


def _read_item(s: Session, item_id: str, who: Principal) -> str:
    from server.catalogue.models import EvidenceItem
    from server.intake.evidence import get_item

    if can(who, READ_LEDGER) and who.role == "auditor":  # the auditors read the whole ledger
        item = (
            s.get(EvidenceItem, item_id)
            if isinstance(item_id, str) and len(item_id) <= 64
            else None
        )
        if item is None:
            raise NotFound(
                f"no evidence item {item_id}", params={"what": "evidence", "ref": str(item_id)[:64]}
            )
        return item.id
    return get_item(s, item_id, who).id


def _read_case(s: Session, ref: str, who: Principal) -> Case:
    from server.cases.lookups import get_case

    if can(who, READ_LEDGER) and who.role == "auditor":
        case = s.get(Case, ref) if isinstance(ref, str) and len(ref) <= 100 else None
        if case is None:
            raise NotFound(f"no case {ref!r}", params={"what": "case", "ref": str(ref)[:100]})
        return case
    return get_case(s, ref, who)


def item_custody(
    s: Session,
    item_id: str,
    who: Principal,
    *,
    after: int = 0,
    limit: int = PAGE_DEFAULT,
    lang: str = "zh-CN",
    labels: PackLabels | None = None,
) -> dict[str, Any]:
    iid = _read_item(s, item_id, who)
    return _page(
        s, item_where(s, iid), after, limit, lang, f"/api/v1/evidence/{iid}/custody", labels
    )


def case_custody(
    s: Session,
    ref: str,
    who: Principal,
    *,
    after: int = 0,
    limit: int = PAGE_DEFAULT,
    lang: str = "zh-CN",
    labels: PackLabels | None = None,
) -> dict[str, Any]:
    case = _read_case(s, ref, who)
    return _page(
        s, case_where(case), after, limit, lang, f"/api/v1/cases/{case.id}/custody", labels
    )


def entry_of_item(s: Session, item_id: str, seq: int, who: Principal) -> int:
    """seq, when that entry belongs to the item's custody history and the caller may read it."""
    iid = _read_item(s, item_id, who)
    return _check(s, item_where(s, iid), seq)


def entry_of_case(s: Session, ref: str, seq: int, who: Principal) -> int:
    case = _read_case(s, ref, who)
    return _check(s, case_where(case), seq)


def _check(s: Session, where: Any, seq: int) -> int:
    if seq < 1:
        raise BadRequest("ledger entries start at 1", code="bad_seq")
    if s.scalar(select(LedgerRow.seq).where(where, LedgerRow.seq == seq)) is None:
        raise NotFound(
            f"entry {seq} is not in this custody history",
            params={"what": "ledger_entry", "ref": str(seq)},
        )
    return seq
