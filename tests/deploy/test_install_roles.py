"""A docking station installs only the agent (`pip install 'custodian[agent]'`): the agent's import
path, its command line and a real docking run must work with nothing but the agent's locked
dependencies. Nothing is installed: a subprocess hides every other third-party package (the five
heavy ones by name, and everything not in requirements/agent.lock) before importing the agent."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from helpers import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("av", "numpy", "boto3", "botocore", "reportlab", "psycopg")

# Runs first in the subprocess: hide every distribution the agent does not declare. A module in
# sys.modules as None is "not installed" for `import` and for importlib.util.find_spec alike.
BLOCK = f"""
import importlib.metadata, re, sys
from pathlib import Path

allowed = {{"custodian"}}
for line in Path({str(ROOT / "requirements" / "agent.lock")!r}).read_text().splitlines():
    m = re.match(r"^([A-Za-z0-9_.-]+)==", line)
    if m:
        allowed.add(m.group(1).lower().replace("_", "-"))
for top, dists in importlib.metadata.packages_distributions().items():
    if not {{d.lower().replace("_", "-") for d in dists}} & allowed and top not in sys.modules:
        sys.modules[top] = None
for name in {HEAVY!r}:
    assert name in allowed or sys.modules.get(name, None) is None
    sys.modules[name] = None
"""


def _run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def test_the_block_really_hides_server_packages() -> None:
    """The hook itself: what the server needs is gone, what the agent needs is there."""
    r = _run("""
import importlib.util
for name in ("av", "numpy", "boto3", "reportlab", "psycopg", "sqlalchemy", "PIL"):
    try:
        __import__(name)
    except ImportError:
        assert importlib.util.find_spec(name) is None, name
    else:
        raise SystemExit(f"{name} imported")
import aiohttp, watchdog, rich  # the agent's own
print("ok")
""")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_agent_imports_and_help_without_server_packages() -> None:
    r = _run("""
import ingest.agent, ingest.cli, ingest.dock, ingest.journal, ingest.naming
heavy = sorted(m for m in sys.modules if m.partition(".")[0] in ("server", "transcode"))
assert not heavy, heavy
from ingest.cli import main
sys.exit(main(["--help"]))
""")
    assert r.returncode == 0, r.stderr
    assert "--dock" in r.stdout and "--credentials" in r.stdout
    # `custodian ingest --help` (the full CLI's entry point) also works on an agent-only install.
    r = _run("from server.cli import main; sys.exit(main(['ingest', '--help']))")
    assert r.returncode == 0, r.stderr
    assert "--dock" in r.stdout


async def test_agent_only_install_docks_a_file(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole path runs under the block: watch, hash, tus upload, confirmation, clearing."""
    from server.catalogue.models import EvidenceItem
    from server.http import appkeys as keys
    from server.http.app import create_app
    from server.people.accounts import add_agency, add_user

    port = free_port()
    runner = web.AppRunner(create_app(make_settings()), handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        db = runner.app[keys.DB]

        def setup(s):  # type: ignore[no-untyped-def]
            add_agency(s, "A1", "Agency one")
            add_user(s, "station", PASSWORD, "station", "A1")

        db.call(setup)
        dock = tmp_path / "dock"
        dock.mkdir()
        data = os.urandom(300_000)
        (dock / "DSJ001_010001_20260301120000.mp4").write_bytes(data)
        creds = tmp_path / "station.toml"
        creds.write_text(f'username = "station"\npassword = "{PASSWORD}"\n')
        creds.chmod(0o600)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            BLOCK + "from ingest.cli import main; sys.exit(main(sys.argv[1:]))",
            "--server",
            f"http://127.0.0.1:{port}",
            "--dock",
            str(dock),
            "--credentials",
            str(creds),
            "--state",
            str(tmp_path / "state"),
            "--once",
            "--service",
            "--quiet-seconds",
            "0",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, out.decode()
        items = db.call(lambda s: [(i.sha256, i.size) for i in s.query(EvidenceItem)])
        assert items == [(hashlib.sha256(data).hexdigest(), len(data))]
        assert not (dock / "DSJ001_010001_20260301120000.mp4").exists()  # cleared after commit
    finally:
        await runner.cleanup()


# `make run` installs `.[server]` only: the embedded default (SQLite, local store) must start
# without the scale-out extras (boto3, psycopg) and without anything of the test extras.
SERVER_ONLY = """
import sys
for name in ("boto3", "botocore", "psycopg", "psycopg_binary", "moto", "pytest", "playwright",
             "hypothesis", "tusclient", "bagit", "yaml", "time_machine"):
    sys.modules[name] = None
"""


def test_embedded_server_starts_without_scale_out_or_test_packages(tmp_path: Path) -> None:
    code = (
        SERVER_ONLY
        + f"""
import asyncio
from aiohttp import web
from server.cli import main
assert main(["migrate", "--data", {str(tmp_path / "var")!r}]) == 0

async def start_and_stop():
    from server.http.app import create_app
    from server.settings import load_settings

    settings = load_settings(None, env={{}}, overrides={{"data_dir": {str(tmp_path / "var")!r},
                                                        "store_min_free_bytes": 0}})
    runner = web.AppRunner(create_app(settings))
    await runner.setup()  # every cleanup context: catalogue, store, keys, workers, sweeps
    await runner.cleanup()

asyncio.run(start_and_stop())
print("served")
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=ROOT, env=env
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("served"), r.stdout + r.stderr
