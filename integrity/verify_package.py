#!/usr/bin/env python3
"""Offline verifier of a Custodian sealed evidence package (standard library only).

Usage:  python verify.py [PACKAGE] [--trusted-key KEY_ID_OR_HEX] [--quiet]

PACKAGE is the unpacked bag folder (the one holding bagit.txt) or the ZIP as received; with no
argument the folder this file sits in is checked. Exit status: 0 when everything holds, 1 when
anything does not, 2 when the package cannot be read at all.

This one file is copied into every package as verify.py and is also what
`custodian verify-package` runs, so both give the same verdict. It needs nothing but Python 3.11+
(openssl, when installed, is used for RFC 3161 time-stamp tokens).

What is checked, in order:
  1. bagit.txt declares BagIt 1.0 in UTF-8.
  2. bag-info.txt parses; Payload-Oxum (bytes.files) matches the payload.
  3. Every payload file under data/ hashes (SHA-256 and SHA-512) to manifest-*.txt; files
     missing and files added are reported.
  4. Every tag file (bag-info.txt, the manifests, verify.html, player.html, verify.py) hashes to
     tagmanifest-*.txt; top-level files not listed are reported.
  5. The signed tree head (data/ledger/tree-head.json) verifies with the Ed25519 key of
     data/ledger/keys.json (pure-Python RFC 8032 verification below).
  6. Each ledger line (data/ledger/entries.jsonl): details hash, entry hash, prev_hash link to
     the entry before it where both are present, and its Merkle inclusion proof against the
     signed tree head (RFC 9162).
  7. The EXPORT ledger entry of this package names exactly the originals and clips inside it.
  8. Item manifests (data/manifests/<item>/vN.json): signature, canonical form, version chain,
     and the original's hash and size against the file in data/originals/.
  9. Clips: each names the original hash it was cut from, and that original is in the package.
 10. RFC 3161 tokens (*.tsr) verify with `openssl ts -verify` where openssl is available.

A verifier cannot vouch for itself: an edited verify.py could print anything. Its SHA-256 is
printed first and recorded in bag-info.txt (Verifier-SHA256) and the tag manifests; compare it
with the value the issuing agency gives you separately, or check the bag with any BagIt tool.
Likewise the signing key is trusted only if its key id matches the one the agency publishes
(pass --trusted-key to make that a hard check).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

BLOCK_SIZE = 1024 * 1024
BAG_ALGORITHMS = ("sha256", "sha512")
# Limits: anything beyond these is refused rather than parsed (hostile packages).
MAX_TAG_FILE_BYTES = 64 * 1024 * 1024
MAX_LEDGER_LINES = 1_000_000
MAX_PROOF_LENGTH = 128
MAX_FILES = 500_000
GENESIS_PREV = "0" * 64
TREE_HEAD_FORMAT = "custodian.tree-head/1"
MANIFEST_FORMAT = "custodian.item-manifest/1"
EXPORT_ACTION = "export"
EXPORT_FORMAT = "custodian.export/1"
ENTRY_FIELDS = ("seq", "time", "actor", "action", "subject", "details_hash", "prev_hash")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# =============================================================================================
# Pure-Python Ed25519 signature verification (RFC 8032 §5.1.7), after the RFC's own reference
# code. Only verification: nothing secret is handled here, so constant time does not matter.
# =============================================================================================
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
Point = tuple[int, int, int, int]  # extended homogeneous coordinates (X, Y, Z, T)


def _point_add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)  # the neutral element
    while scalar > 0:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _point_equal(a: Point, b: Point) -> bool:
    # x1/z1 == x2/z2 and y1/z1 == y2/z2, without inversions.
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(data: bytes) -> Point | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
assert _GX is not None
_G: Point = (_GX, _GY, 1, _GX * _GY % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when signature is a valid Ed25519 signature of message under public_key."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(public_key)
    if a is None:
        return False
    r_bytes = signature[:32]
    r = _decompress(r_bytes)
    if r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:  # non-canonical S: malleable, refused by RFC 8032
        return False
    h = int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % _L
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(h, a)))


# =============================================================================================
# Canonical JSON and Merkle proofs, as integrity/canonical.py and integrity/merkle.py define them
# =============================================================================================
def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {unicodedata.normalize("NFC", k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, NFC strings: one byte string per value."""
    return json.dumps(
        _nfc(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _strict_loads(data: bytes) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def no_constant(name: str) -> Any:
        raise ValueError(f"non-finite number {name}")

    return json.loads(
        data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant
    )


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2 inclusion proof check."""
    if not 0 <= index < size or len(proof) > MAX_PROOF_LENGTH:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# =============================================================================================
# Reading a bag: an unpacked folder or the ZIP as received
# =============================================================================================
class PackageUnreadable(Exception):
    """The package cannot be opened or is not one bag."""


class BagSource:
    """Files of one bag by their path relative to the bag folder."""

    def files(self) -> dict[str, int]:
        """Every file: relative path -> size."""
        raise NotImplementedError

    def blocks(self, rel: str) -> Iterator[bytes]:
        """The file's bytes in blocks."""
        raise NotImplementedError

    def read(self, rel: str, limit: int = MAX_TAG_FILE_BYTES) -> bytes:
        """A small file whole (refused above limit)."""
        size = self.files()[rel]
        if size > limit:
            raise ValueError(f"{rel} is larger than {limit} bytes")
        return b"".join(self.blocks(rel))

    def local_path(self, rel: str) -> Path | None:
        """The file on disk, where there is one."""
        return None

    def extras(self) -> list[str]:
        """Entries outside the bag folder (a ZIP holding more than one bag)."""
        return []

    def close(self) -> None:
        pass


class FolderBag(BagSource):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, int] | None = None

    def files(self) -> dict[str, int]:
        if self._files is None:
            out: dict[str, int] = {}
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames.sort()
                for name in sorted(filenames):
                    full = Path(dirpath, name)
                    rel = full.relative_to(self.root).as_posix()
                    out[unicodedata.normalize("NFC", rel)] = full.stat().st_size
                    if len(out) > MAX_FILES:
                        raise PackageUnreadable(f"more than {MAX_FILES} files")
            self._files = out
        return self._files

    def _path(self, rel: str) -> Path:
        direct = self.root / rel
        if direct.exists():
            return direct
        # The file system may store another Unicode normalisation form (macOS).
        for candidate in (unicodedata.normalize("NFD", rel),):
            if (self.root / candidate).exists():
                return self.root / candidate
        return direct

    def blocks(self, rel: str) -> Iterator[bytes]:
        with open(self._path(rel), "rb", buffering=0) as f:
            while True:
                block = f.read(BLOCK_SIZE)
                if not block:
                    return
                yield block

    def local_path(self, rel: str) -> Path | None:
        return self._path(rel)


class ZipBag(BagSource):
    def __init__(self, path: Path) -> None:
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageUnreadable(f"{path}: not a readable ZIP ({exc})") from exc
        names = [i for i in self.zf.infolist() if not i.is_dir()]
        if len(names) > MAX_FILES:
            raise PackageUnreadable(f"more than {MAX_FILES} files")
        tops = {n.filename.split("/", 1)[0] for n in names if "/" in n.filename}
        bag_tops = [t for t in tops if f"{t}/bagit.txt" in {n.filename for n in names}]
        if len(bag_tops) != 1:
            raise PackageUnreadable(
                f"{path}: the ZIP must hold exactly one folder with bagit.txt, found {len(bag_tops)}"
            )
        self.top = bag_tops[0]
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._extras: list[str] = []
        for info in names:
            name = info.filename
            if name.startswith(self.top + "/"):
                rel = unicodedata.normalize("NFC", name[len(self.top) + 1 :])
                self._infos[rel] = info
            else:
                self._extras.append(name)

    def files(self) -> dict[str, int]:
        return {rel: info.file_size for rel, info in self._infos.items()}

    def blocks(self, rel: str) -> Iterator[bytes]:
        with self.zf.open(self._infos[rel]) as f:
            while True:
                block = f.read(BLOCK_SIZE)
                if not block:
                    return
                yield block

    def extras(self) -> list[str]:
        return sorted(self._extras)

    def close(self) -> None:
        self.zf.close()


def open_bag(path: Path) -> BagSource:
    """Open a bag folder, a folder holding one bag folder, or a ZIP."""
    if path.is_dir():
        if (path / "bagit.txt").is_file():
            return FolderBag(path)
        inner = [p for p in path.iterdir() if p.is_dir() and (p / "bagit.txt").is_file()]
        if len(inner) == 1:
            return FolderBag(inner[0])
        raise PackageUnreadable(f"{path}: no bagit.txt here or in one sub-folder")
    if path.is_file():
        return ZipBag(path)
    raise PackageUnreadable(f"{path}: no such file or folder")


# =============================================================================================
# Findings
# =============================================================================================
@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: a slug, the file (or part) concerned, a precise message."""

    kind: str
    where: str
    message: str


@dataclass
class Report:
    """Everything found: problems fail the package; notes and warnings do not."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: dict[str, str] = field(default_factory=dict)  # path -> "ok" | reason

    def problem(self, kind: str, where: str, message: str) -> None:
        self.problems.append(Problem(kind, where, message))

    @property
    def ok(self) -> bool:
        return not self.problems


def _hash_blocks(
    blocks: Iterator[bytes], algorithms: tuple[str, ...]
) -> tuple[dict[str, str], int]:
    hashers = {a: hashlib.new(a) for a in algorithms}
    size = 0
    for block in blocks:
        for h in hashers.values():
            h.update(block)
        size += len(block)
    return {a: h.hexdigest() for a, h in hashers.items()}, size


def _parse_manifest(text: str, where: str, report: Report) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, path = line.partition(" ")
        path = path.lstrip(" ")
        if not sep or not path or not re.fullmatch(r"[0-9a-f]+", digest.lower()):
            report.problem(
                "manifest_invalid", where, f"{where} line {number}: not '<digest> <path>'"
            )
            continue
        path = path.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
        path = unicodedata.normalize("NFC", path)
        if path in entries:
            report.problem("manifest_invalid", where, f"{where} line {number}: {path} listed twice")
        entries[path] = digest.lower()
    return entries


def _is_safe(rel: str) -> bool:
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in rel


# =============================================================================================
# The verifier
# =============================================================================================
class Verifier:
    """Runs the numbered checks over one bag and fills a Report."""

    def __init__(
        self,
        bag: BagSource,
        *,
        trusted_keys: tuple[str, ...] = (),
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.bag = bag
        self.trusted = tuple(k.lower() for k in trusted_keys)
        self.report = Report()
        self.progress = progress
        self.digests: dict[str, dict[str, str]] = {}  # payload path -> {alg: hex} as found
        self.bag_info: dict[str, list[str]] = {}
        self.keys: dict[str, bytes] = {}
        self.head: dict[str, Any] | None = None
        self.entries: list[dict[str, Any]] = []

    # -- helpers ---------------------------------------------------------------------------
    def _fail_file(self, rel: str, reason: str) -> None:
        previous = self.report.files_checked.get(rel)
        if previous and previous != "ok":
            if reason not in previous:
                self.report.files_checked[rel] = f"{previous}; {reason}"
        else:
            self.report.files_checked[rel] = reason

    def _ok_file(self, rel: str) -> None:
        self.report.files_checked.setdefault(rel, "ok")

    def _json(self, rel: str) -> Any:
        try:
            return _strict_loads(self.bag.read(rel))
        except KeyError:
            self.report.problem("missing", rel, f"{rel}: missing")
        except (ValueError, UnicodeDecodeError) as exc:
            self.report.problem("malformed", rel, f"{rel}: not valid JSON ({exc})")
            self._fail_file(rel, "not valid JSON")
        return None

    # -- steps -----------------------------------------------------------------------------
    def run(self) -> Report:
        files = self.bag.files()
        for extra in self.bag.extras():
            self.report.problem("unexpected", extra, f"{extra}: outside the bag folder (added)")
        self.step1_declaration(files)
        self.step2_bag_info(files)
        self.step3_payload(files)
        self.step4_tags(files)
        self.step5_tree_head(files)
        self.step6_ledger(files)
        self.step7_export_entry(files)
        self.step8_item_manifests(files)
        self.step9_clips(files)
        self.step10_timestamps(files)
        return self.report

    def step1_declaration(self, files: dict[str, int]) -> None:
        """bagit.txt declares version 1.0 and UTF-8 tag files."""
        if "bagit.txt" not in files:
            self.report.problem("missing", "bagit.txt", "bagit.txt: missing (not a bag)")
            return
        text = self.bag.read("bagit.txt").decode("utf-8", errors="replace")
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in text.splitlines())
        )
        if fields.get("BagIt-Version") != "1.0":
            self.report.problem(
                "bag_invalid",
                "bagit.txt",
                f"bagit.txt: BagIt-Version is {fields.get('BagIt-Version')!r}, not 1.0",
            )
        if fields.get("Tag-File-Character-Encoding", "").upper() != "UTF-8":
            self.report.problem("bag_invalid", "bagit.txt", "bagit.txt: tag files are not UTF-8")

    def step2_bag_info(self, files: dict[str, int]) -> None:
        """bag-info.txt parses into labels (Payload-Oxum is checked with the payload)."""
        if "bag-info.txt" not in files:
            self.report.problem("missing", "bag-info.txt", "bag-info.txt: missing")
            return
        text = self.bag.read("bag-info.txt").decode("utf-8", errors="replace")
        label = None
        for line in text.splitlines():
            if line[:1] in (" ", "\t") and label:
                self.bag_info[label][-1] += " " + line.strip()
                continue
            label, sep, value = line.partition(":")
            if not sep:
                self.report.problem(
                    "bag_invalid", "bag-info.txt", f"bag-info.txt: line without a label: {line!r}"
                )
                label = None
                continue
            label = label.strip()
            self.bag_info.setdefault(label, []).append(value.strip())

    def info(self, label: str) -> str | None:
        values = self.bag_info.get(label)
        return values[0] if values else None

    def step3_payload(self, files: dict[str, int]) -> None:
        """Every payload file against both manifests; missing and added files; Payload-Oxum."""
        manifests: dict[str, dict[str, str]] = {}
        for algorithm in BAG_ALGORITHMS:
            name = f"manifest-{algorithm}.txt"
            if name in files:
                text = self.bag.read(name).decode("utf-8", errors="replace")
                manifests[algorithm] = _parse_manifest(text, name, self.report)
        if "sha256" not in manifests:
            self.report.problem("missing", "manifest-sha256.txt", "manifest-sha256.txt: missing")
        payload = {rel: size for rel, size in files.items() if rel.startswith("data/")}
        listed: set[str] = set()
        for algorithm, entries in manifests.items():
            for rel in entries:
                if not rel.startswith("data/") or not _is_safe(rel):
                    self.report.problem(
                        "manifest_invalid",
                        f"manifest-{algorithm}.txt",
                        f"manifest-{algorithm}.txt lists {rel!r} outside data/",
                    )
                listed.add(rel)
        algorithms = tuple(manifests) or ("sha256",)
        total = sum(payload.values())
        done = 0
        for rel in sorted(payload):
            found, size = _hash_blocks(
                self.bag_blocks(rel),
                algorithms + (("sha256",) if "sha256" not in algorithms else ()),
            )
            done += size
            if self.progress:
                self.progress(rel, done, total)
            self.digests[rel] = found
            if rel not in listed:
                self.report.problem(
                    "unexpected", rel, f"{rel}: not in the bag manifests (file added after sealing)"
                )
                self._fail_file(rel, "added: not in the manifests")
                continue
            for algorithm, entries in manifests.items():
                expected = entries.get(rel)
                if expected is None:
                    self.report.problem(
                        "manifest_invalid", rel, f"{rel}: missing from manifest-{algorithm}.txt"
                    )
                    self._fail_file(rel, f"not in manifest-{algorithm}.txt")
                elif found.get(algorithm) != expected:
                    self.report.problem(
                        "checksum_mismatch",
                        rel,
                        f"{rel}: {algorithm} is {found.get(algorithm)}, expected {expected} "
                        f"(bytes changed)",
                    )
                    self._fail_file(rel, f"{algorithm} mismatch (bytes changed)")
            self._ok_file(rel)
        for rel in sorted(listed - set(payload)):
            self.report.problem("missing", rel, f"{rel}: listed in the manifests but missing")
            self._fail_file(rel, "missing")
        oxum = self.info("Payload-Oxum")
        if oxum is None:
            self.report.problem("bag_invalid", "bag-info.txt", "bag-info.txt: no Payload-Oxum")
        else:
            expected_oxum = f"{total}.{len(payload)}"
            if oxum != expected_oxum:
                self.report.problem(
                    "oxum_mismatch",
                    "bag-info.txt",
                    f"bag-info.txt: Payload-Oxum is {oxum}, the payload holds {expected_oxum} "
                    f"(bytes.files)",
                )

    def bag_blocks(self, rel: str) -> Iterator[bytes]:
        try:
            yield from self.bag.blocks(rel)
        except zipfile.BadZipFile as exc:  # a ZIP member whose CRC-32 no longer matches
            self.report.problem("checksum_mismatch", rel, f"{rel}: ZIP check failed ({exc})")
            self._fail_file(rel, "bytes changed (ZIP CRC mismatch)")

    def step4_tags(self, files: dict[str, int]) -> None:
        """Tag files against tagmanifest-*.txt; unlisted top-level files."""
        listed: set[str] = set()
        present = False
        for algorithm in BAG_ALGORITHMS:
            name = f"tagmanifest-{algorithm}.txt"
            if name not in files:
                continue
            present = True
            text = self.bag.read(name).decode("utf-8", errors="replace")
            for rel, expected in _parse_manifest(text, name, self.report).items():
                listed.add(rel)
                if rel not in files:
                    self.report.problem("missing", rel, f"{rel}: listed in {name} but missing")
                    self._fail_file(rel, "missing")
                    continue
                found, _ = _hash_blocks(self.bag_blocks(rel), (algorithm,))
                if found[algorithm] != expected:
                    self.report.problem(
                        "checksum_mismatch",
                        rel,
                        f"{rel}: {algorithm} is {found[algorithm]}, expected {expected} "
                        f"(tag file changed)",
                    )
                    self._fail_file(rel, f"{algorithm} mismatch (bytes changed)")
                else:
                    self._ok_file(rel)
        if not present:
            self.report.problem("missing", "tagmanifest-sha256.txt", "no tag manifest in the bag")
        for rel in sorted(files):
            if rel.startswith("data/") or rel in listed or rel.startswith("tagmanifest-"):
                continue
            self.report.problem(
                "unexpected", rel, f"{rel}: not in the tag manifests (file added after sealing)"
            )
            self._fail_file(rel, "added: not in the tag manifests")
        for rel in files:
            if rel.startswith("tagmanifest-"):
                self._ok_file(rel)
        # verify.py: is the running verifier the one sealed into the package?
        me = _own_sha256()
        sealed = None
        if "verify.py" in files:
            sealed = _hash_blocks(self.bag.blocks("verify.py"), ("sha256",))[0]["sha256"]
        recorded = self.info("Verifier-SHA256")
        if me and sealed and me != sealed:
            self.report.notes.append(
                f"this verifier ({me[:16]}…) is not the package's verify.py ({sealed[:16]}…): "
                "a different copy (e.g. `custodian verify-package`) is checking the package"
            )
        if recorded and sealed and recorded != sealed:
            self.report.problem(
                "checksum_mismatch",
                "verify.py",
                f"verify.py: sha256 is {sealed}, bag-info.txt records {recorded}",
            )
            self._fail_file("verify.py", "differs from Verifier-SHA256 in bag-info.txt")

    def step5_tree_head(self, files: dict[str, int]) -> None:
        """Signing keys, then the signed tree head."""
        keys = self._json("data/ledger/keys.json") if "data/ledger/keys.json" in files else None
        if keys is None:
            self.report.problem(
                "missing",
                "data/ledger/keys.json",
                "data/ledger/keys.json: no public signing key in the package",
            )
        else:
            for item in keys.get("keys", []):
                try:
                    raw = bytes.fromhex(item["public_key_hex"])
                except (KeyError, ValueError, TypeError):
                    self.report.problem(
                        "malformed",
                        "data/ledger/keys.json",
                        "data/ledger/keys.json: a key without public_key_hex",
                    )
                    continue
                kid = hashlib.sha256(raw).hexdigest()[:16]
                if item.get("key_id") != kid:
                    self.report.problem(
                        "malformed",
                        "data/ledger/keys.json",
                        f"data/ledger/keys.json: key id {item.get('key_id')} "
                        f"does not belong to its key (that key's id is {kid})",
                    )
                if self.trusted and kid not in self.trusted and raw.hex() not in self.trusted:
                    continue
                self.keys[kid] = raw
            if self.trusted and not self.keys:
                self.report.problem(
                    "signature_invalid",
                    "data/ledger/keys.json",
                    "none of the package's keys is among --trusted-key",
                )
            for kid in self.keys:
                self.report.notes.append(
                    f"signing key {kid}: trust it only if the issuing agency publishes this id"
                    + ("" if self.trusted else " (use --trusted-key to enforce)")
                )
        rel = "data/ledger/tree-head.json"
        head = self._json(rel) if rel in files else None
        if head is None:
            if rel not in files:
                self.report.problem("missing", rel, f"{rel}: no signed tree head in the package")
            return
        try:
            signed = canonical_json(
                {
                    "format": TREE_HEAD_FORMAT,
                    "size": head["size"],
                    "root": head["root"],
                    "time": head["time"],
                    "key_id": head["key_id"],
                }
            )
        except (KeyError, TypeError) as exc:
            self.report.problem("malformed", rel, f"{rel}: missing field {exc}")
            return
        if not self._signature_ok(
            head["key_id"],
            signed,
            head.get("signature", ""),
            rel,
            f"tree head of size {head['size']}",
        ):
            return
        self.head = head
        sb = "data/ledger/tree-head.signed.json"
        if sb in files and self.bag.read(sb) != signed:
            self.report.problem("malformed", sb, f"{sb}: not the tree head's signed bytes")
            self._fail_file(sb, "does not match tree-head.json")

    def _signature_ok(self, kid: str, data: bytes, signature: str, rel: str, what: str) -> bool:
        key = self.keys.get(kid)
        if key is None:
            self.report.problem(
                "signature_invalid",
                rel,
                f"{rel}: {what} is signed by key {kid}, which is not trusted here",
            )
            self._fail_file(rel, "signed by an unknown key")
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            raw = b""
        if not ed25519_verify(key, data, raw):
            self.report.problem(
                "signature_invalid",
                rel,
                f"{rel}: Ed25519 signature of {what} does not verify "
                f"(content altered or signature forged; key {kid})",
            )
            self._fail_file(rel, "signature invalid")
            return False
        return True

    def step6_ledger(self, files: dict[str, int]) -> None:
        """Each ledger line: details hash, entry hash, chain links, inclusion proof."""
        rel = "data/ledger/entries.jsonl"
        if rel not in files:
            self.report.problem("missing", rel, f"{rel}: no ledger slice in the package")
            return
        try:
            text = self.bag.read(rel).decode("utf-8")
        except UnicodeDecodeError:
            self.report.problem("malformed", rel, f"{rel}: not UTF-8")
            self._fail_file(rel, "not UTF-8")
            return
        lines = text.splitlines()
        if len(lines) > MAX_LEDGER_LINES:
            self.report.problem("malformed", rel, f"{rel}: more than {MAX_LEDGER_LINES} lines")
            return
        previous: dict[str, Any] | None = None
        previous_hash = ""
        for number, line in enumerate(lines, 1):
            where = f"{rel} line {number}"
            try:
                record = _strict_loads(line.encode("utf-8"))
                entry = {name: record["entry"][name] for name in ENTRY_FIELDS}
                if set(record["entry"]) != set(ENTRY_FIELDS):
                    raise ValueError("entry has other fields than " + ", ".join(ENTRY_FIELDS))
                details = record["details"]
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                self.report.problem("malformed", where, f"{where}: not a ledger record ({exc})")
                self._fail_file(rel, f"line {number} malformed")
                previous = None
                continue
            where = f"{where} (ledger entry {seq})"
            bad = False
            found_details = hashlib.sha256(canonical_json(details)).hexdigest()
            if found_details != entry["details_hash"]:
                self.report.problem(
                    "details_mismatch",
                    where,
                    f"{where}: details hash to {found_details}, the entry records "
                    f"{entry['details_hash']} (details edited)",
                )
                bad = True
            data = canonical_json(entry)
            digest = hashlib.sha256(data).hexdigest()
            if record.get("entry_hash") not in (None, digest):
                self.report.problem(
                    "chain_broken",
                    where,
                    f"{where}: entry hashes to {digest}, the line records "
                    f"{record.get('entry_hash')} (entry edited)",
                )
                bad = True
            if seq == 1 and entry["prev_hash"] != GENESIS_PREV:
                self.report.problem(
                    "chain_broken",
                    where,
                    f"{where}: first entry's prev_hash is not the genesis value",
                )
                bad = True
            if previous is not None:
                if seq <= int(previous["seq"]):
                    self.report.problem(
                        "order_swapped",
                        where,
                        f"{where}: follows entry {previous['seq']} (out of order)",
                    )
                    bad = True
                elif seq == int(previous["seq"]) + 1 and entry["prev_hash"] != previous_hash:
                    self.report.problem(
                        "chain_broken",
                        where,
                        f"{where}: prev_hash does not match entry {previous['seq']} (chain broken)",
                    )
                    bad = True
            if self.head is not None:
                try:
                    proof = [bytes.fromhex(p) for p in record["proof"]]
                    size = int(record.get("tree_size", self.head["size"]))
                except (KeyError, ValueError, TypeError):
                    proof, size = [], -1
                leaf = hashlib.sha256(b"\x00" + data).digest()
                if size != self.head["size"] or not verify_inclusion(
                    leaf, seq - 1, int(self.head["size"]), proof, bytes.fromhex(self.head["root"])
                ):
                    self.report.problem(
                        "proof_invalid",
                        where,
                        f"{where}: inclusion proof does not lead to the signed tree head's root "
                        f"(entry altered, or not in the signed ledger)",
                    )
                    bad = True
            if bad:
                self._fail_file(rel, f"line {number} (entry {seq}) does not verify")
            else:
                self.entries.append({"entry": entry, "details": details, "line": number})
            previous, previous_hash = entry, digest
        self.report.notes.append(
            f"ledger: {len(self.entries)} of {len(lines)} entries verified"
            + (
                f" against the signed tree head of size {self.head['size']} at {self.head['time']}"
                if self.head
                else ""
            )
        )

    def step7_export_entry(self, files: dict[str, int]) -> None:
        """The EXPORT entry for this package pins the hashes of its originals and clips."""
        export_id = self.info("External-Identifier")
        matches = [
            e
            for e in self.entries
            if e["entry"]["action"] == EXPORT_ACTION
            and isinstance(e["details"], dict)
            and e["details"].get("format") == EXPORT_FORMAT
            and e["details"].get("export_id") == export_id
        ]
        if not export_id or not matches:
            self.report.problem(
                "export_unrecorded",
                "data/ledger/entries.jsonl",
                f"no verified EXPORT ledger entry for export {export_id!r}",
            )
            return
        details = matches[-1]["details"]
        self.export = details
        self.report.notes.append(
            f"export {export_id}: recorded in ledger entry {matches[-1]['entry']['seq']} "
            f"for {details.get('recipient')!r}, purpose {details.get('purpose')!r}"
        )
        for kind, listed in (
            ("originals", details.get("items", [])),
            ("clips", details.get("clips", [])),
        ):
            expected = {f"data/{kind}/{x['path']}": x["sha256"] for x in listed}
            present = {rel for rel in files if rel.startswith(f"data/{kind}/")}
            for rel, sha in sorted(expected.items()):
                found = self.digests.get(rel, {}).get("sha256")
                if rel not in files:
                    self.report.problem(
                        "missing", rel, f"{rel}: named by the export ledger entry but missing"
                    )
                    self._fail_file(rel, "missing")
                elif found != sha:
                    self.report.problem(
                        "checksum_mismatch",
                        rel,
                        f"{rel}: sha256 is {found}, the export ledger entry records {sha}",
                    )
                    self._fail_file(rel, "differs from the export ledger entry")
            for rel in sorted(present - set(expected)):
                self.report.problem(
                    "unexpected", rel, f"{rel}: not named by the export ledger entry (added)"
                )
                self._fail_file(rel, "not in the export ledger entry")

    def step8_item_manifests(self, files: dict[str, int]) -> None:
        """Signed item manifests: signature, canonical bytes, version chain, the original."""
        originals = {
            self.digests[r].get("sha256"): r
            for r in self.digests
            if r.startswith("data/originals/")
        }
        described: set[str] = set()
        items: dict[str, list[int]] = {}
        for rel in files:
            m = re.fullmatch(r"data/manifests/([^/]+)/v(\d+)\.json", rel)
            if m:
                items.setdefault(m.group(1), []).append(int(m.group(2)))
        for item_id, versions in sorted(items.items()):
            previous_sha: str | None = None
            for version in sorted(versions):
                rel = f"data/manifests/{item_id}/v{version}.json"
                sig_rel = f"data/manifests/{item_id}/v{version}.sig.json"
                data = self.bag.read(rel)
                sig = self._json(sig_rel) if sig_rel in files else None
                if sig is None:
                    if sig_rel not in files:
                        self.report.problem("missing", sig_rel, f"{sig_rel}: missing")
                    continue
                what = f"manifest v{version} of item {item_id}"
                self._signature_ok(sig.get("key_id", ""), data, sig.get("signature", ""), rel, what)
                try:
                    manifest = _strict_loads(data)
                    canonical = canonical_json(manifest) == data
                except (ValueError, UnicodeDecodeError):
                    manifest, canonical = None, False
                if not canonical or not isinstance(manifest, dict):
                    self.report.problem("manifest_invalid", rel, f"{rel}: not canonical JSON")
                    self._fail_file(rel, "not canonical JSON")
                    continue
                if (
                    manifest.get("format") != MANIFEST_FORMAT
                    or manifest.get("item_id") != item_id
                    or manifest.get("version") != version
                ):
                    self.report.problem(
                        "manifest_invalid",
                        rel,
                        f"{rel}: not {what} (format, item or version differ)",
                    )
                    self._fail_file(rel, "wrong format, item or version")
                if (
                    version > 1
                    and previous_sha is not None
                    and manifest.get("supersedes") != previous_sha
                ):
                    self.report.problem(
                        "manifest_invalid",
                        rel,
                        f"{rel}: supersedes {manifest.get('supersedes')}, but "
                        f"v{version - 1} hashes to {previous_sha}",
                    )
                    self._fail_file(rel, "version chain broken")
                previous_sha = hashlib.sha256(data).hexdigest()
                original = manifest.get("original") or {}
                if version == max(versions):
                    described.add(str(original.get("sha256")))
                    path = originals.get(original.get("sha256"))
                    if path is None:
                        self.report.problem(
                            "missing",
                            rel,
                            f"{rel}: the original it describes ({original.get('sha256')}) is not "
                            f"in data/originals/ (removed or changed)",
                        )
                        self._fail_file(rel, "its original is not in the package")
                    elif self.bag.files().get(path) != original.get("size"):
                        self.report.problem(
                            "checksum_mismatch", path, f"{path}: size differs from {rel}"
                        )
                        self._fail_file(path, "size differs from its manifest")
                    else:
                        self.report.notes.append(
                            f"{path}: matches {what} (sha256 {original.get('sha256')})"
                        )
        for sha, rel in sorted(originals.items(), key=lambda x: x[1]):
            if sha not in described and rel not in {p.where for p in self.report.problems}:
                self.report.problem(
                    "manifest_invalid",
                    rel,
                    f"{rel}: no signed item manifest describes this original",
                )
                self._fail_file(rel, "no item manifest describes it")

    def step9_clips(self, files: dict[str, int]) -> None:
        """Each clip names the original it was cut from; that original must be in the package."""
        details = getattr(self, "export", None)
        if details is None:
            return
        originals = {
            self.digests[r].get("sha256") for r in self.digests if r.startswith("data/originals/")
        }
        names = {x.get("sha256") for x in details.get("items", [])}
        for clip in details.get("clips", []):
            rel = f"data/clips/{clip.get('path')}"
            source = clip.get("derived_from")
            if source not in names or source not in originals:
                self.report.problem(
                    "derivation_invalid",
                    rel,
                    f"{rel}: cut from original {source}, which is not in the package",
                )
                self._fail_file(rel, "its original is not in the package")
            else:
                self.report.notes.append(
                    f"{rel}: cut from original {source[:16]}… "
                    f"({clip.get('method')}, {clip.get('start_s')}s–{clip.get('end_s')}s"
                    f"{', watermarked' if clip.get('watermark') else ''})"
                )

    def step10_timestamps(self, files: dict[str, int]) -> None:
        """RFC 3161 tokens: `openssl ts -verify` over the data each one stamps."""
        tokens = sorted(rel for rel in files if rel.startswith("data/") and rel.endswith(".tsr"))
        if not tokens:
            self.report.notes.append(
                "no RFC 3161 time-stamp tokens in the package (times are the server's own clock)"
            )
            return
        openssl = shutil.which("openssl")
        if openssl is None:
            self.report.warnings.append(
                f"openssl not found: {len(tokens)} RFC 3161 token(s) not checked "
                "(install openssl and run again to check them)"
            )
            return
        roots = "data/ledger/tsa-roots.pem" if "data/ledger/tsa-roots.pem" in files else None
        with tempfile.TemporaryDirectory(prefix="verify-tsr-") as tmp:
            ca_args: list[str] = []
            if roots:
                ca = Path(tmp, "roots.pem")
                ca.write_bytes(self.bag.read(roots))
                ca_args = ["-CAfile", str(ca)]
            else:
                self.report.warnings.append(
                    "no TSA root certificate in the package: tokens checked against the "
                    "system trust store"
                )
            for rel in tokens:
                stamped = _stamped_data(rel)
                if stamped not in files:
                    self.report.problem(
                        "token_invalid", rel, f"{rel}: the data it stamps ({stamped}) is missing"
                    )
                    self._fail_file(rel, "stamped data missing")
                    continue
                token_path, data_path = Path(tmp, "t.tsr"), Path(tmp, "d.bin")
                token_path.write_bytes(self.bag.read(rel))
                data_path.write_bytes(self.bag.read(stamped))
                result = subprocess.run(
                    [
                        openssl,
                        "ts",
                        "-verify",
                        "-in",
                        str(token_path),
                        "-data",
                        str(data_path),
                        *ca_args,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                if result.returncode == 0 and "OK" in result.stdout:
                    self.report.notes.append(
                        f"{rel}: RFC 3161 token verified by openssl over {stamped}"
                    )
                elif not roots:
                    self.report.warnings.append(
                        f"{rel}: not verifiable without the TSA's root certificate "
                        f"({(result.stderr or result.stdout).strip().splitlines()[-1:]})"
                    )
                else:
                    reason = (result.stderr or result.stdout).strip().splitlines()
                    self.report.problem(
                        "token_invalid",
                        rel,
                        f"{rel}: openssl ts -verify fails over {stamped}: "
                        f"{reason[-1] if reason else 'no reason given'}",
                    )
                    self._fail_file(rel, "RFC 3161 token does not verify")


def _stamped_data(token_rel: str) -> str:
    """Which file a token stamps: tree-head.tsr -> tree-head.signed.json, vN.tsr -> vN.json."""
    if token_rel.endswith("/tree-head.tsr"):
        return token_rel[: -len("tree-head.tsr")] + "tree-head.signed.json"
    return token_rel[: -len(".tsr")] + ".json"


def _own_sha256() -> str | None:
    try:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    except OSError:
        return None


# =============================================================================================
# Command line
# =============================================================================================
def verify_package(
    path: str | os.PathLike[str],
    *,
    trusted_keys: tuple[str, ...] = (),
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Check one package (folder or ZIP); raises PackageUnreadable when it cannot be opened."""
    bag = open_bag(Path(path))
    try:
        return Verifier(bag, trusted_keys=trusted_keys, progress=progress).run()
    finally:
        bag.close()


def render(report: Report, path: str, *, quiet: bool = False) -> str:
    """The human verdict: per-file lines, notes, then every problem and the overall verdict."""
    out: list[str] = []
    me = _own_sha256()
    out.append(f"Custodian package verifier / 证据包校验程序 (sha256 {me})")
    out.append(f"package / 证据包: {path}")
    out.append("")
    if not quiet:
        out.append("Files / 文件:")
        for rel in sorted(report.files_checked):
            verdict = report.files_checked[rel]
            mark = "OK  " if verdict == "ok" else "FAIL"
            out.append(f"  {mark} {rel}" + ("" if verdict == "ok" else f"  — {verdict}"))
        out.append("")
        for note in report.notes:
            out.append(f"  note: {note}")
    for warning in report.warnings:
        out.append(f"  WARNING / 警告: {warning}")
    out.append("")
    if report.ok:
        out.append(
            f"VERDICT / 结论: VALID — 校验通过: {len(report.files_checked)} files, "
            "every hash, signature, ledger proof and derivation holds."
        )
    else:
        count = len(report.problems)
        out.append(
            f"VERDICT / 结论: INVALID — 校验未通过: {count} problem{'s' if count != 1 else ''}:"
        )
        for i, p in enumerate(report.problems, 1):
            out.append(f"  {i}. [{p.kind}] {p.message}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Check a Custodian sealed evidence package offline."
    )
    parser.add_argument(
        "package",
        nargs="?",
        default=None,
        help="bag folder or ZIP (default: the folder holding this file)",
    )
    parser.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        help="key id or public key hex the signatures must come from",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the verdict")
    args = parser.parse_args(argv)
    target = args.package or str(Path(__file__).resolve().parent)
    try:
        report = verify_package(target, trusted_keys=tuple(args.trusted_key))
    except PackageUnreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(report, target, quiet=args.quiet))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
