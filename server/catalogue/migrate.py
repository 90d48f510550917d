"""Bring the catalogue schema up to date with Alembic (serve and `custodian migrate` call this).

Alembic costs about as much to import and to load the scripts as a short command does in all,
so `upgrade` first compares the catalogue's `alembic_version` with the head revision read from
the scripts' `revision` / `down_revision` lines (no import of Alembic or of the scripts; a test
checks that reading against Alembic's own): when they match there is nothing to do. Any other
state (no table, behind, branched, ahead) goes through Alembic as before."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@lru_cache(maxsize=1)
def script_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts, from their top-level `revision = ...` and
    `down_revision = ...` lines: every revision that no other revision names as its parent."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found.get("down_revision", "None"))
        if isinstance(down, str):
            parents.add(down)
        elif down:
            parents.update(down)
    return frozenset(revisions - parents)


def current_revisions(engine: Engine) -> frozenset[str] | None:
    """What `alembic_version` holds, or None when the catalogue has no such table (new)."""
    try:
        with engine.connect() as conn:
            conn.info["custodian_readonly"] = True  # SQLite: BEGIN, not BEGIN IMMEDIATE
            try:
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
            finally:
                conn.info.pop("custodian_readonly", None)
    except DBAPIError:
        return None
    return frozenset(str(row[0]) for row in rows)


def is_current(engine: Engine) -> bool:
    """True when the catalogue is at the scripts' head (nothing to migrate)."""
    return current_revisions(engine) == script_heads()


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied; on PostgreSQL serialised by an advisory lock so
    several servers starting together do not race."""
    if is_current(engine):
        return
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(726373)")
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
