"""RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs and their checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
# A proof longer than this cannot belong to any tree that fits in 64-bit sizes.
MAX_PROOF_LENGTH = 128


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    # Bottom-up reduction where an unpaired last node is carried up unchanged. This builds
    # exactly the RFC 6962 tree (split at the largest power of two below n): node i on level
    # j covers leaves [i*2^j, min((i+1)*2^j, n)). O(n) hashes in total.
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes (empty tree: SHA-256 of nothing)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _levels(leaf_hashes)[-1][0]


class _Tree:
    """All node hashes of one tree, so subtree hashes used by proofs are lookups."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.size = len(leaf_hashes)
        self.levels = _levels(leaf_hashes)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is a node of this tree."""
        width = end - start
        level = (width - 1).bit_length()  # smallest j with 2^j >= width
        span = 1 << level
        if start % span == 0 and (width == span or end == self.size):
            return self.levels[level][start >> level]
        # Not a node of this tree (never happens for RFC proofs); compute it directly.
        return root(self.levels[0][start:end])


def _largest_power_of_two_below(n: int) -> int:
    # k < n <= 2k, as RFC 6962 §2.1 splits a tree of n > 1 leaves.
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree of all leaf_hashes (RFC 6962 PATH)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise IndexError(f"leaf index {index} outside tree of size {n}")
    proof: list[bytes] = []
    # Walk the levels bottom-up: the sibling at each level, if the node has one (a carried
    # last node has none and contributes nothing, as in the recursive definition).
    for level in _levels(leaf_hashes)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index >>= 1
    return proof


def consistency_proof(leaf_hashes: Sequence[bytes], m: int) -> list[bytes]:
    """The proof that the first m leaves' tree is a prefix of the whole tree (RFC 6962 PROOF)."""
    n = len(leaf_hashes)
    if not 0 <= m <= n:
        raise ValueError(f"consistency proof for size {m} in tree of size {n}")
    if m == 0 or m == n:
        return []
    tree = _Tree(leaf_hashes)
    # Iterative SUBPROOF(m, D[start:end], complete) from RFC 6962 §2.1.2. The recursive form
    # emits the deepest hash first, then each level's sibling on the way back up; so collect
    # siblings top-down and reverse them.
    siblings: list[bytes] = []
    start, end, complete = 0, n, True
    while end - start != m:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            siblings.append(tree.subtree(start + k, end))
            end = start + k
        else:
            siblings.append(tree.subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    # When the old tree is a whole subtree of the new one from the left edge, the verifier
    # already knows its hash (it is the old root), so it is left out.
    deepest = [] if complete else [tree.subtree(start, end)]
    return deepest + siblings[::-1]


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Check an inclusion proof (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < tree_size or len(proof) > MAX_PROOF_LENGTH:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof between tree sizes m <= n (RFC 9162 §2.1.4.2)."""
    if not 0 <= m <= n or len(proof) > MAX_PROOF_LENGTH:
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        # Every tree extends the empty tree; nothing to prove.
        return not proof and root_m == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # first is an exact power of two
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


class CompactRange:
    """An append-only Merkle accumulator: O(log n) state, the root at any size in O(log n)."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.size = 0
        # Roots of the perfect subtrees that make up the tree, largest (leftmost) first;
        # their sizes are the set bits of self.size.
        self._peaks: list[bytes] = []
        for leaf in leaf_hashes:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        node = leaf
        size = self.size
        # Merge equal-sized peaks, like carrying in binary addition.
        while size & 1:
            node = node_hash(self._peaks.pop(), node)
            size >>= 1
        self._peaks.append(node)
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        # MTH(D[n]) = node(first peak, MTH(rest)): fold from the right.
        node = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            node = node_hash(peak, node)
        return node
