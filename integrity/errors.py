"""Problems found by verification, and the one error that carries all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Problem kinds are slugs so that tools (the CLI, metrics, a court's verifier) can group
# them without parsing the human message.
CHECKSUM_MISMATCH = "checksum_mismatch"
MISSING = "missing"
UNEXPECTED = "unexpected"
CHAIN_BROKEN = "chain_broken"
ENTRY_MISSING = "entry_missing"
ORDER_SWAPPED = "order_swapped"
DETAILS_MISMATCH = "details_mismatch"
TREE_HEAD_MISMATCH = "tree_head_mismatch"
SIGNATURE_INVALID = "signature_invalid"
TOKEN_INVALID = "token_invalid"
MANIFEST_INVALID = "manifest_invalid"


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: what kind, where, and a precise human message."""

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, init=False)
class ChecksumMismatch(Problem):
    """A file whose bytes no longer hash to the recorded digest."""

    path: str
    algorithm: str
    expected: str
    found: str

    def __init__(self, path: str, algorithm: str, expected: str, found: str) -> None:
        # Frozen dataclass: assign through object.__setattr__, once, at construction.
        for name, value in (
            ("kind", CHECKSUM_MISMATCH),
            ("where", path),
            ("message", f"{path}: {algorithm} is {found}, expected {expected} (bytes changed)"),
            ("path", path),
            ("algorithm", algorithm),
            ("expected", expected),
            ("found", found),
        ):
            object.__setattr__(self, name, value)


class VerificationError(Exception):
    """Raised with every problem found, never just the first one."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.diagnosis())

    def diagnosis(self) -> str:
        """A human-readable report listing every problem, one per line."""
        if not self.problems:
            return "verification failed (no problem recorded)"
        count = len(self.problems)
        lines = [f"verification failed: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  {i}. [{p.kind}] {p.message}" for i, p in enumerate(self.problems, 1)]
        return "\n".join(lines)
