"""SHA-256 whose running state can be saved and resumed in another process.

A tus upload's PATCHes may land on different servers; each continues the whole-file SHA-256
where the previous one stopped. hashlib cannot export its state, so this drives OpenSSL's
SHA256_Init/Update/Final through ctypes (the libcrypto Python's own hashlib uses; the calls
release the GIL, speed is hashlib's) and serialises the public SHA256_CTX fields
(openssl/sha.h: h[8], Nl, Nh, data[16], num, md_len) in a fixed little-endian form, so the
state is portable between servers whatever their byte order. `available()` is False where
libcrypto lacks the (deprecated but exported) low-level calls; callers then fall back to
re-hashing the received prefix.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import struct
from typing import Any

_FORMAT = "<8I2I64sII"  # h[8], Nl, Nh, data (64 bytes), num, md_len
STATE_SIZE = struct.calcsize(_FORMAT)  # 112
VERSION = b"S1"


class _Ctx(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint8 * 64),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


def _load() -> Any:
    for name in ("crypto", "libcrypto.so.3", "libcrypto.so"):
        path = ctypes.util.find_library(name) if name == "crypto" else name
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
            for fn in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
                getattr(lib, fn)
        except (OSError, AttributeError):
            continue
        lib.SHA256_Init.argtypes = [ctypes.POINTER(_Ctx)]
        lib.SHA256_Update.argtypes = [ctypes.POINTER(_Ctx), ctypes.c_void_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Ctx)]
        return lib
    return None


_LIB = _load()


def available() -> bool:
    return _LIB is not None


class ResumableSha256:
    """hashlib-like (update, copy, digest, hexdigest) with `state()` / `from_state()`."""

    def __init__(self) -> None:
        if _LIB is None:
            raise RuntimeError("libcrypto's SHA256_* functions are not available")
        self._ctx = _Ctx()
        _LIB.SHA256_Init(ctypes.byref(self._ctx))

    def update(self, data: Any) -> None:
        if isinstance(data, bytes):  # what sockets deliver: passed by address, no copy
            if data:
                _LIB.SHA256_Update(ctypes.byref(self._ctx), data, len(data))
            return
        view = memoryview(data).cast("B")
        n = view.nbytes
        if not n:
            return
        if view.readonly:
            _LIB.SHA256_Update(ctypes.byref(self._ctx), bytes(view), n)
        else:
            arr = (ctypes.c_char * n).from_buffer(view)
            _LIB.SHA256_Update(ctypes.byref(self._ctx), ctypes.addressof(arr), n)
            del arr

    def copy(self) -> ResumableSha256:
        other = ResumableSha256.__new__(ResumableSha256)
        other._ctx = _Ctx()
        ctypes.pointer(other._ctx)[0] = self._ctx
        return other

    def digest(self) -> bytes:
        ctx = self.copy()._ctx
        out = ctypes.create_string_buffer(32)
        _LIB.SHA256_Final(out, ctypes.byref(ctx))
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

    @property
    def length(self) -> int:
        """Bytes hashed so far."""
        return ((self._ctx.Nh << 32) | self._ctx.Nl) // 8

    def state(self) -> bytes:
        c = self._ctx
        return VERSION + struct.pack(_FORMAT, *c.h, c.Nl, c.Nh, bytes(c.data), c.num, c.md_len)

    @classmethod
    def from_state(cls, blob: bytes) -> ResumableSha256:
        if len(blob) != len(VERSION) + STATE_SIZE or not blob.startswith(VERSION):
            raise ValueError("not a saved SHA-256 state")
        fields = struct.unpack(_FORMAT, blob[len(VERSION) :])
        self = cls()
        c = self._ctx
        for i in range(8):
            c.h[i] = fields[i]
        c.Nl, c.Nh = fields[8], fields[9]
        ctypes.memmove(c.data, fields[10], 64)
        c.num, c.md_len = fields[11], fields[12]
        if c.num >= 64 or c.md_len != 32:
            raise ValueError("not a saved SHA-256 state")
        return self


def new_hasher() -> Any:
    """A resumable SHA-256 where libcrypto allows, else hashlib's (its state cannot be saved)."""
    return ResumableSha256() if available() else hashlib.sha256()


def state_of(hasher: Any) -> bytes | None:
    """The saved state of a hasher from new_hasher(), or None where it cannot be saved."""
    return hasher.state() if isinstance(hasher, ResumableSha256) else None
