"""The catalogue's migrations: one initial revision (the chain 0001-0104 squashed before anything
was deployed), one head, and a schema equal to the models on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

# Server defaults the squashed chain gave columns it added to tables that had rows; kept.
CHAIN_DEFAULTS = {
    ("officers", "unit"): "''",
    ("officers", "status"): "'active'",
    ("devices", "model"): "''",
    ("devices", "status"): "'in_service'",
    ("case_approvals", "status"): "'approved'",
    ("case_approvals", "decisions"): "'[]'",
    ("users", "token_version"): "0",
}


def test_one_initial_revision_and_one_head() -> None:
    from alembic.script import ScriptDirectory

    from server.catalogue.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    bases = scripts.get_bases()
    assert bases == ["0001"], bases
    assert scripts.get_revision("0001").doc.startswith("initial")


def test_migrated_schema_equals_the_models(db) -> None:  # type: ignore[no-untyped-def]
    """Every table, column, type, index, unique constraint and foreign key of the models is what
    the migrations make, on both backends (alembic's autogenerate comparison: `alembic check`)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Float

    from server.catalogue.models import Base

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
        sqlite = conn.dialect.name == "sqlite"

    def same_on_sqlite(d):  # type: ignore[no-untyped-def]
        # Older Alembic (the declared minimum) reads SQLite's DOUBLE back as a type it does
        # not equate with Double; both are REAL affinity there, so that is no difference.
        ops = d if isinstance(d, list) else [d]
        return sqlite and all(
            op[0] == "modify_type" and isinstance(op[-2], Float) and isinstance(op[-1], Float)
            for op in ops
        )

    diff = [d for d in diff if not same_on_sqlite(d)]
    assert diff == [], diff
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_chain_defaults_and_no_seeded_rows(db) -> None:  # type: ignore[no-untyped-def]
    insp = inspect(db.engine)
    for (table, column), want in CHAIN_DEFAULTS.items():
        got = {c["name"]: c.get("default") for c in insp.get_columns(table)}[column]
        assert got is not None and got.split("::")[0].strip("'") == want.strip("'"), (
            table,
            column,
            got,
        )
    with db.engine.connect() as conn:
        rows = {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
            for t in insp.get_table_names()
            if t != "alembic_version"
        }
    assert not any(rows.values()), rows


def test_sha256_is_unique_per_agency(db) -> None:  # type: ignore[no-untyped-def]
    """What revision 0103 made of evidence_items: the same bytes may be an item in each agency,
    never twice in one."""
    from server.catalogue.models import EvidenceItem, StoredObject
    from server.people.accounts import add_agency

    sha = "ab" * 32

    def setup(s):  # type: ignore[no-untyped-def]
        s.add(StoredObject(sha256=sha, size=10, role="original"))
        a, b = add_agency(s, "A1", "a"), add_agency(s, "A2", "b")
        s.flush()
        s.add(
            EvidenceItem(id="item1", sha256=sha, size=10, original_filename="a.mp4", agency_id=a.id)
        )
        s.add(
            EvidenceItem(id="item2", sha256=sha, size=10, original_filename="b.mp4", agency_id=b.id)
        )
        return a.id

    a1 = db.call(setup)
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: s.add(
                EvidenceItem(
                    id="item3", sha256=sha, size=10, original_filename="c.mp4", agency_id=a1
                )
            )
        )


def test_downgrade_to_base_and_up_again(db) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from server.catalogue.migrate import alembic_config, upgrade

    with db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(db.engine)
    assert "evidence_items" in inspect(db.engine).get_table_names()
