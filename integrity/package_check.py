"""A second, independent judge of sealed packages, built on the integrity package itself.

verify.py (integrity/verify_package.py) must run on a bare Python, so it carries its own
Ed25519, canonical JSON, Merkle and BagIt code. This module reaches the same verdict from the
integrity package's own primitives (cryptography's Ed25519, integrity.canonical, .merkle,
.ledger, .manifest) and shares no code with verify.py. A differential test feeds both the same
randomly damaged packages: any disagreement is a bug in one of them.

RFC 3161 tokens are left to verify.py (it runs openssl); everything else is judged here.
The verdict is an exit code with the same meaning: 0 valid and signed by a trusted key,
1 invalid, 2 unreadable (or over a size limit), 3 integrity holds but origin not established.
Trusted keys are given as fingerprints (SHA-256 of the raw key, hex), with an optional window.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrity import merkle, signing
from integrity.canonical import canonical_json, loads
from integrity.ledger import GENESIS_PREV, TREE_HEAD_FORMAT, LedgerEntry, entry_hash, leaf_for
from integrity.package_files import (
    LINE_LIMIT,
    Unreadable,
    _Files,
    _open,
)
from integrity.timefmt import parse_rfc3339

VALID, INVALID, UNREADABLE, UNTRUSTED = 0, 1, 2, 3
ENTRY_KEYS = frozenset({"seq", "time", "actor", "action", "subject", "details_hash", "prev_hash"})
EXPORT_FORMAT = "custodian.export/1"
MANIFEST_FORMAT = "custodian.item-manifest/1"


@dataclass(frozen=True)
class Trust:
    """A key the clerk trusts, by fingerprint, optionally only within [start, end]."""

    fingerprint: str
    start: str | None = None
    end: str | None = None


@dataclass
class Verdict:
    """Why a package is what it is: the failures found and the keys that signed."""

    failures: list[str] = field(default_factory=list)
    signers: set[str] = field(default_factory=set)  # fingerprints
    origin: bool = False

    @property
    def code(self) -> int:
        if self.failures:
            return INVALID
        return VALID if self.origin else UNTRUSTED


# -- judging ---------------------------------------------------------------------------------
def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_rfc3339(text, naive_zone=UTC)
    except ValueError:
        return None


def _inside(moment: str, start: Any, end: Any) -> bool:
    when, lo, hi = _when(moment), _when(start), _when(end)
    return when is not None and (lo is None or when >= lo) and (hi is None or when <= hi)


def _digests(files: _Files, name: str, fail: list[str]) -> dict[str, str] | None:
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    try:
        for block in files.chunks(name):
            h256.update(block)
            h512.update(block)
    except (zipfile.BadZipFile, OSError) as exc:
        fail.append(f"{name}: unreadable ({exc})")
        return None
    return {"sha256": h256.hexdigest(), "sha512": h512.hexdigest()}


def _manifest_lines(text: str, what: str, fail: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, space, path = line.partition(" ")
        path = path.lstrip(" ")
        if not space or not path or not re.fullmatch(r"[0-9a-fA-F]+", digest):
            fail.append(f"{what}: bad line")
            continue
        path = path.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
        path = unicodedata.normalize("NFC", path)
        if path in out:
            fail.append(f"{what}: {path} twice")
        out[path] = digest.lower()
    return out


def _json(files: _Files, name: str, fail: list[str]) -> Any:
    try:
        return loads(files.whole(name))
    except (ValueError, UnicodeDecodeError):
        fail.append(f"{name}: not JSON")
        return None


def judge(path: str | os.PathLike[str], trusted: Sequence[Trust] = ()) -> Verdict:
    """The verdict on one package (folder or ZIP); raises Unreadable for exit 2."""
    files = _open(Path(path))
    v = Verdict()
    fail = v.failures
    fail.extend(files.flaws)
    names = files.sizes

    # The bag: declaration, info, payload and tag manifests.
    if "bagit.txt" not in names:
        fail.append("no bagit.txt")
    else:
        decl: dict[str, str] = {}
        for line in files.whole("bagit.txt").decode("utf-8", "replace").splitlines():
            k, _, val = line.partition(":")
            decl[k.strip()] = val.strip()
        if (
            decl.get("BagIt-Version") != "1.0"
            or decl.get("Tag-File-Character-Encoding", "").upper() != "UTF-8"
        ):
            fail.append("bagit.txt declaration")
    info: dict[str, list[str]] = {}
    if "bag-info.txt" not in names:
        fail.append("no bag-info.txt")
    else:
        last: str | None = None
        for line in files.whole("bag-info.txt").decode("utf-8", "replace").splitlines():
            if last and line[:1] in (" ", "\t"):
                info[last][-1] += " " + line.strip()
                continue
            k, colon, val = line.partition(":")
            if not colon:
                fail.append("bag-info.txt: unlabelled line")
                last = None
                continue
            last = k.strip()
            info.setdefault(last, []).append(val.strip())

    def first(label: str) -> str | None:
        return info[label][0] if info.get(label) else None

    lists: dict[str, dict[str, str]] = {}
    for alg in ("sha256", "sha512"):
        if f"manifest-{alg}.txt" in names:
            text = files.whole(f"manifest-{alg}.txt").decode("utf-8", "replace")
            lists[alg] = _manifest_lines(text, f"manifest-{alg}.txt", fail)
    if "sha256" not in lists:
        fail.append("no manifest-sha256.txt")
    payload = sorted(n for n in names if n.startswith("data/"))
    listed = {p for entries in lists.values() for p in entries}
    for p in listed:
        if not p.startswith("data/") or p.startswith("/") or "\\" in p or ".." in p.split("/"):
            fail.append(f"manifest lists {p} outside data/")
    found: dict[str, dict[str, str]] = {}
    for name in payload:
        if name not in listed:
            fail.append(f"{name}: unlisted")
            continue
        got = _digests(files, name, fail)
        if got is None:
            continue
        found[name] = got
        for alg, entries in lists.items():
            if entries.get(name) != got[alg]:
                fail.append(f"{name}: {alg} differs or unlisted")
    for name in listed - set(payload):
        fail.append(f"{name}: missing")
    if first("Payload-Oxum") != f"{sum(names[n] for n in payload)}.{len(payload)}":
        fail.append("Payload-Oxum")
    tag_listed: set[str] = set()
    any_tag = False
    for alg in ("sha256", "sha512"):
        if f"tagmanifest-{alg}.txt" not in names:
            continue
        any_tag = True
        text = files.whole(f"tagmanifest-{alg}.txt").decode("utf-8", "replace")
        for name, digest in _manifest_lines(text, f"tagmanifest-{alg}.txt", fail).items():
            tag_listed.add(name)
            if name not in names:
                fail.append(f"{name}: tag file missing")
                continue
            got = _digests(files, name, fail)
            if got is not None and got[alg] != digest:
                fail.append(f"{name}: tag {alg} differs")
    if not any_tag:
        fail.append("no tag manifest")
    for name in names:
        if not name.startswith(("data/", "tagmanifest-")) and name not in tag_listed:
            fail.append(f"{name}: unlisted tag file")
    recorded_verifier = first("Verifier-SHA256")
    if recorded_verifier and "verify.py" in names:
        got = _digests(files, "verify.py", fail)
        if got is not None and got["sha256"] != recorded_verifier:
            fail.append("verify.py differs from Verifier-SHA256")

    # Keys and the signed tree head.
    keys: dict[str, Any] = {}
    windows: dict[str, tuple[Any, Any]] = {}
    used: dict[str, list[str | None]] = {}
    doc = _json(files, "data/ledger/keys.json", fail) if "data/ledger/keys.json" in names else None
    if doc is None:
        fail.append("no keys")
    else:
        for item in doc.get("keys", []) if isinstance(doc, dict) else []:
            try:
                raw = bytes.fromhex(item["public_key_hex"])
            except (KeyError, ValueError, TypeError):
                fail.append("keys.json: key without hex")
                continue
            if len(raw) != signing.RAW_KEY_LENGTH:
                fail.append("keys.json: key length")
                continue
            kid = signing.key_id(raw)
            if item.get("key_id") != kid:
                fail.append("keys.json: key id")
                continue
            if item.get("fingerprint") is not None and item["fingerprint"] != signing.fingerprint(
                raw
            ):
                fail.append("keys.json: fingerprint")
            keys[kid] = raw
            windows[kid] = (item.get("valid_from"), item.get("valid_to"))

    def signed_ok(kid: Any, data: bytes, sig: Any, moment: str | None) -> bool:
        if kid not in keys:
            fail.append(f"signed by unknown key {kid}")
            return False
        if not isinstance(sig, str) or not signing.verify(keys[kid], data, sig):
            fail.append(f"bad signature by {kid}")
            return False
        used.setdefault(kid, []).append(moment)
        return True

    head: dict[str, Any] | None = None
    if "data/ledger/tree-head.json" not in names:
        fail.append("no tree head")
    else:
        candidate = _json(files, "data/ledger/tree-head.json", fail)
        if candidate is not None:
            try:
                signed = canonical_json(
                    {
                        "format": TREE_HEAD_FORMAT,
                        "size": candidate["size"],
                        "root": candidate["root"],
                        "time": candidate["time"],
                        "key_id": candidate["key_id"],
                    }
                )
            except (KeyError, TypeError, ValueError):
                fail.append("tree head fields")
            else:
                if signed_ok(
                    candidate["key_id"],
                    signed,
                    candidate.get("signature", ""),
                    str(candidate["time"]),
                ):
                    head = candidate
                    extra = "data/ledger/tree-head.signed.json"
                    if extra in names and files.whole(extra) != signed:
                        fail.append("tree-head.signed.json")

    # The ledger slice.
    accepted: list[tuple[dict[str, Any], Any]] = []
    if "data/ledger/entries.jsonl" not in names:
        fail.append("no ledger")
    else:
        try:
            lines = files.whole("data/ledger/entries.jsonl").decode("utf-8").splitlines()
        except UnicodeDecodeError:
            fail.append("ledger not UTF-8")
            lines = []
        if len(lines) > LINE_LIMIT:
            raise Unreadable("ledger too long")
        before: LedgerEntry | None = None
        before_hash = ""
        for line in lines:
            try:
                record = loads(line.encode("utf-8"))
                fields_ = record["entry"]
                if set(fields_) != ENTRY_KEYS:
                    raise ValueError("fields")
                entry = LedgerEntry(**{k: fields_[k] for k in ENTRY_KEYS})
                details = record["details"]
                seq = int(entry.seq)
                digest = entry_hash(entry)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
                fail.append("ledger line malformed")
                before = None
                continue
            bad = False
            try:
                details_ok = (
                    hashlib.sha256(canonical_json(details)).hexdigest() == entry.details_hash
                )
            except (ValueError, TypeError):
                details_ok = False
            if not details_ok:
                bad = True
            if record.get("entry_hash") is not None and record.get("entry_hash") != digest:
                bad = True
            if seq == 1 and entry.prev_hash != GENESIS_PREV:
                bad = True
            if before is not None:
                if seq <= int(before.seq):
                    bad = True
                elif seq == int(before.seq) + 1 and entry.prev_hash != before_hash:
                    bad = True
            if head is not None:
                try:
                    proof = [bytes.fromhex(x) for x in record["proof"]]
                    size = int(record.get("tree_size", head["size"]))
                    ok = size == head["size"] and merkle.verify_inclusion(
                        leaf_for(entry),
                        seq - 1,
                        int(head["size"]),
                        proof,
                        bytes.fromhex(head["root"]),
                    )
                except (KeyError, ValueError, TypeError):
                    ok = False
                if not ok:
                    bad = True
            if bad:
                fail.append(f"ledger entry {seq}")
            else:
                accepted.append((fields_, details))
            before, before_hash = entry, digest

    # The export entry pins originals and clips.
    export_id = first("External-Identifier")
    mine = [
        d
        for e, d in accepted
        if e["action"] == "export"
        and isinstance(d, dict)
        and d.get("format") == EXPORT_FORMAT
        and d.get("export_id") == export_id
    ]
    export = mine[-1] if export_id and mine else None
    if export is None:
        fail.append("export entry")
    else:
        for folder, key in (("originals", "items"), ("clips", "clips")):
            wanted = {f"data/{folder}/{x['path']}": x["sha256"] for x in export.get(key, [])}
            for name, sha in wanted.items():
                if name not in names or found.get(name, {}).get("sha256") != sha:
                    fail.append(f"{name}: not as the export entry records")
            for name in names:
                if name.startswith(f"data/{folder}/") and name not in wanted:
                    fail.append(f"{name}: not in the export entry")

    # Signed item manifests.
    originals = {found[n]["sha256"]: n for n in found if n.startswith("data/originals/")}
    versions: dict[str, list[int]] = {}
    for name in names:
        m = re.fullmatch(r"data/manifests/([^/]+)/v(\d+)\.json", name)
        if m:
            versions.setdefault(m.group(1), []).append(int(m.group(2)))
    described: set[Any] = set()
    for item, numbers in versions.items():
        previous: str | None = None
        for n in sorted(numbers):
            rel = f"data/manifests/{item}/v{n}.json"
            sig_rel = f"data/manifests/{item}/v{n}.sig.json"
            data = files.whole(rel)
            if sig_rel not in names:
                fail.append(f"{sig_rel} missing")
                continue
            sig = _json(files, sig_rel, fail)
            if sig is None:
                continue
            signed_ok(
                sig.get("key_id", "") if isinstance(sig, dict) else "",
                data,
                sig.get("signature", "") if isinstance(sig, dict) else "",
                None,
            )
            try:
                body = loads(data)
                canonical = canonical_json(body) == data
            except (ValueError, TypeError, UnicodeDecodeError):
                body, canonical = None, False
            if not canonical or not isinstance(body, dict):
                fail.append(f"{rel} not canonical")
                continue
            if (body.get("format"), body.get("item_id"), body.get("version")) != (
                MANIFEST_FORMAT,
                item,
                n,
            ):
                fail.append(f"{rel} identity")
            if n > 1 and previous is not None and body.get("supersedes") != previous:
                fail.append(f"{rel} chain")
            previous = hashlib.sha256(data).hexdigest()
            if n == max(numbers):
                original = body.get("original") or {}
                described.add(str(original.get("sha256")))
                where = originals.get(str(original.get("sha256")))
                if where is None or names.get(where) != original.get("size"):
                    fail.append(f"{rel}: original absent or size differs")
    for sha in originals:
        if sha not in described:
            fail.append(f"original {sha} undescribed")
    if export is not None:
        present = set(originals)
        listed_items = {x.get("sha256") for x in export.get("items", [])}
        for clip in export.get("clips", []):
            if (
                clip.get("derived_from") not in listed_items
                or clip.get("derived_from") not in present
            ):
                fail.append("clip derivation")

    # Origin: every signer trusted, every head inside its declared and trusted windows.
    untrusted = False
    for kid, moments in used.items():
        fp = signing.fingerprint(keys[kid])
        v.signers.add(fp)
        mine_t = [t for t in trusted if t.fingerprint == fp]
        for moment in moments:
            if moment is None:
                continue
            lo, hi = windows.get(kid, (None, None))
            if (lo or hi) and not _inside(moment, lo, hi):
                fail.append(f"{kid} outside its declared window")
            if mine_t and not any(_inside(moment, t.start, t.end) for t in mine_t):
                fail.append(f"{kid} outside its trusted window")
        if not mine_t:
            untrusted = True
    claimed = first("Signing-Key-Fingerprint")
    if claimed and head is not None and head.get("key_id") in keys:
        if claimed.lower() != signing.fingerprint(keys[head["key_id"]]):
            fail.append("Signing-Key-Fingerprint")
    v.origin = bool(trusted) and head is not None and bool(used) and not untrusted
    return v


def exit_code(path: str | os.PathLike[str], trusted: Sequence[Trust] = ()) -> int:
    """The verdict as verify.py's exit code."""
    try:
        return judge(path, trusted).code
    except Unreadable:
        return UNREADABLE


__all__ = ["Trust", "Unreadable", "Verdict", "exit_code", "judge"]
