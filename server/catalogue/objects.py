"""Catalogue rows of stored objects, inserted if absent.

Two processes may record the same content-addressed object at the same moment (identical
derived files of two items, the same original docked twice); the second insert must not fail
the whole transaction with a unique violation. INSERT ... ON CONFLICT DO NOTHING does that on
PostgreSQL and SQLite alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.catalogue.models import StoredObject


def ensure_stored_object(s: Session, **values: Any) -> bool:
    """Insert the stored_objects row unless one with that sha256 exists; True if inserted."""
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(StoredObject)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(StoredObject.sha256)
    )  # rowcount is not reliable for DO NOTHING
    return s.execute(stmt).first() is not None
