"""Where everything goes inside a sealed export, and the EXPORT ledger details that pin it.

The server decides *what* is exported; this module alone decides *where* each piece lands in
the bag, so the writer (integrity.package) and the offline verifier (verify.py) agree on one
layout:

    data/originals/<name>                 original bytes, unchanged
    data/clips/<name>.mp4                 clips cut for this export
    data/manifests/<item>/vN.json         signed item manifest bytes (canonical JSON)
    data/manifests/<item>/vN.sig.json     {key_id, signature, sha256}
    data/manifests/<item>/vN.tsr          RFC 3161 reply over vN.json, where one exists
    data/ledger/entries.jsonl             one ledger entry per line, with details and proof
    data/ledger/tree-head.json            the signed tree head the proofs lead to
    data/ledger/tree-head.signed.json     its signed bytes (what tree-head.tsr stamps)
    data/ledger/tree-head.tsr             RFC 3161 reply over the tree head, where one exists
    data/ledger/keys.json                 public signing keys
    data/ledger/tsa-roots.pem             TSA root certificates, where configured
    data/report/custody-report.pdf|.json  the human custody report
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrity import merkle, signing
from integrity.canonical import canonical_json
from integrity.ledger import (
    FIRST_SEQ,
    TREE_HEAD_FORMAT,
    LedgerEntry,
    TreeHead,
    entry_hash,
    leaf_for,
)
from integrity.manifest import SignedManifest
from integrity.package import PackageFile, PackageSpec, Source, safe_component

EXPORT_DETAILS_FORMAT = "custodian.export/1"


@dataclass(frozen=True)
class OriginalFile:
    """One original going into data/originals/."""

    item_id: str
    name: str  # a safe, unique file name (integrity.package.unique_name)
    sha256: str
    size: int
    source: Source
    label: str = ""


@dataclass(frozen=True)
class ClipFile:
    """One clip going into data/clips/, with how and from what it was cut."""

    name: str
    sha256: str
    size: int
    source: Source
    item_id: str
    derived_from: str  # SHA-256 of the original it was cut from
    method: str  # "stream_copy" (on keyframes) or "reencode" (precise)
    start_s: float
    end_s: float
    watermark: str | None
    tool: str
    tool_version: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def record(self) -> dict[str, Any]:
        """The clip as named by the EXPORT ledger entry."""
        return {
            "path": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "item_id": self.item_id,
            "derived_from": self.derived_from,
            "method": self.method,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "watermark": self.watermark,
            "tool": self.tool,
            "tool_version": self.tool_version,
            "parameters": dict(self.parameters),
        }


def export_details(
    *,
    export_id: str,
    case_id: str,
    case_number: str,
    recipient: str,
    purpose: str,
    originals: Sequence[OriginalFile],
    clips: Sequence[ClipFile],
    exporter: str,
) -> dict[str, Any]:
    """Details of the EXPORT ledger entry: who gets what, for what, with every file's hash."""
    return {
        "format": EXPORT_DETAILS_FORMAT,
        "export_id": export_id,
        "case_id": case_id,
        "case_number": case_number,
        "recipient": recipient,
        "purpose": purpose,
        "exporter": exporter,
        "items": [
            {"item_id": o.item_id, "path": o.name, "sha256": o.sha256, "size": o.size}
            for o in originals
        ],
        "clips": [c.record() for c in clips],
    }


@dataclass(frozen=True)
class LedgerRecord:
    """One ledger entry as exported: the entry, its stored details, its inclusion proof."""

    entry: LedgerEntry
    details: Mapping[str, Any]
    proof: tuple[bytes, ...]
    tree_size: int

    def line(self) -> bytes:
        """One canonical JSON line of entries.jsonl."""
        return canonical_json(
            {
                "seq": self.entry.seq,
                "entry": self.entry.to_dict(),
                "entry_hash": entry_hash(self.entry),
                "details": dict(self.details),
                "leaf_index": self.entry.seq - FIRST_SEQ,
                "tree_size": self.tree_size,
                "proof": [p.hex() for p in self.proof],
            }
        )


def ledger_records(
    entries: Sequence[tuple[LedgerEntry, Mapping[str, Any]]], leaves: Sequence[bytes]
) -> list[LedgerRecord]:
    """Inclusion proofs for the chosen entries in the tree of all `leaves` (entries 1..n)."""
    records = []
    for entry, details in sorted(entries, key=lambda x: x[0].seq):
        index = entry.seq - FIRST_SEQ
        if leaves[index] != leaf_for(entry):
            raise ValueError(f"ledger entry {entry.seq} does not give its leaf in the tree")
        records.append(
            LedgerRecord(entry, details, tuple(merkle.inclusion_proof(leaves, index)), len(leaves))
        )
    return records


