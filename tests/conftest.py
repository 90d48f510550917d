"""Shared fixtures: settings, catalogue on SQLite and PostgreSQL, a moto S3 server, app clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from helpers import free_port, role_users
from server.settings import Settings, load_settings

PG_URL = os.environ.get(
    "CUSTODIAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Prefix of the throwaway databases tests create on that server (one per test, dropped after).
PG_DB_PREFIX = os.environ.get("CUSTODIAN_TEST_DB_PREFIX", "custodian_t_")

# Markers follow from what a test uses, so `-m "not postgres and not s3 and not browser"` really
# leaves out every test that needs that service: a fixture in the test's closure, or a
# parameter value naming the backend (the `database_url` and store matrices).
SERVICE_FIXTURES = {
    "postgres": {"pg_admin_engine", "pg_url"},
    "s3": {"moto_endpoint", "s3_settings"},
    "browser": {"browser", "page", "rpage"},
}
SERVICE_PARAMS = {"postgres": "postgres", "s3": "s3"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        values = {v for v in params.values() if isinstance(v, str)}
        for marker, fixtures in SERVICE_FIXTURES.items():
            if names & fixtures or SERVICE_PARAMS.get(marker) in values:
                item.add_marker(marker)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: data in tmp_path, SQLite unless database_url is given."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", str(tmp_path / "data"))
        overrides.setdefault("jwt_secret", "test-secret-" + "x" * 32)
        overrides.setdefault("store_min_free_bytes", 0)
        return load_settings(None, env={}, overrides=overrides)

    return make


@pytest.fixture(scope="session")
def pg_admin_engine():  # type: ignore[no-untyped-def]
    """A connection to the machine's PostgreSQL; a test that needs it fails if it is down."""
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            c.execute(text("select 1"))
    except Exception as exc:  # pragma: no cover - reported, never skipped
        pytest.fail(
            f"PostgreSQL at {PG_URL} is not reachable ({exc}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin_engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty database on the real PostgreSQL, dropped afterwards."""
    name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:12]}"
    with pg_admin_engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with pg_admin_engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a catalogue test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(make_settings, database_url):  # type: ignore[no-untyped-def]
    """A migrated catalogue (both backends)."""
    from server.catalogue.db import Database
    from server.catalogue.migrate import upgrade

    database = Database(make_settings(database_url=database_url))
    upgrade(database.engine)
    yield database
    database.close()


# -- S3 -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 endpoint over HTTP: moto in server mode on a loopback port."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(make_settings, moto_endpoint) -> Callable[..., Settings]:  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> Settings:
        overrides.setdefault("store_backend", "s3")
        overrides.setdefault("s3_endpoint_url", moto_endpoint)
        overrides.setdefault("s3_bucket", f"t-{uuid.uuid4().hex[:12]}")
        overrides.setdefault("s3_access_key", "testing")
        overrides.setdefault("s3_secret_key", "testing")
        overrides.setdefault("s3_create_bucket", True)
        return make_settings(**overrides)

    return make


# -- app ------------------------------------------------------------------------------------
@pytest.fixture
def make_client(aiohttp_client, make_settings):  # type: ignore[no-untyped-def]
    """Start a real app (real catalogue, real store) and return a test client for it."""
    from server.http.app import create_app

    async def make(settings: Settings | None = None, **overrides: Any):  # type: ignore[no-untyped-def]
        return await aiohttp_client(create_app(settings or make_settings(**overrides)))

    return make


@pytest.fixture
async def client(make_client):  # type: ignore[no-untyped-def]
    return await make_client()


@pytest.fixture
async def users(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One user per role (agency A1 where the role belongs to one), plus an officer of A2.
    Returns role -> bearer token."""
    return await role_users(client)
