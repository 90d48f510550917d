"""A live server with one admin (plus a seeded agency) for running schemathesis against its
OpenAPI document; `python tests/http/live_api.py ARGS...` runs `schemathesis run ARGS` by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from player.livesite import LiveServer, live_settings  # noqa: E402

from helpers import PASSWORD  # noqa: E402

# positive_data_acceptance is replaced by st_hooks.refusals_only_for_domain_reasons: a 400 for
# a schema-valid request is accepted only with an error code listed there with its reason.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,refusals_only_for_domain_reasons"
)


def start(data: Path, **overrides: Any) -> tuple[LiveServer, str]:
    """A started server with agencies A1, A2 and an admin; returns (server, admin token)."""
    overrides.setdefault("worker_in_server", False)
    server = LiveServer(live_settings(data, **overrides)).start()
    from server.people.accounts import add_agency, add_user

    def setup(s: Any) -> None:
        add_agency(s, "A1", "Agency one")
        add_agency(s, "A2", "Agency two")
        add_user(s, "admin", PASSWORD, "admin", None)
        add_user(s, "officer", PASSWORD, "officer", "A1")

    server.db.call(setup)
    return server, server.login("admin")


def schemathesis(url: str, token: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    argv = [str(exe), "run", f"{url}/api/v1/openapi.json", "--url", url,
            "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--no-color",
            "--generation-database", "none", "--workers", "1", *args]
    here = Path(__file__).resolve().parent
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks",
           "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as cwd:  # its cache stays out of the work tree
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=cwd)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        srv, tok = start(Path(tmp) / "data")
        try:
            r = schemathesis(srv.url, tok, *sys.argv[1:], timeout=3600)
            print(r.stdout[-60000:], r.stderr[-5000:], sep="\n")
        finally:
            srv.stop()
