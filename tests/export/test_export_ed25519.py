"""The verifier's pure-Python Ed25519 against `cryptography` and the RFC 8032 test vectors."""

from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity.verify_package import ed25519_verify

# RFC 8032 §7.1 TEST 1, 2, 3 and TEST SHA(abc): (secret, public, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    assert ed25519_verify(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature))
    bad = bytearray(bytes.fromhex(signature))
    bad[5] ^= 1
    assert not ed25519_verify(bytes.fromhex(public), bytes.fromhex(message), bytes(bad))


def test_agrees_with_cryptography_on_random_keys_and_messages() -> None:
    rng = random.Random(8032)
    for _ in range(40):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        message = os.urandom(rng.randrange(0, 300))
        signature = key.sign(message)
        assert ed25519_verify(public, message, signature)
        # A flipped bit anywhere (message, R, S, key) must fail, as cryptography says.
        flipped = bytearray(signature)
        flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)
        assert not ed25519_verify(public, message, bytes(flipped))
        if message:
            changed = bytearray(message)
            changed[rng.randrange(len(message))] ^= 1
            assert not ed25519_verify(public, bytes(changed), signature)
        other = (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        assert not ed25519_verify(other, message, signature)


def test_refuses_malformed_inputs() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signature = key.sign(b"x")
    assert not ed25519_verify(public[:31], b"x", signature)
    assert not ed25519_verify(public, b"x", signature[:63])
    # S >= L (a malleated signature: S + L) is refused.
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(signature[32:], "little") + order
    if s < 2**256:
        assert not ed25519_verify(public, b"x", signature[:32] + s.to_bytes(32, "little"))
    # A y coordinate >= p does not decode.
    assert not ed25519_verify(b"\xff" * 32, b"x", signature)
