"""Short `custodian` commands import only what they use (issue 17.10), and the catalogue's
up-to-date check that lets them skip Alembic is exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from server.catalogue.migrate import alembic_config, current_revisions, script_heads, upgrade

ROOT = Path(__file__).resolve().parents[2]
# Never needed by a short command: the web server, Alembic, media, S3, reports.
HEAVY = (
    "aiohttp",
    "alembic",
    "av",
    "numpy",
    "boto3",
    "botocore",
    "reportlab",
    "openpyxl",
    "PIL",
    "rich.progress",
    "prometheus_client",
    "server.http.app",
)


def test_script_heads_are_alembics_heads() -> None:
    from alembic.script import ScriptDirectory

    assert script_heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _loaded_after(code: str, data: str | None = None) -> list[str]:
    """Run `code` in a fresh interpreter; the HEAVY modules it ended up importing."""
    probe = (
        f"import sys\n{code}\n"
        f"import json; print(json.dumps(sorted(m for m in sys.modules "
        f"if any(m == h or m.startswith(h + '.') for h in {HEAVY!r}))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    env["CUSTODIAN_JWT_SECRET"] = "s" * 48
    r = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_upgrade_skips_alembic_only_when_current(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert current_revisions(engine) is None  # a new catalogue: no alembic_version
        upgrade(engine)
        assert current_revisions(engine) == script_heads()
        # Up to date: upgrade() returns without importing Alembic at all.
        code = (
            f"from sqlalchemy import create_engine\n"
            f"from server.catalogue.migrate import upgrade\n"
            f"upgrade(create_engine({database_url!r}))"
        )
        assert _loaded_after(code) == []
        # One revision behind: Alembic runs and brings it to the head.
        from alembic import command

        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "-1")
        behind = current_revisions(engine)
        assert behind and behind != script_heads()
        upgrade(engine)
        assert current_revisions(engine) == script_heads()
    finally:
        engine.dispose()


def test_short_commands_import_only_what_they_use(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    main = "from server.cli import main\n"
    assert "alembic" in _loaded_after(main + f"main(['migrate', '--data', {data!r}])")  # new
    for argv in (
        ["agency", "add", "LS", "--data", data],
        ["officer", "list", "--data", data],
        ["keys", "--data", data],
        ["migrate", "--data", data],
    ):
        assert _loaded_after(main + f"main({argv!r})") == [], argv
    help_code = main + "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    assert _loaded_after(help_code) == []
    # --help does not even load SQLAlchemy.
    probe = help_code + "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'\n"
    _loaded_after(probe)
