"""Streamed hashing agrees with hashlib for every size and algorithm mix."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrity.hashing import (
    BLOCK_SIZE,
    Digest,
    HashingReader,
    HashingWriter,
    MultiHasher,
    hash_file,
    hash_fileobj,
    sha256_file,
)

SIZES = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 12345]


@pytest.mark.parametrize("size", SIZES)
def test_hash_file_equals_hashlib_at_block_edges(tmp_path, size) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    seen: list[int] = []
    digests = hash_file(path, ("sha256", "sha512"), progress=seen.append)
    assert digests["sha256"] == Digest("sha256", hashlib.sha256(data).hexdigest())
    assert digests["sha512"].hex == hashlib.sha512(data).hexdigest()
    assert (seen[-1] if seen else 0) == size
    assert seen == sorted(seen)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=700))
def test_reader_and_writer_equal_hashlib(data, chunk) -> None:
    reader = HashingReader(io.BytesIO(data), ("sha256", "sha3_256"))
    parts = []
    while piece := reader.read(chunk):
        parts.append(piece)
    assert b"".join(parts) == data
    assert reader.bytes_read == len(data)
    assert reader.digest().hex == hashlib.sha256(data).hexdigest()
    assert reader.digest("sha3_256").hex == hashlib.sha3_256(data).hexdigest()

    sink = io.BytesIO()
    writer = HashingWriter(sink)
    for i in range(0, len(data), chunk):
        writer.write(data[i : i + chunk])
    assert sink.getvalue() == data
    assert writer.bytes_written == len(data)
    assert writer.digest() == Digest("sha256", hashlib.sha256(data).hexdigest())


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=3 * 1024 * 1024 + 17))
def test_hash_fileobj_random_sizes(size) -> None:
    data = os.urandom(size)
    digests = hash_fileobj(io.BytesIO(data))
    assert digests["sha256"].hex == hashlib.sha256(data).hexdigest()


def test_reader_readinto_hashes_only_filled_bytes() -> None:
    data = os.urandom(1000)
    reader = HashingReader(io.BytesIO(data))
    buffer = bytearray(300)
    out = bytearray()
    while n := reader.readinto(buffer):
        out += buffer[:n]
    assert bytes(out) == data
    assert reader.digest().hex == hashlib.sha256(data).hexdigest()


def test_multihasher_several_algorithms_one_pass() -> None:
    hasher = MultiHasher(["sha256", "sha512", "blake2b", "sha256"])
    assert hasher.algorithms == ("sha256", "sha512", "blake2b")
    hasher.update(b"abc")
    hasher.update(memoryview(b"def"))
    digests = hasher.digests()
    assert digests["sha256"].hex == hashlib.sha256(b"abcdef").hexdigest()
    assert digests["sha512"].hex == hashlib.sha512(b"abcdef").hexdigest()
    assert digests["blake2b"].hex == hashlib.blake2b(b"abcdef").hexdigest()
    assert hasher.bytes_hashed == 6


def test_digest_carries_its_algorithm() -> None:
    hex_ = hashlib.sha256(b"x").hexdigest()
    digest = Digest("sha256", hex_)
    assert str(digest) == f"sha256:{hex_}"
    assert Digest.parse(str(digest)) == digest
    assert Digest.parse(f"SHA256:{hex_}".replace("SHA256", "sha256").upper().lower()) == digest
    assert digest.raw == hashlib.sha256(b"x").digest()
    with pytest.raises(ValueError):
        Digest.parse(hex_)  # no algorithm
    with pytest.raises(ValueError):
        Digest("md5", hashlib.md5(b"x").hexdigest())
    with pytest.raises(ValueError):
        Digest("sha256", hex_[:-1])
    with pytest.raises(ValueError):
        MultiHasher([])
