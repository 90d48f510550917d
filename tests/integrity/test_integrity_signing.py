"""Ed25519 keys: atomic private key file, key ids, signatures that fail safely."""

from __future__ import annotations

import base64
import stat

from integrity import signing


def test_load_or_create_key_is_0600_and_stable(tmp_path) -> None:
    path = tmp_path / "keys" / "server.pem"
    key = signing.load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = signing.load_or_create_key(path)
    assert signing.public_key_hex(again) == signing.public_key_hex(key)
    assert [p.name for p in path.parent.iterdir()] == ["server.pem"]  # no temp file left


def test_sign_verify_roundtrip_with_every_public_key_form() -> None:
    key = signing.generate_key()
    signature = signing.sign(key, b"payload")
    for form in (
        key.public_key(),
        signing.public_key_raw(key),
        signing.public_key_hex(key),
        signing.public_key_pem(key),
        signing.public_key_pem(key).encode(),
    ):
        assert signing.verify(form, b"payload", signature)
    assert len(signing.key_id(key)) == 16
    assert signing.key_id(key) == signing.key_id(signing.public_key_pem(key))


def test_forged_or_garbled_signatures_return_false() -> None:
    key = signing.generate_key()
    other = signing.generate_key()
    signature = signing.sign(key, b"payload")
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    forged = base64.b64encode(bytes(raw)).decode()
    assert not signing.verify(key.public_key(), b"payload", forged)
    assert not signing.verify(key.public_key(), b"payloaD", signature)
    assert not signing.verify(other.public_key(), b"payload", signature)
    assert not signing.verify(key.public_key(), b"payload", "not base64!!")
    assert not signing.verify(key.public_key(), b"payload", base64.b64encode(b"short").decode())
    assert not signing.verify(b"bad key", b"payload", signature)


def test_select_key_by_id() -> None:
    a, b = signing.generate_key(), signing.generate_key()
    keys = {signing.key_id(a): a.public_key(), signing.key_id(b): signing.public_key_pem(b)}
    assert signing.public_key_hex(signing.select_key(keys, signing.key_id(b))) == (
        signing.public_key_hex(b)
    )
    assert signing.select_key(a.public_key(), signing.key_id(b)) is None
