"""Item manifests: canonical, signed, versioned descriptions of an original and its derivatives."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity import signing
from integrity.canonical import canonical_json, is_canonical, loads
from integrity.errors import MANIFEST_INVALID, SIGNATURE_INVALID, Problem
from integrity.timefmt import as_rfc3339

MANIFEST_FORMAT = "custodian.item-manifest/1"
# Roles a derived file may play; anything else is refused so a typo cannot hide a file.
ROLES = frozenset(
    {
        "hls_playlist",
        "hls_init",
        "hls_segment",
        "rendition",
        "sprite",
        "thumbnail",
        "vtt",
        "waveform",
        "clip",
        "preview",
        "probe",
        "subtitles",
        "gps_track",
    }
)
MAX_DERIVED = 100_000
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def _sha256_hex(value: str, what: str) -> str:
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise ValueError(f"{what} must be 64 lower-case hex chars, got {value!r}")
    return value


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _freeze(value: Any) -> Any:
    # Parameters are recorded evidence of how a file was made; make them read-only all the
    # way down so a manifest cannot change after it is built.
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class OriginalInfo:
    """The original recording as it was received."""

    sha256: str
    size: int
    original_name: str
    delivered_by: str
    station_id: str | None
    claimed_sha256: str | None
    received_at: str
    device_id: str | None = None
    officer_id: str | None = None
    recorded_at: str | None = None

    def __post_init__(self) -> None:
        _sha256_hex(self.sha256, "original sha256")
        if self.claimed_sha256 is not None:
            _sha256_hex(self.claimed_sha256, "claimed sha256")
        if self.size < 0:
            raise ValueError("size must be >= 0")
        object.__setattr__(self, "original_name", _nfc(self.original_name))
        object.__setattr__(self, "received_at", as_rfc3339(self.received_at))
        if self.recorded_at is not None:
            object.__setattr__(self, "recorded_at", as_rfc3339(self.recorded_at))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OriginalInfo:
        """Build from the dict form; unknown or missing keys are an error."""
        return cls(**_exact_keys(cls, data, "original"))


@dataclass(frozen=True)
class DerivedFile:
    """One file made from the original (or from another derived file)."""

    name: str
    sha256: str
    size: int
    role: str
    derived_from: str
    tool: str
    tool_version: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _sha256_hex(self.sha256, f"{self.name}: sha256")
        _sha256_hex(self.derived_from, f"{self.name}: derived_from")
        if self.size < 0:
            raise ValueError(f"{self.name}: size must be >= 0")
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: unknown role {self.role!r}")
        name = _nfc(self.name)
        # Names are relative paths inside the item's rendition area; no escapes.
        if not name or name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise ValueError(f"unsafe derived file name: {self.name!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "parameters", _freeze(self.parameters))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["parameters"] = _thaw(self.parameters)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DerivedFile:
        """Build from the dict form; unknown or missing keys are an error."""
        return cls(**_exact_keys(cls, data, f"derived {data.get('name', '?')!r}"))


def _exact_keys(cls: type, data: Mapping[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    unknown = set(data) - names
    missing = required - set(data)
    if unknown or missing:
        raise ValueError(f"{what}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    return dict(data)


@dataclass(frozen=True)
class ItemManifest:
    """One version of an evidence item's manifest; a new version supersedes, never edits."""

    item_id: str
    version: int
    supersedes: str | None
    original: OriginalInfo
    derived: tuple[DerivedFile, ...]
    created_at: str

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("manifest version starts at 1")
        if (self.version == 1) != (self.supersedes is None):
            raise ValueError("version 1 supersedes nothing; every later version names one")
        if self.supersedes is not None:
            _sha256_hex(self.supersedes, "supersedes")
        if len(self.derived) > MAX_DERIVED:
            raise ValueError(f"more than {MAX_DERIVED} derived files")
        # Sorted by name so the same set of files always gives the same bytes.
        derived = tuple(sorted(self.derived, key=lambda d: d.name))
        for a, b in zip(derived, derived[1:], strict=False):
            if a.name == b.name:
                raise ValueError(f"derived file listed twice: {a.name!r}")
        object.__setattr__(self, "derived", derived)
        object.__setattr__(self, "created_at", as_rfc3339(self.created_at))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form, including file and byte counts of the derived files."""
        return {
            "format": MANIFEST_FORMAT,
            "item_id": self.item_id,
            "version": self.version,
            "supersedes": self.supersedes,
            "created_at": self.created_at,
            "original": self.original.to_dict(),
            "derived": [d.to_dict() for d in self.derived],
            # Counts in the style of BagIt's Payload-Oxum: a cheap first check.
            "derived_count": len(self.derived),
            "derived_bytes": sum(d.size for d in self.derived),
        }

    def canonical_bytes(self) -> bytes:
        """The canonical JSON encoding that is hashed and signed."""
        return canonical_json(self.to_dict())

    def sha256(self) -> str:
        """SHA-256 hex of the canonical bytes: the name a later version supersedes."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemManifest:
        """Build from the dict form, checking the format tag and the counts."""
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"not a {MANIFEST_FORMAT} manifest: format={data.get('format')!r}")
        expected = {
            "format",
            "item_id",
            "version",
            "supersedes",
            "created_at",
            "original",
            "derived",
            "derived_count",
            "derived_bytes",
        }
        if set(data) != expected:
            raise ValueError(
                f"manifest keys differ: unknown {sorted(set(data) - expected)}, "
                f"missing {sorted(expected - set(data))}"
            )
        manifest = cls(
            item_id=data["item_id"],
            version=data["version"],
            supersedes=data["supersedes"],
            original=OriginalInfo.from_dict(data["original"]),
            derived=tuple(DerivedFile.from_dict(d) for d in data["derived"]),
            created_at=data["created_at"],
        )
        if data["derived_count"] != len(manifest.derived):
            raise ValueError(
                f"derived_count says {data['derived_count']}, {len(manifest.derived)} listed"
            )
        total = sum(d.size for d in manifest.derived)
        if data["derived_bytes"] != total:
            raise ValueError(f"derived_bytes says {data['derived_bytes']}, files sum to {total}")
        return manifest

    @classmethod
    def from_bytes(cls, data: bytes) -> ItemManifest:
        """Parse canonical manifest bytes."""
        if len(data) > MAX_MANIFEST_BYTES:
            raise ValueError(f"manifest larger than {MAX_MANIFEST_BYTES} bytes")
        return cls.from_dict(loads(data))

    def next_version(
        self,
        *,
        derived: Iterable[DerivedFile] | None = None,
        created_at: str | datetime,
        original: OriginalInfo | None = None,
    ) -> ItemManifest:
        """A new manifest version that supersedes this one (this one is left untouched)."""
        return replace(
            self,
            version=self.version + 1,
            supersedes=self.sha256(),
            original=self.original if original is None else original,
            derived=self.derived if derived is None else tuple(derived),
            created_at=as_rfc3339(created_at),
        )


