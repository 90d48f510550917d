"""The catalogue on both SQLite and the machine's real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from integrity.ledger import INGEST, VIEW, check_chain
from server.catalogue.models import Agency, Device, EvidenceItem, Officer, StoredObject, User
from server.custody.ledger import append, iter_rows, row_entry
from server.errors import BadRequest, Conflict, NotFound, TooManyRequests
from server.people.accounts import add_agency, add_user, count_users
from server.people.logins import LoginLimits, delay_for, fail, prepare

H = "a" * 64


def test_migrations_create_every_table(db) -> None:  # type: ignore[no-untyped-def]
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "agencies",
        "users",
        "officers",
        "devices",
        "evidence_items",
        "stored_objects",
        "ledger",
        "tree_heads",
        "alembic_version",
    } <= tables


def test_sqlite_pragmas(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.catalogue.db import Database

    database = Database(make_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    with database.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    database.close()


def test_users_agencies_and_uniqueness(db) -> None:  # type: ignore[no-untyped-def]
    db.call(add_agency, "LS", "丽水市综合行政执法局")
    u = db.call(add_user, "wang", "a long password", "officer", "LS")
    assert u.id and u.role == "officer"
    assert db.call(count_users) == 1
    with pytest.raises(Conflict):
        db.call(add_user, "wang", "a long password", "officer", "LS")
    with pytest.raises(NotFound, match="agency add"):
        db.call(add_user, "li", "a long password", "officer", "NOPE")
    with pytest.raises(BadRequest, match="role"):
        db.call(add_user, "li", "a long password", "chief", "LS")
    with pytest.raises(BadRequest, match="agency"):
        db.call(add_user, "li", "a long password", "reviewer", None)
    with pytest.raises(BadRequest, match="characters"):
        db.call(add_user, "li", "short", "reviewer", "LS")
    stored = db.call(lambda s: s.scalar(select(User.password_hash).where(User.username == "wang")))
    assert stored.startswith("scrypt$") and "a long password" not in stored


def test_evidence_items_with_devices_and_officers(db) -> None:  # type: ignore[no-untyped-def]
    recorded = datetime(2026, 3, 1, 1, 2, 3, tzinfo=UTC)

    def setup(s):  # type: ignore[no-untyped-def]
        agency = add_agency(s, "LS", "LS")
        officer = Officer(
            agency_id=agency.id, code="0421", name="王五", certificate_no="ZJ-33-0421"
        )
        s.add(officer)
        s.flush()
        s.add(
            Device(agency_id=agency.id, serial="DSJ-001", kind="body_camera", officer_id=officer.id)
        )
        s.add(StoredObject(sha256=H, size=10, role="original"))
        s.flush()
        s.add(
            EvidenceItem(
                sha256=H,
                size=10,
                kind="video",
                original_filename="DSJ-001_0421_20260301090203.mp4",
                agency_id=agency.id,
                device_id="DSJ-001",
                officer_id="0421",
                recorded_at=recorded,
            )
        )

    db.call(setup)
    item = db.call(lambda s: s.scalar(select(EvidenceItem)))
    assert item.recorded_at == recorded and item.recorded_at.tzinfo is not None
    assert item.status == "received" and len(item.id) == 32
    # The same bytes cannot become two items of one agency (migration 0103: unique per agency);
    # another agency delivering them gets its own item over the same stored object.
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: (
                s.add(
                    EvidenceItem(sha256=H, size=10, original_filename="x", agency_id=item.agency_id)
                )
                or s.flush()
            )
        )
    other = db.call(lambda s: add_agency(s, "QT", "QT").id)
    db.call(
        lambda s: (
            s.add(EvidenceItem(sha256=H, size=10, original_filename="x", agency_id=other))
            or s.flush()
        )
    )
    assert (
        db.call(
            lambda s: len(list(s.scalars(select(EvidenceItem).where(EvidenceItem.sha256 == H))))
        )
        == 2
    )
    # An item must point at a stored object (foreign keys on, on SQLite too).
    with pytest.raises(IntegrityError):
        db.call(
            lambda s: (
                s.add(EvidenceItem(sha256="b" * 64, size=1, original_filename="y")) or s.flush()
            )
        )


def test_naive_datetimes_are_refused(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="naive"):
        db.call(
            lambda s: (
                s.add(Agency(code="X", name="x", created_at=datetime(2026, 1, 1))) or s.flush()
            )
        )


def test_login_limits_per_pair_address_and_user(db) -> None:  # type: ignore[no-untyped-def]
    """Only the (user, address) pair that failed is refused; an address or a user over the
    limit is delayed (growing), never locked out for everyone (issue 12, hole 7)."""
    db.call(add_agency, "LS", "LS")
    uid = db.call(add_user, "zhao", "the right password", "reviewer", "LS").id
    limits = LoginLimits(3, timedelta(minutes=5), delay=0.5, max_delay=4.0)
    for _ in range(3):
        db.call(fail, "zhao", "10.0.0.1", uid, "wrong_password", limits)
    with pytest.raises(TooManyRequests):
        db.call(prepare, "zhao", "10.0.0.1", limits)  # this pair is refused
    other = db.call(prepare, "zhao", "10.0.0.2", limits)  # a clean address is not
    assert other.user_id == uid and other.pair_failures == 0 and other.user_failures == 3
    assert delay_for(other, limits) == 0.5  # but waits: the user is over the limit
    # Another user behind the failing address: delayed, not refused.
    db.call(add_user, "qian", "another good password", "reviewer", "LS")
    behind = db.call(prepare, "qian", "10.0.0.1", limits)
    assert behind.address_failures == 3 and delay_for(behind, limits) == 0.5
    for _ in range(5):
        db.call(fail, "nobody", "10.0.0.1", None, "unknown_user", limits)
    assert delay_for(db.call(prepare, "qian", "10.0.0.1", limits), limits) == 4.0  # capped
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert db.call(prepare, "zhao", "10.0.0.1", limits, later).pair_failures == 0


def test_ledger_appends_form_one_chain(db) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        db.call(
            append,
            actor="system",
            action=INGEST if i % 2 == 0 else VIEW,
            subject=f"evidence:{i}",
            details={"i": i, "名": "证据"},
        )
    entries = [row_entry(r) for r in db.call(lambda s: list(iter_rows(s, batch=2)))]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert check_chain(entries) == []


def test_concurrent_appends_from_threads_never_fork(db) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                db.call(append, actor=f"t{n}", action=VIEW, subject=f"evidence:{n}-{i}", details={})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = [row_entry(r) for r in db.call(lambda s: list(iter_rows(s)))]
    assert len(entries) == 40 and check_chain(entries) == []
