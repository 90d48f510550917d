"""Item manifests: canonical bytes, signatures, tamper detection and version chains."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import replace

import pytest

from integrity import signing
from integrity.canonical import canonical_json
from integrity.errors import MANIFEST_INVALID, SIGNATURE_INVALID
from integrity.manifest import (
    DerivedFile,
    ItemManifest,
    OriginalInfo,
    SignedManifest,
    check_versions,
    sign_manifest,
    verify_manifest,
)

ORIG = hashlib.sha256(b"original bytes").hexdigest()


def make_original(**overrides) -> OriginalInfo:
    values = dict(
        sha256=ORIG,
        size=14,
        original_name="FILE0001.MP4",
        delivered_by="agent:dock-3",
        station_id="dock-3",
        claimed_sha256=ORIG,
        received_at="2024-05-01T10:00:00Z",
        device_id="BWC-0042",
        officer_id="officer-17",
        recorded_at="2024-05-01T08:12:00+02:00",
    )
    values.update(overrides)
    return OriginalInfo(**values)


def make_derived(name: str, role: str = "hls_segment", **params) -> DerivedFile:
    return DerivedFile(
        name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size=len(name) * 100,
        role=role,
        derived_from=ORIG,
        tool="custodian-transcode",
        tool_version="0.1.0 (PyAV 12.0, FFmpeg 6.1)",
        parameters={"mode": "copy", **params},
    )


@pytest.fixture
def manifest() -> ItemManifest:
    return ItemManifest(
        item_id="item-1",
        version=1,
        supersedes=None,
        original=make_original(),
        derived=(make_derived("hls/seg1.ts"), make_derived("hls/index.m3u8", "hls_playlist")),
        created_at="2024-05-01T10:05:00Z",
    )


def test_canonical_bytes_are_deterministic_and_round_trip(manifest) -> None:
    data = manifest.canonical_bytes()
    assert data == canonical_json(json.loads(data))
    assert ItemManifest.from_bytes(data) == manifest
    assert ItemManifest.from_dict(manifest.to_dict()).sha256() == manifest.sha256()
    # Order of derived files does not change the bytes; they are sorted by name.
    shuffled = replace(manifest, derived=tuple(reversed(manifest.derived)))
    assert shuffled.canonical_bytes() == data
    parsed = json.loads(data)
    assert parsed["derived_count"] == 2
    assert parsed["derived_bytes"] == sum(d.size for d in manifest.derived)
    assert parsed["original"]["recorded_at"] == "2024-05-01T06:12:00.000000Z"  # made UTC


def test_names_are_nfc_normalised() -> None:
    a = make_original(original_name=unicodedata.normalize("NFD", "Überwachung.mp4"))
    b = make_original(original_name=unicodedata.normalize("NFC", "Überwachung.mp4"))
    assert a == b


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        make_derived("../escape.ts")
    with pytest.raises(ValueError):
        make_derived("x.ts", role="mystery")
    with pytest.raises(ValueError):
        make_original(sha256="abc")
    with pytest.raises(ValueError):
        make_original(received_at="2024-05-01T10:00:00")  # no zone
    with pytest.raises(ValueError):
        ItemManifest("i", 2, None, make_original(), (), "2024-05-01T10:05:00Z")
    with pytest.raises(ValueError):
        ItemManifest(
            "i",
            1,
            None,
            make_original(),
            (make_derived("a"), make_derived("a")),
            "2024-05-01T10:05:00Z",
        )


def test_parameters_are_read_only(manifest) -> None:
    with pytest.raises(TypeError):
        manifest.derived[0].parameters["mode"] = "reencode"  # type: ignore[index]
    with pytest.raises(AttributeError):
        manifest.version = 2  # type: ignore[misc]


def test_sign_and_verify(manifest) -> None:
    key = signing.generate_key()
    signed = sign_manifest(manifest, key)
    assert signed.key_id == signing.key_id(key)
    assert verify_manifest(signed, key.public_key()) == []
    assert verify_manifest(signed, {signed.key_id: signing.public_key_pem(key)}) == []
    assert signed.manifest() == manifest
    assert signed.sha256() == manifest.sha256()


def test_edited_manifest_is_detected(manifest) -> None:
    key = signing.generate_key()
    signed = sign_manifest(manifest, key)
    edited_dict = manifest.to_dict()
    edited_dict["original"]["officer_id"] = "officer-99"
    edited = SignedManifest(canonical_json(edited_dict), signed.key_id, signed.signature)
    problems = verify_manifest(edited, key.public_key(), where="item-1 manifest v1")
    assert [p.kind for p in problems] == [SIGNATURE_INVALID]
    assert problems[0].message.startswith(
        "item-1 manifest v1: signature does not match the manifest bytes (manifest edited"
    )
    # One byte flipped anywhere is caught, canonical or not.
    raw = bytearray(signed.manifest_bytes)
    raw[10] ^= 0x20
    problems = verify_manifest(SignedManifest(bytes(raw), signed.key_id, signed.signature), key)
    assert SIGNATURE_INVALID in [p.kind for p in problems]


def test_unknown_key_and_non_canonical_bytes(manifest) -> None:
    key, other = signing.generate_key(), signing.generate_key()
    signed = sign_manifest(manifest, key)
    problems = verify_manifest(signed, other.public_key())
    assert [p.kind for p in problems] == [SIGNATURE_INVALID]
    assert "unknown key" in problems[0].message
    pretty = json.dumps(manifest.to_dict(), indent=2).encode()
    problems = verify_manifest(
        SignedManifest(pretty, signed.key_id, signing.sign(key, pretty)), key
    )
    assert [p.kind for p in problems] == [MANIFEST_INVALID]


def test_version_chain(manifest) -> None:
    v2 = manifest.next_version(
        derived=(*manifest.derived, make_derived("sprites/0.jpg", "sprite")),
        created_at="2024-05-01T11:00:00Z",
    )
    v3 = v2.next_version(created_at="2024-05-02T09:00:00Z")
    assert manifest.version == 1 and len(manifest.derived) == 2  # untouched
    assert (v2.version, v2.supersedes) == (2, manifest.sha256())
    assert (v3.version, v3.supersedes) == (3, v2.sha256())
    assert check_versions([manifest, v2, v3]) == []
    # A version dropped or a superseded version edited is reported.
    problems = check_versions([manifest, v3])
    assert any("follows v1" in p.message for p in problems)
    forged_v2 = replace(v2, created_at="2024-05-01T11:30:00Z")
    problems = check_versions([manifest, forged_v2, v3])
    assert len(problems) == 1
    assert problems[0].message.startswith("item item-1 manifest v3: supersedes")