@dataclass(frozen=True)
class SignedManifest:
    """The exact manifest bytes plus a detached Ed25519 signature and the signer's key id."""

    manifest_bytes: bytes
    key_id: str
    signature: str

    def sha256(self) -> str:
        """SHA-256 hex of the signed bytes."""
        return hashlib.sha256(self.manifest_bytes).hexdigest()

    def manifest(self) -> ItemManifest:
        """Parse the signed bytes (does not verify the signature)."""
        return ItemManifest.from_bytes(self.manifest_bytes)


def sign_manifest(manifest: ItemManifest, key: Ed25519PrivateKey) -> SignedManifest:
    """Sign the manifest's canonical bytes."""
    data = manifest.canonical_bytes()
    return SignedManifest(data, signing.key_id(key), signing.sign(key, data))


def verify_manifest(
    signed: SignedManifest,
    public_key: signing.PublicKeyLike | Mapping[str, signing.PublicKeyLike],
    *,
    where: str = "manifest",
) -> list[Problem]:
    """Every problem with a signed manifest (empty list: it holds)."""
    problems: list[Problem] = []
    # Step 1: find the key the manifest claims to be signed with.
    key = signing.select_key(public_key, signed.key_id)
    if key is None:
        problems.append(
            Problem(SIGNATURE_INVALID, where, f"{where}: signed by unknown key {signed.key_id}")
        )
    # Step 2: the signature over the exact stored bytes.
    elif not signing.verify(key, signed.manifest_bytes, signed.signature):
        problems.append(
            Problem(
                SIGNATURE_INVALID,
                where,
                f"{where}: signature does not match the manifest bytes "
                f"(manifest edited or signature forged; key {signed.key_id})",
            )
        )
    # Step 3: the bytes are canonical and a well-formed manifest.
    if not is_canonical(signed.manifest_bytes):
        problems.append(Problem(MANIFEST_INVALID, where, f"{where}: bytes are not canonical JSON"))
    else:
        try:
            signed.manifest()
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(Problem(MANIFEST_INVALID, where, f"{where}: malformed manifest: {exc}"))
    return problems


def check_versions(versions: Sequence[ItemManifest], *, where: str = "item") -> list[Problem]:
    """Every break in a manifest version chain (1, 2, 3… each superseding the one before)."""
    problems: list[Problem] = []
    previous: ItemManifest | None = None
    for manifest in versions:
        label = f"{where} {manifest.item_id} manifest v{manifest.version}"
        if previous is None:
            if manifest.version != 1:
                problems.append(
                    Problem(MANIFEST_INVALID, label, f"{label}: first version is not 1")
                )
        else:
            if manifest.item_id != previous.item_id:
                problems.append(
                    Problem(MANIFEST_INVALID, label, f"{label}: belongs to another item")
                )
            if manifest.version != previous.version + 1:
                problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        label,
                        f"{label}: follows v{previous.version} (version missing or reordered)",
                    )
                )
            if manifest.supersedes != previous.sha256():
                problems.append(
                    Problem(
                        MANIFEST_INVALID,
                        label,
                        f"{label}: supersedes {manifest.supersedes}, but v{previous.version} "
                        f"hashes to {previous.sha256()}",
                    )
                )
        previous = manifest
    return problems
