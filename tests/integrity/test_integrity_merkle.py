"""RFC 6962 Merkle proofs, checked against an independent verifier written from the RFC text.

The reference functions below follow RFC 6962 §2.1 (MTH), §2.1.1 (PATH) and §2.1.2
(PROOF/SUBPROOF) literally, recursively, and share no code with integrity.merkle.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from integrity import merkle


def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH over raw leaf data, RFC 6962 §2.1."""
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_k(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 §2.1.1."""
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 6962 §2.1.2."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), RFC 6962 §2.1.2."""
    return ref_subproof(m, d, True)


def ref_root_from_path(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """Rebuild the root by undoing PATH's recursion: the last proof element is the top sibling."""
    if size == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k = ref_k(size)
    sibling, rest = proof[-1], proof[:-1]
    if index < k:
        left = ref_root_from_path(index, k, leaf, rest)
        return None if left is None else ref_hash(b"\x01" + left + sibling)
    right = ref_root_from_path(index - k, size - k, leaf, rest)
    return None if right is None else ref_hash(b"\x01" + sibling + right)


def ref_verify_inclusion(index, size, leaf, proof, root) -> bool:
    return 0 <= index < size and ref_root_from_path(index, size, leaf, list(proof)) == root


def ref_roots_from_subproof(m, n, b, proof, old_root):
    """Undo SUBPROOF's recursion: the (old, new) subtree hashes it implies, or None."""
    if m == n:
        if b:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = ref_k(n)
    sibling, rest = proof[-1], proof[:-1]
    if m <= k:
        inner = ref_roots_from_subproof(m, k, b, rest, old_root)
        if inner is None:
            return None
        return inner[0], ref_hash(b"\x01" + inner[1] + sibling)
    inner = ref_roots_from_subproof(m - k, n - k, False, rest, old_root)
    if inner is None:
        return None
    return ref_hash(b"\x01" + sibling + inner[0]), ref_hash(b"\x01" + sibling + inner[1])


def ref_verify_consistency(m, n, root_m, root_n, proof) -> bool:
    if not 0 < m < n:
        return False
    roots = ref_roots_from_subproof(m, n, True, list(proof), root_m)
    return roots is not None and roots == (root_m, root_n)


def data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


SIZES = range(1, 41)


@pytest.mark.parametrize("n", SIZES)
def test_root_matches_reference(n) -> None:
    d = data(n)
    leaves = [merkle.leaf_hash(x) for x in d]
    assert merkle.root(leaves) == ref_mth(d)
    assert merkle.CompactRange(leaves).root() == ref_mth(d)


def test_empty_tree() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.CompactRange().root()


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_all_indices(n) -> None:
    d = data(n)
    leaves = [merkle.leaf_hash(x) for x in d]
    root = ref_mth(d)
    for i in range(n):
        proof = merkle.inclusion_proof(leaves, i)
        assert proof == ref_path(i, d)
        assert ref_verify_inclusion(i, n, leaves[i], proof, root)
        assert merkle.verify_inclusion(leaves[i], i, n, proof, root)
        # Wrong leaf, wrong index, tampered, truncated or extended proofs fail. (A wrong size
        # may legitimately pass: trees of sizes 3 and 4 give leaf 0 paths of the same shape.)
        other = leaves[(i + 1) % n] if n > 1 else merkle.leaf_hash(b"x")
        assert not merkle.verify_inclusion(other, i, n, proof, root)
        if n > 1:
            assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, proof, root)
            assert not merkle.verify_inclusion(leaves[i], i, n, proof[:-1], root)
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not merkle.verify_inclusion(leaves[i], i, n, bad, root)
                assert not ref_verify_inclusion(i, n, leaves[i], bad, root)
        assert not merkle.verify_inclusion(leaves[i], i, n, [*proof, root], root)
        assert not merkle.verify_inclusion(leaves[i], n, n, proof, root)


@pytest.mark.parametrize("n", SIZES)
def test_consistency_proofs_all_sizes(n) -> None:
    d = data(n)
    leaves = [merkle.leaf_hash(x) for x in d]
    root_n = ref_mth(d)
    for m in range(1, n + 1):
        root_m = ref_mth(d[:m])
        proof = merkle.consistency_proof(leaves, m)
        assert proof == ref_proof(m, d)
        assert merkle.verify_consistency(m, n, root_m, root_n, proof)
        if m == n:
            assert proof == []
            continue
        assert ref_verify_consistency(m, n, root_m, root_n, proof)
        # Wrong roots, truncated, extended or tampered proofs fail.
        assert not merkle.verify_consistency(m, n, root_n, root_n, proof)
        assert not merkle.verify_consistency(m, n, root_m, root_m, proof)
        assert not merkle.verify_consistency(m, n, root_m, root_n, proof[:-1])
        assert not merkle.verify_consistency(m, n, root_m, root_n, [*proof, root_n])
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
            assert not merkle.verify_consistency(m, n, root_m, root_n, bad)
            assert not ref_verify_consistency(m, n, root_m, root_n, bad)


def test_consistency_edge_cases() -> None:
    leaves = [merkle.leaf_hash(x) for x in data(5)]
    root = merkle.root(leaves)
    assert merkle.consistency_proof(leaves, 0) == []
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(3, 2, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, merkle.EMPTY_ROOT, [])
    with pytest.raises(ValueError):
        merkle.consistency_proof(leaves, 6)
    with pytest.raises(IndexError):
        merkle.inclusion_proof(leaves, 5)


def test_compact_range_gives_every_prefix_root() -> None:
    d = data(70)
    acc = merkle.CompactRange()
    for i, x in enumerate(d):
        acc.append(merkle.leaf_hash(x))
        assert acc.size == i + 1
        assert acc.root() == ref_mth(d[: i + 1])


def test_root_of_100k_leaves_is_fast() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(100_000)]
    started = time.perf_counter()
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(leaves, 54_321)
    cproof = merkle.consistency_proof(leaves, 77_777)
    elapsed = time.perf_counter() - started
    assert merkle.verify_inclusion(leaves[54_321], 54_321, 100_000, proof, root)
    assert merkle.verify_consistency(77_777, 100_000, merkle.root(leaves[:77_777]), root, cproof)
    assert root == merkle.CompactRange(leaves).root()
    assert elapsed < 2.0, f"root + proofs over 100k leaves took {elapsed:.2f}s"
