"""Ed25519 keys and detached signatures (base64) over bytes."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# Anything a caller may hand us as "the public key": the object, its 32 raw bytes, those
# bytes as hex, or PEM (str or bytes). Verification must work from what a court receives.
PublicKeyLike = Union[Ed25519PublicKey, Ed25519PrivateKey, bytes, str]  # noqa: UP007
KEY_ID_LENGTH = 16
RAW_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM file."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_or_create_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load the key at path, or create it there (PEM, mode 0600, atomically) if absent."""
    target = Path(path)
    if target.exists():
        return load_private_key(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # Write a private temp file (mkstemp creates it 0600) then hard-link it into place:
    # link() refuses to overwrite, so two processes starting at once cannot replace each
    # other's key, and a reader never sees a half-written file.
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(private_key_pem(key))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            # Someone else won the race; their key is the key.
            return load_private_key(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return key


def public_key_of(key: PublicKeyLike) -> Ed25519PublicKey:
    """Turn any accepted public-key form (or a private key) into an Ed25519PublicKey."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("-----BEGIN"):
            key = text.encode("ascii")
        else:
            key = bytes.fromhex(text)
    if isinstance(key, bytes):
        if key.lstrip().startswith(b"-----BEGIN"):
            loaded = serialization.load_pem_public_key(key)
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError("PEM public key is not Ed25519")
            return loaded
        if len(key) != RAW_KEY_LENGTH:
            raise ValueError(f"raw Ed25519 public key must be {RAW_KEY_LENGTH} bytes")
        return Ed25519PublicKey.from_public_bytes(key)
    raise TypeError(f"cannot use {type(key).__name__} as an Ed25519 public key")


def public_key_raw(key: PublicKeyLike) -> bytes:
    """The 32 raw bytes of the public key."""
    return public_key_of(key).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def public_key_hex(key: PublicKeyLike) -> str:
    """The raw public key as lower-case hex."""
    return public_key_raw(key).hex()


def public_key_pem(key: PublicKeyLike) -> str:
    """The public key as SubjectPublicKeyInfo PEM text."""
    return (
        public_key_of(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def key_id(key: PublicKeyLike) -> str:
    """A short stable key name: the first 16 hex chars of SHA-256 of the raw public key."""
    return hashlib.sha256(public_key_raw(key)).hexdigest()[:KEY_ID_LENGTH]


def fingerprint(key: PublicKeyLike) -> str:
    """The key's fingerprint: SHA-256 of the raw 32-byte public key, 64 lowercase hex. The key
    id is its first 16 characters; agencies publish the whole fingerprint."""
    return hashlib.sha256(public_key_raw(key)).hexdigest()


def sign(private_key: Ed25519PrivateKey, data: bytes) -> str:
    """Sign data; the signature as standard base64 text."""
    return base64.b64encode(private_key.sign(data)).decode("ascii")


def verify(public_key: PublicKeyLike, data: bytes, signature: str | bytes) -> bool:
    """True when signature (base64) is a valid signature of data; never raises on bad input."""
    try:
        key = public_key_of(public_key)
        raw = base64.b64decode(signature, validate=True)
        if len(raw) != SIGNATURE_LENGTH:
            return False
        key.verify(raw, data)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True


def select_key(
    keys: PublicKeyLike | Mapping[str, PublicKeyLike], wanted_key_id: str
) -> Ed25519PublicKey | None:
    """Pick the public key named wanted_key_id from one key or a {key_id: key} mapping."""
    if isinstance(keys, Mapping):
        candidates = list(keys.values())
    else:
        candidates = [keys]
    for candidate in candidates:
        try:
            public = public_key_of(candidate)
        except (ValueError, TypeError):
            continue
        if key_id(public) == wanted_key_id:
            return public
    return None
