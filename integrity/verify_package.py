#!/usr/bin/env python3
"""Offline verifier of a Custodian sealed evidence package (standard library only).

Usage:  python verify.py [PACKAGE] --trusted-key KEY [--trusted-key KEY …] [--quiet]

PACKAGE is the unpacked bag folder (the one holding bagit.txt) or the ZIP as received; with no
argument the folder this file sits in is checked. KEY is what the issuing agency publishes: the
signing key's fingerprint (64 hex, SHA-256 of the raw Ed25519 key), its key id (16 hex), the
raw public key (64 hex), a PEM public-key file, or the agency's keys file (JSON from
`custodian keys --json` or GET /api/v1/keys, or one fingerprint per line).

Exit status:
  0  VALID: every byte holds AND it is signed by a key you trust (origin established);
  1  INVALID: something does not hold;
  2  unreadable: the package (or a --trusted-key) cannot be read, or a size limit is exceeded;
  3  integrity holds but ORIGIN IS NOT ESTABLISHED: no --trusted-key, or the signing key is not
     among them. Any server can sign a package with its own key; only the agency's published
     fingerprint tells you whose key it is.

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
Likewise integrity alone is not origin: the signing key is trusted only through --trusted-key.
Folders are read without following symbolic links; links, FIFOs, devices, duplicate ZIP entries
and names that collide after NFC normalisation or case folding make a package INVALID.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import stat
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
HEX16 = re.compile(r"^[0-9a-f]{16}$")
MAX_KEYS_FILE_BYTES = 1024 * 1024
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE, EXIT_UNTRUSTED = 0, 1, 2, 3


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
# Trusted keys: what the clerk got from the agency, out of band
# =============================================================================================
class BadTrustedKey(Exception):
    """A --trusted-key value that is none of the accepted forms."""


def fingerprint_of(raw: bytes) -> str:
    """The key's fingerprint: SHA-256 of the raw 32-byte Ed25519 public key, lowercase hex."""
    return hashlib.sha256(raw).hexdigest()


def _parse_time(value: Any) -> Any:
    """An RFC 3339 time as an aware datetime; None for null or unparsable values."""
    import datetime as _dt

    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


@dataclass(frozen=True)
class TrustedKey:
    """One key the clerk trusts: matched by fingerprint (or short key id), optionally only
    within a validity window (from the agency's keys file)."""

    fingerprint: str | None
    key_id: str | None
    valid_from: str | None = None
    valid_to: str | None = None
    source: str = ""

    def matches(self, raw: bytes) -> bool:
        fp = fingerprint_of(raw)
        return self.fingerprint == fp or (self.key_id is not None and self.key_id == fp[:16])

    def window_allows(self, moment: str) -> bool:
        """True when moment lies in [valid_from, valid_to] (open ends allowed)."""
        when = _parse_time(moment)
        if when is None:
            return False
        start, end = _parse_time(self.valid_from), _parse_time(self.valid_to)
        return (start is None or when >= start) and (end is None or when <= end)