@dataclass(frozen=True)
class ManifestVersion:
    """One signed item-manifest version and its RFC 3161 reply, if stamped."""

    signed: SignedManifest
    version: int
    token: bytes | None = None


@dataclass(frozen=True)
class ExportBundle:
    """Everything of one export, ready to be laid out as a bag."""

    export_id: str
    bag_info: tuple[tuple[str, str], ...]
    originals: tuple[OriginalFile, ...]
    clips: tuple[ClipFile, ...]
    manifests: Mapping[str, Sequence[ManifestVersion]]
    ledger: tuple[LedgerRecord, ...]
    tree_head: TreeHead
    tree_head_token: bytes | None
    public_keys: Sequence[signing.PublicKeyLike]
    report_pdf: bytes
    report_json: bytes
    created_at: datetime
    tsa_roots_pem: bytes | None = None
    title: str = ""
    # key id -> (valid_from, valid_to) as RFC 3339 text or None (open): the server's keyring.
    key_windows: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)


def _keys_json(
    keys: Sequence[signing.PublicKeyLike],
    windows: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> bytes:
    out = []
    for k in keys:
        kid = signing.key_id(k)
        start, end = (windows or {}).get(kid, (None, None))
        out.append(
            {
                "key_id": kid,
                "fingerprint": signing.fingerprint(k),
                "algorithm": "Ed25519",
                "public_key_hex": signing.public_key_hex(k),
                "public_key_pem": signing.public_key_pem(k),
                "valid_from": start,
                "valid_to": end,
            }
        )
    return canonical_json({"keys": out})


def head_fingerprint(bundle: ExportBundle) -> str | None:
    """The fingerprint of the key that signed the bundle's tree head (None if not included)."""
    key = signing.select_key(
        {signing.key_id(k): k for k in bundle.public_keys}, bundle.tree_head.key_id
    )
    return signing.fingerprint(key) if key is not None else None


def build_spec(bundle: ExportBundle) -> PackageSpec:
    """The PackageSpec of an export, in the layout the module docstring describes."""
    files: list[PackageFile] = []
    for o in bundle.originals:
        files.append(PackageFile(f"originals/{o.name}", o.source, o.label))
    for c in bundle.clips:
        files.append(PackageFile(f"clips/{c.name}", c.source, c.label))
    for item_id, versions in bundle.manifests.items():
        folder = f"manifests/{safe_component(item_id)}"
        for v in versions:
            files.append(PackageFile(f"{folder}/v{v.version}.json", v.signed.manifest_bytes))
            sig = {
                "key_id": v.signed.key_id,
                "signature": v.signed.signature,
                "sha256": v.signed.sha256(),
            }
            files.append(PackageFile(f"{folder}/v{v.version}.sig.json", canonical_json(sig)))
            if v.token:
                files.append(PackageFile(f"{folder}/v{v.version}.tsr", v.token))
    lines = b"".join(r.line() + b"\n" for r in bundle.ledger)
    files.append(PackageFile("ledger/entries.jsonl", lines))
    head = bundle.tree_head
    head_json = {
        "format": TREE_HEAD_FORMAT,
        "size": head.size,
        "root": head.root_hex,
        "time": head.time,
        "key_id": head.key_id,
        "signature": head.signature,
    }
    files.append(PackageFile("ledger/tree-head.json", canonical_json(head_json)))
    files.append(PackageFile("ledger/tree-head.signed.json", head.signing_bytes()))
    if bundle.tree_head_token:
        files.append(PackageFile("ledger/tree-head.tsr", bundle.tree_head_token))
    files.append(
        PackageFile("ledger/keys.json", _keys_json(bundle.public_keys, bundle.key_windows))
    )
    if bundle.tsa_roots_pem:
        files.append(PackageFile("ledger/tsa-roots.pem", bundle.tsa_roots_pem))
    files.append(PackageFile("report/custody-report.pdf", bundle.report_pdf))
    files.append(PackageFile("report/custody-report.json", bundle.report_json))
    return PackageSpec(
        bag_name=f"custodian-export-{bundle.export_id}",
        bag_info=(
            *bundle.bag_info,
            ("External-Identifier", bundle.export_id),
            # What a clerk compares with the fingerprint the agency publishes.
            *((("Signing-Key-Fingerprint", fp),) if (fp := head_fingerprint(bundle)) else ()),
        ),
        files=tuple(files),
        created_at=bundle.created_at,
        title=bundle.title,
    )
