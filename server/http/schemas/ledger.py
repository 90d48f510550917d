"""The ledger and custody history: query schemas (every parameter a non-negative integer)."""

from __future__ import annotations

from pydantic import Field

from server.http.schemas.base import Query
from server.http.schemas.types import IntParam

# A ledger sequence number in a path (entries start at 1).
SEQ = {"type": "integer", "minimum": 1, "maximum": 2**53 - 1}
Count = IntParam(0)


class LedgerPage(Query):
    from_: Count | None = Field(
        None, alias="from", description="first seq (default 1; a page's `next`)"
    )  # type: ignore[valid-type]
    to: Count | None = Field(None, description="last seq")  # type: ignore[valid-type]
    limit: Count | None = Field(None, description="page size, at most 1000 (0: the default)")  # type: ignore[valid-type]


class ProofAt(Query):
    tree_size: Count | None = Field(  # type: ignore[valid-type]
        None, description="prove against the signed head of this size instead"
    )


class ConsistencyRange(Query):
    first: Count | None = Field(None, description="the older tree size (default 0)")  # type: ignore[valid-type]
    second: Count | None = Field(  # type: ignore[valid-type]
        None, description="the newer tree size (default: the newest signed head)"
    )


class HeadsPage(Query):
    cursor: Count | None = Field(None, description="from the previous page's next")  # type: ignore[valid-type]
    limit: Count | None = Field(None, description="page size, at most 500")  # type: ignore[valid-type]


class HistoryPage(Query):
    after: Count = Field(0, description="entries after this seq (a page's `next`)")  # type: ignore[valid-type]
    limit: Count | None = Field(None, description="page size, at most 1000")  # type: ignore[valid-type]
