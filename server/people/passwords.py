"""Password hashing with scrypt (memory-hard), in a self-describing string."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

# scrypt parameters: n=2**14, r=8 uses 16 MiB per hash, about 50 ms here.
N, R, P, DKLEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    """Hash a password as scrypt$n$r$p$salt$hash (base64)."""
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(dk).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored scrypt hash."""
    try:
        scheme, n, r, p, salt, dk = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(dk)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A hash to check against when the user does not exist, so timing does not reveal usernames.
# Made on first use, not at import: every command that imports accounts would pay a scrypt.
@functools.cache
def dummy_hash() -> str:
    return hash_password(base64.b64encode(os.urandom(12)).decode())