def _pem_public_key(text: str, where: str) -> bytes:
    body = re.search(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", text, re.DOTALL)
    if body is None:
        raise BadTrustedKey(f"{where}: no 'BEGIN PUBLIC KEY' block")
    try:
        der = base64.b64decode("".join(body.group(1).split()), validate=True)
    except ValueError as exc:
        raise BadTrustedKey(f"{where}: PEM body is not base64 ({exc})") from None
    if len(der) != 44 or not der.startswith(ED25519_SPKI_PREFIX):
        raise BadTrustedKey(f"{where}: not an Ed25519 public key")
    return der[len(ED25519_SPKI_PREFIX) :]


def _hex_forms(text: str, where: str, window: tuple[Any, Any] = (None, None)) -> list[TrustedKey]:
    value = text.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if HEX16.match(value):
        return [TrustedKey(None, value, *window, source=where)]
    if HEX64.match(value):
        # 64 hex digits are the fingerprint or the raw public key itself: accept either.
        return [
            TrustedKey(value, None, *window, source=where),
            TrustedKey(fingerprint_of(bytes.fromhex(value)), None, *window, source=where),
        ]
    raise BadTrustedKey(
        f"{where}: {text.strip()[:80]!r} is not a fingerprint (64 hex), key id (16 hex), "
        "public key, PEM file or keys file"
    )


def _keys_file(data: Any, where: str) -> list[TrustedKey]:
    items = data.get("keys", data.get("items")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise BadTrustedKey(f"{where}: a keys file holds a non-empty 'keys' (or 'items') list")
    out: list[TrustedKey] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadTrustedKey(f"{where}: key {n} is not an object")
        window = (item.get("valid_from"), item.get("valid_to"))
        raw_hex = item.get("public_key_hex")
        if isinstance(raw_hex, str) and HEX64.match(raw_hex.lower()):
            fp = fingerprint_of(bytes.fromhex(raw_hex))
            given = item.get("fingerprint")
            if given is not None and str(given).lower().removeprefix("sha256:") != fp:
                raise BadTrustedKey(f"{where}: key {n}: fingerprint does not belong to its key")
            out.append(TrustedKey(fp, None, *window, source=where))
        elif isinstance(item.get("fingerprint"), str):
            out.extend(
                TrustedKey(t.fingerprint, t.key_id, *window, source=where)
                for t in _hex_forms(item["fingerprint"], f"{where} key {n}")[:1]
            )
        else:
            raise BadTrustedKey(f"{where}: key {n} has neither public_key_hex nor fingerprint")
    return out


def load_trusted_tsa(path: str | None) -> bytes | None:
    """The PEM roots of --trusted-tsa (None when not given)."""
    if not path:
        return None
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise BadTrustedKey(f"--trusted-tsa {path}: cannot be read ({exc})") from None
    if b"-----BEGIN CERTIFICATE-----" not in data or len(data) > MAX_KEYS_FILE_BYTES:
        raise BadTrustedKey(f"--trusted-tsa {path}: not a PEM certificate file")
    return data


def load_trusted_keys(values: tuple[str, ...] | list[str]) -> list[TrustedKey]:
    """Every --trusted-key value as TrustedKeys: a fingerprint, key id or raw key in hex, a
    PEM public-key file, a JSON keys file, or a text file of fingerprints (one a line)."""
    out: list[TrustedKey] = []
    for value in values:
        text = str(value).strip()
        candidate = Path(text).expanduser() if text else None
        is_file = False
        if (
            candidate is not None
            and not HEX64.match(text.lower())
            and not HEX16.match(text.lower())
        ):
            try:
                is_file = candidate.is_file()
            except OSError:
                is_file = False
        if candidate is None or not is_file:
            if "-----BEGIN" in text:
                out.append(
                    TrustedKey(
                        fingerprint_of(_pem_public_key(text, "--trusted-key")),
                        None,
                        source="--trusted-key",
                    )
                )
            else:
                out.extend(_hex_forms(text, "--trusted-key"))
            continue
        where = str(candidate)
        try:
            if candidate.stat().st_size > MAX_KEYS_FILE_BYTES:
                raise BadTrustedKey(f"{where}: larger than {MAX_KEYS_FILE_BYTES} bytes")
            content = candidate.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadTrustedKey(f"{where}: cannot be read ({exc})") from None
        if "-----BEGIN" in content:
            out.append(
                TrustedKey(fingerprint_of(_pem_public_key(content, where)), None, source=where)
            )
        elif content.lstrip().startswith(("{", "[")):
            try:
                out.extend(_keys_file(_strict_loads(content.encode("utf-8")), where))
            except ValueError as exc:
                raise BadTrustedKey(f"{where}: not valid JSON ({exc})") from None
        else:
            lines = [ln.split("#", 1)[0].strip() for ln in content.splitlines()]
            lines = [ln for ln in lines if ln]
            if not lines:
                raise BadTrustedKey(f"{where}: no fingerprint in the file")
            for ln in lines:
                out.extend(_hex_forms(ln, where))
    return out


# =============================================================================================
# Reading a bag: an unpacked folder or the ZIP as received
# =============================================================================================
class PackageUnreadable(Exception):
    """The package cannot be opened, is not one bag, or exceeds a size limit."""


class NotRegularFile(OSError):
    """A bag path that is not a regular file when opened (replaced by a link, FIFO, device)."""


def _unsafe_name(rel: str) -> bool:
    parts = rel.split("/")
    return (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\x00" in rel
        or any(part in ("", ".", "..") for part in parts)
    )


class _Names:
    """Tracks names as found, reporting duplicates and NFC / case-folding collisions."""

    def __init__(self, flaws: list[tuple[str, str, str]], what: str) -> None:
        self.flaws = flaws
        self.what = what
        self.exact: set[str] = set()
        self.nfc: dict[str, str] = {}
        self.folded: dict[str, str] = {}

    def add(self, raw: str) -> str | None:
        """The NFC name to use, or None when this name repeats or collides with one before."""
        nfc = unicodedata.normalize("NFC", raw)
        if raw in self.exact:
            self.flaws.append(
                (
                    "duplicate_entry",
                    nfc,
                    f"{nfc}: appears twice in the {self.what} (an extractor may pick either copy)",
                )
            )
            return None
        self.exact.add(raw)
        if nfc in self.nfc:
            self.flaws.append(
                (
                    "name_collision",
                    nfc,
                    f"{nfc}: two {self.what} entries with the same name after "
                    f"Unicode NFC normalisation ({self.nfc[nfc]!r} and {raw!r})",
                )
            )
            return None
        folded = nfc.casefold()
        if folded in self.folded:
            self.flaws.append(
                (
                    "name_collision",
                    nfc,
                    f"{nfc}: collides with {self.folded[folded]} when case is "
                    f"ignored (Windows and macOS would keep only one)",
                )
            )
            return None
        self.nfc[nfc] = raw
        self.folded[folded] = nfc
        return nfc


class BagSource:
    """Files of one bag by their path relative to the bag folder."""

    def __init__(self) -> None:
        # (kind, where, message): structural problems found while listing (links, FIFOs,
        # duplicates, colliding names); each makes the package INVALID.
        self.flaws: list[tuple[str, str, str]] = []

    def files(self) -> dict[str, int]:
        """Every regular file: relative path -> size."""
        raise NotImplementedError

    def blocks(self, rel: str) -> Iterator[bytes]:
        """The file's bytes in blocks."""
        raise NotImplementedError

    def read(self, rel: str, limit: int = MAX_TAG_FILE_BYTES) -> bytes:
        """A small file whole; a file above limit makes the package unreadable (exit 2)."""
        size = self.files()[rel]
        if size > limit:
            raise PackageUnreadable(
                f"{rel} is {size} bytes, more than this verifier reads ({limit} bytes)"
            )
        out = bytearray()
        for block in self.blocks(rel):
            out += block
            if len(out) > limit:
                raise PackageUnreadable(f"{rel} is larger than {limit} bytes")
        return bytes(out)

    def local_path(self, rel: str) -> Path | None:
        """The file on disk, where there is one."""
        return None

    def extras(self) -> list[str]:
        """Entries outside the bag folder (a ZIP holding more than one bag)."""
        return []

    def close(self) -> None:
        pass


class FolderBag(BagSource):
    """An unpacked bag, read without following symbolic links (lstat): a link, FIFO, socket
    or device is reported, never opened, so it can neither hang the verifier nor point
    outside the bag."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self._files: dict[str, int] | None = None
        self._raw: dict[str, str] = {}  # NFC name -> name on disk

    def files(self) -> dict[str, int]:
        if self._files is None:
            out: dict[str, int] = {}
            names = _Names(self.flaws, "folder")
            stack = [""]
            while stack:
                prefix = stack.pop()
                try:
                    entries = sorted(
                        os.scandir(self.root / prefix if prefix else self.root),
                        key=lambda e: e.name,
                    )
                except OSError as exc:
                    raise PackageUnreadable(f"{prefix or self.root}: cannot list ({exc})") from None
                for entry in entries:
                    rel = f"{prefix}{entry.name}"
                    nfc = unicodedata.normalize("NFC", rel)
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        self.flaws.append(
                            (
                                "not_regular",
                                nfc,
                                f"{nfc}: a symbolic link "
                                f"(to {os.readlink(entry.path)!r}), not a file; links "
                                "are never followed",
                            )
                        )
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(rel + "/")
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        self.flaws.append(
                            (
                                "not_regular",
                                nfc,
                                f"{nfc}: not a regular file "
                                f"({_file_type(st.st_mode)}); never opened",
                            )
                        )
                        continue
                    key = names.add(rel)
                    if key is None:
                        continue
                    out[key] = st.st_size
                    self._raw[key] = rel
                    if len(out) > MAX_FILES:
                        raise PackageUnreadable(f"more than {MAX_FILES} files")
            self._files = out
        return self._files

    def _path(self, rel: str) -> Path:
        self.files()
        return self.root / self._raw.get(rel, rel)

    def blocks(self, rel: str) -> Iterator[bytes]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        flags |= getattr(os, "O_BINARY", 0)
        fd = os.open(self._path(rel), flags)
        try:
            # Checked on the open descriptor, so a swap after listing cannot slip through.
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotRegularFile(f"{rel}: not a regular file")
            while True:
                block = os.read(fd, BLOCK_SIZE)
                if not block:
                    return
                yield block
        finally:
            os.close(fd)

    def local_path(self, rel: str) -> Path | None:
        return self._path(rel)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class ZipBag(BagSource):
    """The ZIP as received. Every entry must be a plain stored-or-deflated regular file with a
    safe, unique name (exactly, after NFC and after case folding)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise PackageUnreadable(f"{path}: not a readable ZIP ({exc})") from exc
        infos = self.zf.infolist()
        if len(infos) > MAX_FILES:
            raise PackageUnreadable(f"more than {MAX_FILES} files")
        names = [i for i in infos if not i.is_dir()]
        tops = {n.filename.split("/", 1)[0] for n in names if "/" in n.filename}
        all_names = {n.filename for n in names}
        bag_tops = [t for t in tops if f"{t}/bagit.txt" in all_names]
        if len(bag_tops) != 1:
            raise PackageUnreadable(
                f"{path}: the ZIP must hold exactly one folder with bagit.txt, found {len(bag_tops)}"
            )
        self.top = bag_tops[0]
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._extras: list[str] = []
        seen = _Names(self.flaws, "ZIP")
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            if _unsafe_name(name.rstrip("/") if info.is_dir() else name):
                self.flaws.append(
                    (
                        "unsafe_name",
                        name,
                        f"{name!r}: unsafe entry name in the ZIP "
                        "(absolute, '..', empty part or backslash)",
                    )
                )
                continue
            if info.is_dir():
                continue
            if info.create_system == 3 and mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                self.flaws.append(
                    (
                        "not_regular",
                        name,
                        f"{name}: ZIP entry is {_file_type(mode)}, not a regular file",
                    )
                )
                continue
            if info.flag_bits & 0x1:
                self.flaws.append(("not_regular", name, f"{name}: encrypted ZIP entry"))
                continue
            key = seen.add(name)
            if key is None:
                continue
            if name.startswith(self.top + "/"):
                self._infos[key[len(self.top) + 1 :]] = info
            else:
                self._extras.append(name)

    def files(self) -> dict[str, int]:
        return {rel: info.file_size for rel, info in self._infos.items()}

    def blocks(self, rel: str) -> Iterator[bytes]:
        info = self._infos[rel]
        try:
            f = self.zf.open(info)
        except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
            raise PackageUnreadable(f"{rel}: ZIP entry cannot be read ({exc})") from None
        with f:
            read = 0
            while True:
                block = f.read(BLOCK_SIZE)
                if not block:
                    return
                read += len(block)
                if read > info.file_size:  # a header that lies about the size
                    raise zipfile.BadZipFile(f"{rel}: more bytes than the ZIP header declares")
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
    # Origin: which keys signed what was verified, and whether each is trusted.
    signing_keys: dict[str, str] = field(default_factory=dict)  # key id -> fingerprint
    untrusted: list[str] = field(default_factory=list)  # key ids not among --trusted-key
    trusted_given: bool = False
    origin_established: bool = False
    origin_by_tsa: bool = False  # the tree head's RFC 3161 token verifies with --trusted-tsa

    def problem(self, kind: str, where: str, message: str) -> None:
        self.problems.append(Problem(kind, where, message))

    @property
    def ok(self) -> bool:
        """Integrity: every byte, signature, proof and derivation holds."""
        return not self.problems

    @property
    def valid(self) -> bool:
        """Integrity and origin: holds and signed by a trusted key."""
        return self.ok and self.origin_established

    @property
    def exit_code(self) -> int:
        if not self.ok:
            return EXIT_INVALID
        return EXIT_VALID if self.origin_established else EXIT_UNTRUSTED


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
        trusted_keys: tuple[str, ...] | list[TrustedKey] = (),
        progress: Callable[[str, int, int], None] | None = None,
        trusted_tsa: bytes | None = None,
    ) -> None:
        self.bag = bag
        self.trusted_tsa = trusted_tsa
        self.trusted: list[TrustedKey] = [
            k if isinstance(k, TrustedKey) else t
            for k in trusted_keys
            for t in ([k] if isinstance(k, TrustedKey) else load_trusted_keys([k]))
        ]
        self.report = Report(trusted_given=bool(self.trusted) or trusted_tsa is not None)
        self.windows: dict[str, tuple[Any, Any]] = {}  # key id -> (valid_from, valid_to)
        self.used: dict[str, list[tuple[str, str, str | None]]] = {}  # kid -> (rel, what, time)
        self.progress = progress
        self.digests: dict[str, dict[str, str]] = {}  # payload path -> {alg: hex} as found
        self.tag_digests: dict[str, dict[str, str]] = {}  # tag file -> {alg: hex}, hashed once
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
        for kind, where, message in self.bag.flaws:
            self.report.problem(kind, where, message)
            self._fail_file(where, kind.replace("_", " "))
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
        self.step10b_trusted_tsa(files)
        self.step11_origin()
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
            if rel not in listed:
                # Refused before hashing: an added file costs nothing, however large.
                self.report.problem(
                    "unexpected", rel, f"{rel}: not in the bag manifests (file added after sealing)"
                )
                self._fail_file(rel, "added: not in the manifests")
                continue
            found, size = _hash_blocks(
                self.bag_blocks(rel),
                algorithms + (("sha256",) if "sha256" not in algorithms else ()),
            )
            done += size
            if self.progress:
                self.progress(rel, done, total)
            self.digests[rel] = found
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
        except OSError as exc:  # swapped for a link or FIFO after listing, or unreadable
            self.report.problem("not_regular", rel, f"{rel}: cannot be read as a file ({exc})")
            self._fail_file(rel, "not a regular file")

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
                if algorithm not in self.tag_digests.setdefault(rel, {}):
                    self.tag_digests[rel].update(
                        _hash_blocks(self.bag_blocks(rel), BAG_ALGORITHMS)[0]
                    )
                found = self.tag_digests[rel]
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
            sealed = _hash_blocks(self.bag_blocks("verify.py"), ("sha256",))[0]["sha256"]
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
            for item in keys.get("keys", []) if isinstance(keys, dict) else []:
                try:
                    raw = bytes.fromhex(item["public_key_hex"])
                except (KeyError, ValueError, TypeError):
                    self.report.problem(
                        "malformed",
                        "data/ledger/keys.json",
                        "data/ledger/keys.json: a key without public_key_hex",
                    )
                    continue
                if len(raw) != 32:
                    self.report.problem(
                        "malformed",
                        "data/ledger/keys.json",
                        "data/ledger/keys.json: a public key is not 32 bytes",
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
                    continue
                fp = item.get("fingerprint")
                if fp is not None and fp != fingerprint_of(raw):
                    self.report.problem(
                        "malformed",
                        "data/ledger/keys.json",
                        f"data/ledger/keys.json: fingerprint {fp} does not belong to key {kid}",
                    )
                self.keys[kid] = raw
                self.windows[kid] = (item.get("valid_from"), item.get("valid_to"))
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
            moment=str(head["time"]),
        ):
            return
        self.head = head
        sb = "data/ledger/tree-head.signed.json"
        if sb in files and self.bag.read(sb) != signed:
            self.report.problem("malformed", sb, f"{sb}: not the tree head's signed bytes")
            self._fail_file(sb, "does not match tree-head.json")

    def _signature_ok(
        self, kid: str, data: bytes, signature: str, rel: str, what: str, moment: str | None = None
    ) -> bool:
        key = self.keys.get(kid)
        if key is None:
            self.report.problem(
                "signature_invalid",
                rel,
                f"{rel}: {what} is signed by key {kid}, which is not in data/ledger/keys.json",
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
        self.used.setdefault(kid, []).append((rel, what, moment))
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
            raise PackageUnreadable(f"{rel}: more than {MAX_LEDGER_LINES} lines")
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
                if sig is not None and not isinstance(sig, dict):
                    self.report.problem("malformed", sig_rel, f"{sig_rel}: not a JSON object")
                    continue
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

    def step11_origin(self) -> None:
        """Origin: every key that signed something verified here must be one the clerk trusts
        (--trusted-key), valid at the time it signed; the package's own key list proves nothing
        about who made it."""
        for kid, uses in sorted(self.used.items()):
            raw = self.keys[kid]
            fp = fingerprint_of(raw)
            self.report.signing_keys[kid] = fp
            start, end = self.windows.get(kid, (None, None))
            declared = TrustedKey(fp, None, start, end)
            trusted = [t for t in self.trusted if t.matches(raw)]
            for rel, what, moment in uses:
                if moment is None:
                    continue
                if (start or end) and not declared.window_allows(moment):
                    self.report.problem(
                        "key_window",
                        rel,
                        f"{rel}: {what} is signed at {moment} by key {kid}, which "
                        f"data/ledger/keys.json says is valid only from {start or 'the start'} "
                        f"to {end or 'now'}",
                    )
                    self._fail_file(rel, "signed outside its key's validity window")
                if trusted and not any(t.window_allows(moment) for t in trusted):
                    windows = ", ".join(
                        f"{t.valid_from or 'the start'} to {t.valid_to or 'now'}" for t in trusted
                    )
                    self.report.problem(
                        "key_window",
                        rel,
                        f"{rel}: {what} is signed at {moment} by key {kid}, which your trusted "
                        f"keys file says was valid only {windows} (a retired or stolen key?)",
                    )
                    self._fail_file(rel, "signed outside its trusted validity window")
            if not trusted:
                self.report.untrusted.append(kid)
        recorded = self.info("Signing-Key-Fingerprint")
        if recorded and self.head is not None:
            head_fp = self.report.signing_keys.get(str(self.head.get("key_id")))
            if head_fp and recorded.lower() != head_fp:
                self.report.problem(
                    "bag_invalid",
                    "bag-info.txt",
                    f"bag-info.txt: Signing-Key-Fingerprint {recorded} is not the fingerprint "
                    f"of the key that signed the tree head ({head_fp})",
                )
        # Trusted keys, when given, must cover every signer; without them, a tree-head token
        # from a TSA the clerk trusts (--trusted-tsa) establishes who had the head stamped.
        by_keys = bool(self.trusted) and not self.report.untrusted
        by_tsa = not self.trusted and self.report.origin_by_tsa
        self.report.origin_established = (
            self.head is not None and bool(self.report.signing_keys) and (by_keys or by_tsa)
        )

    def step10b_trusted_tsa(self, files: dict[str, int]) -> None:
        """The tree head's RFC 3161 token against the TSA roots the clerk trusts (never the
        package's own tsa-roots.pem, which whoever made the package chose)."""
        token, stamped = "data/ledger/tree-head.tsr", "data/ledger/tree-head.signed.json"
        if self.trusted_tsa is None or self.head is None:
            return
        if token not in files or stamped not in files:
            self.report.warnings.append("--trusted-tsa: the package has no tree-head token")
            return
        openssl = shutil.which("openssl")
        if openssl is None:
            self.report.warnings.append("--trusted-tsa: openssl not found, token not checked")
            return
        with tempfile.TemporaryDirectory(prefix="verify-tsa-") as tmp:
            paths = [Path(tmp, n) for n in ("t.tsr", "d.bin", "ca.pem")]
            for path, data in zip(
                paths,
                (self.bag.read(token), self.bag.read(stamped), self.trusted_tsa),
                strict=True,
            ):
                path.write_bytes(data)
            result = subprocess.run(
                [
                    openssl,
                    "ts",
                    "-verify",
                    "-in",
                    str(paths[0]),
                    "-data",
                    str(paths[1]),
                    "-CAfile",
                    str(paths[2]),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
        if result.returncode == 0 and "OK" in result.stdout:
            self.report.origin_by_tsa = True
            self.report.notes.append(
                "origin: the signed tree head carries an RFC 3161 token of a TSA you trust"
            )
        else:
            self.report.warnings.append(
                "--trusted-tsa: the tree head's token does not verify with the roots you gave"
            )


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
    trusted_keys: tuple[str, ...] | list[TrustedKey] = (),
    progress: Callable[[str, int, int], None] | None = None,
    trusted_tsa: bytes | None = None,
) -> Report:
    """Check one package (folder or ZIP); raises PackageUnreadable when it cannot be read
    (or exceeds a size limit) and BadTrustedKey when a trusted key cannot be understood."""
    trusted = [
        t
        for k in trusted_keys
        for t in ([k] if isinstance(k, TrustedKey) else load_trusted_keys([k]))
    ]
    bag = open_bag(Path(path))
    try:
        return Verifier(bag, trusted_keys=trusted, progress=progress, trusted_tsa=trusted_tsa).run()
    finally:
        bag.close()


HOW_TO_TRUST = (
    "Compare this fingerprint with the one the issuing agency publishes (for example filed "
    "with the Justice Bureau, or its keys file / GET /api/v1/keys), then run again with "
    "--trusted-key FINGERPRINT (or --trusted-key KEYS_FILE). "
    "请将此指纹与执法机关公布的签名密钥指纹（如在司法局备案的指纹）核对，然后加上 "
    "--trusted-key 指纹（或密钥文件）重新校验。"
)


def render(report: Report, path: str, *, quiet: bool = False) -> str:
    """The human verdict: per-file lines, notes, signing keys, then the verdict."""
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
    for kid, fp in sorted(report.signing_keys.items()):
        state = "untrusted / 未受信任" if kid in report.untrusted else "trusted / 受信任"
        out.append(f"Signing key / 签名密钥 {kid}: fingerprint / 指纹 SHA256:{fp} ({state})")
    out.append("")
    if not report.ok:
        count = len(report.problems)
        out.append(
            f"VERDICT / 结论: INVALID — 校验未通过: {count} problem{'s' if count != 1 else ''}:"
        )
        for i, p in enumerate(report.problems, 1):
            out.append(f"  {i}. [{p.kind}] {p.message}")
    elif report.origin_established:
        out.append(
            f"VERDICT / 结论: VALID — 校验通过，来源已确认: {len(report.files_checked)} files, "
            "every hash, signature, ledger proof and derivation holds, and every signature is "
            "by a key you trust."
        )
    else:
        if not report.trusted_given:
            why = "no --trusted-key was given"
        elif report.untrusted and not report.origin_by_tsa:
            why = "the signing key is not among your --trusted-key values: " + ", ".join(
                report.untrusted
            )
        else:
            why = "the tree head's token does not verify with your --trusted-tsa roots"
        out.append(
            "VERDICT / 结论: ORIGIN NOT ESTABLISHED — 完整性成立，来源未确认 (exit 3): every "
            "byte, signature and ledger proof holds, but nothing shows who signed it "
            f"({why}). Any server can sign a package with its own key."
        )
        out.append("  " + HOW_TO_TRUST)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="Check a Custodian sealed evidence package offline. Exit 0 valid and "
        "signed by a trusted key; 1 invalid; 2 unreadable; 3 integrity holds but origin not "
        "established (no or another --trusted-key).",
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
        metavar="KEY",
        help="the signing key the agency publishes: fingerprint (64 hex), key id (16 hex), "
        "public key hex, PEM file, or keys file (repeatable)",
    )
    parser.add_argument(
        "--trusted-tsa",
        metavar="PEM",
        help="root certificate(s) of a time-stamping authority you trust (e.g. the agency's "
        "own TSA): its token over the signed tree head establishes origin",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the verdict")
    args = parser.parse_args(argv)
    target = args.package or str(Path(__file__).resolve().parent)
    try:
        trusted = load_trusted_keys(args.trusted_key)
        tsa = load_trusted_tsa(args.trusted_tsa)
        report = verify_package(target, trusted_keys=trusted, trusted_tsa=tsa)
    except BadTrustedKey as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (PackageUnreadable, OSError) as exc:
        print(f"error: unreadable / 无法读取: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(render(report, target, quiet=args.quiet))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
