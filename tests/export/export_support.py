"""Build sealed packages from the integrity layer alone, and run the offline verifier."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from integrity import merkle
from integrity.canonical import canonical_json
from integrity.export_layout import (
    ClipFile,
    ExportBundle,
    ManifestVersion,
    OriginalFile,
    build_spec,
    export_details,
    ledger_records,
)
from integrity.hashing import sha256_file
from integrity.ledger import GENESIS_PREV, entry_hash, leaf_for, make_entry, sign_tree_head
from integrity.manifest import ItemManifest, OriginalInfo, sign_manifest
from integrity.package import write_package_file
from integrity.signing import generate_key
from integrity.tsa import request_token

ROOT = Path(__file__).resolve().parents[2]

NOW = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Built:
    """A package on disk: the ZIP, its unpacked bag folder, the key that signed it."""

    zip_path: Path
    folder: Path
    key_id: str
    fingerprint: str = ""


def run_verify(
    target: Path, *, verifier: Path | None = None, trusted: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python verify.py TARGET [--trusted-key KEY]` in a subprocess (the package's own
    verify.py by default)."""
    script = verifier or (
        target / "verify.py" if target.is_dir() else ROOT / "integrity" / "verify_package.py"
    )
    extra = ["--trusted-key", str(trusted)] if trusted is not None else []
    return subprocess.run(
        [sys.executable, str(script), str(target), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def unpack(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    (folder,) = [p for p in dest.iterdir() if p.is_dir()]
    return folder


def build_package(
    out_dir: Path,
    media_dir: Path,
    tsa=None,
    *,
    old_key=None,  # type: ignore[no-untyped-def]
    windows=None,
) -> Built:
    """Two originals with signed manifests, one clip, a ledger of 8 entries of which the
    package carries 6, a signed tree head (stamped when tsa is given). old_key: the manifests
    are signed by this (retired) key and the head by a new one, as after a key rotation;
    windows: {key_id: (valid_from, valid_to)} for keys.json."""
    key = generate_key()
    manifest_key = old_key or key
    originals, manifests = [], {}
    for n, name in enumerate(["cam1.mp4", "cam2.mp4"], 1):
        path = media_dir / name
        sha = sha256_file(path)
        item_id = f"item{n}"
        info = OriginalInfo(
            sha256=sha,
            size=path.stat().st_size,
            original_name=f"执法记录仪{n}.mp4",
            delivered_by="user:1:station",
            station_id="S1",
            claimed_sha256=sha,
            received_at=NOW,
        )
        m1 = ItemManifest(item_id, 1, None, info, (), NOW)
        m2 = m1.next_version(created_at=NOW)
        versions = [ManifestVersion(sign_manifest(m, manifest_key), m.version) for m in (m1, m2)]
        if tsa is not None:
            v = versions[-1]
            versions[-1] = ManifestVersion(
                v.signed, v.version, request_token(tsa.url, v.signed.manifest_bytes)
            )
        manifests[item_id] = versions
        originals.append(
            OriginalFile(
                item_id,
                f"{n:02d}_执法记录仪{n}.mp4",
                sha,
                path.stat().st_size,
                path,
                f"执法记录仪 {n}",
            )
        )
    clip_path = media_dir / "cam1.mp4"  # stands in for a cut clip (its bytes are what count)
    clip = ClipFile(
        name="clip-01.mp4",
        sha256=sha256_file(clip_path),
        size=clip_path.stat().st_size,
        source=clip_path,
        item_id="item1",
        derived_from=originals[0].sha256,
        method="stream_copy",
        start_s=0.0,
        end_s=2.0,
        watermark=None,
        tool="ffmpeg",
        tool_version="test",
    )
    details = export_details(
        export_id="exp1",
        case_id="case1",
        case_number="2024-001",
        recipient="某某区人民法院",
        purpose="诉讼",
        originals=originals,
        clips=[clip],
        exporter="user:3:legal",
    )
    entries, prev = [], GENESIS_PREV
    subjects = [
        "evidence:item1",
        "evidence:item2",
        "case:other",
        "evidence:item1",
        "case:other",
        "case:case1",
        "evidence:item2",
        "case:case1",
    ]
    for seq, subject in enumerate(subjects, 1):
        d = details if seq == 8 else {"n": seq, "note": "查看"}
        e = make_entry(
            seq=seq,
            time=NOW,
            actor="user:1:x",
            action="export" if seq == 8 else "view",
            subject=subject,
            details=d,
            prev_hash=prev,
        )
        entries.append((e, d))
        prev = entry_hash(e)
    leaves = [leaf_for(e) for e, _ in entries]
    head = sign_tree_head(len(leaves), merkle.root(leaves), NOW, key)
    chosen = [(e, d) for e, d in entries if e.subject != "case:other"]
    head_token = request_token(tsa.url, head.signing_bytes()) if tsa is not None else None
    bundle = ExportBundle(
        export_id="exp1",
        bag_info=(
            ("Source-Organization", "A1 执法局"),
            ("Contact-Name", "legal"),
            ("Internal-Sender-Identifier", "2024-001"),
        ),
        originals=tuple(originals),
        clips=(clip,),
        manifests=manifests,
        ledger=tuple(ledger_records(chosen, leaves)),
        tree_head=head,
        tree_head_token=head_token,
        public_keys=[k.public_key() for k in ((old_key, key) if old_key else (key,))],
        key_windows=windows or {},
        report_pdf=b"%PDF-1.4 stand-in\n",
        report_json=canonical_json({"case": "2024-001"}),
        created_at=NOW,
        tsa_roots_pem=tsa.root_pem.read_bytes() if tsa is not None else None,
        title="测试案件",
    )
    zip_path = out_dir / "package.zip"
    write_package_file(build_spec(bundle), zip_path)
    folder = unpack(zip_path, out_dir / "unpacked")
    from integrity.signing import fingerprint, key_id

    return Built(zip_path, folder, key_id(key), fingerprint(key))
