"""The server's Ed25519 signing key: where it lives, loading it once, publishing its public half."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integrity import signing
from server.settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE = "signing_key.pem"
ALGORITHM = "Ed25519"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ServerKey:
    """The private key that signs manifests and tree heads, with its public forms.

    The key file is looked at again before each use (one stat): after `custodian keys rotate`
    replaces it, a running server signs with the new key from its next signature on."""

    def __init__(self, private: Ed25519PrivateKey, path: Path) -> None:
        self._private = private
        self.path = path
        self._stamp = _stamp(path)

    @property
    def private(self) -> Ed25519PrivateKey:
        stamp = _stamp(self.path)
        if stamp is not None and stamp != self._stamp:
            try:
                self._private = signing.load_private_key(self.path)
                self._stamp = stamp
                logger.warning(
                    "signing key file %s changed: now signing with key %s",
                    self.path,
                    signing.key_id(self._private),
                )
            except (OSError, ValueError):
                logger.exception("cannot reload the signing key %s; keeping the old one", self.path)
        return self._private

    @property
    def key_id(self) -> str:
        """The key id every signature names (first 16 hex of SHA-256 of the raw public key)."""
        return signing.key_id(self.private)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """{key_id: public key}: what verification trusts."""
        return {self.key_id: self.public}

    def public_json(self) -> dict[str, Any]:
        """How GET /api/v1/keys publishes the key."""
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "fingerprint": signing.fingerprint(self.private),
            "public_key_hex": signing.public_key_hex(self.private),
            "public_key_pem": signing.public_key_pem(self.private),
            "current": True,
        }


def key_path(settings: Settings) -> Path:
    """The key file: setting signing_key_path, or DATA_DIR/signing_key.pem."""
    if settings.signing_key_path:
        return Path(settings.signing_key_path).expanduser().resolve()
    return settings.data_path / KEY_FILE


def load_or_create_key(settings: Settings) -> ServerKey:
    """Load the server key, creating it (0600, atomically, race-safe) on first start."""
    path = key_path(settings)
    existed = path.exists()
    key = ServerKey(signing.load_or_create_key(path), path)
    if not existed:
        logger.warning("created a new signing key %s at %s; back it up", key.key_id, path)
    return key


def load_existing_key(settings: Settings) -> ServerKey | None:
    """The server key if it exists (verification must not invent a key); None otherwise."""
    path = key_path(settings)
    if not path.exists():
        return None
    return ServerKey(signing.load_private_key(path), path)
