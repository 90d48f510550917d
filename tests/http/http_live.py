"""A live server with one admin (plus a seeded agency) for running schemathesis against its
OpenAPI document; `python tests/http/live_api.py ARGS...` runs `schemathesis run ARGS` by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from player.livesite import LiveServer, live_settings  # noqa: E402

from helpers import PASSWORD, add_evidence  # noqa: E402

# positive_data_acceptance is replaced by st_hooks.refusals_only_for_domain_reasons: a 400 for
# a schema-valid request is accepted only with an error code listed there with its reason.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,refusals_only_for_domain_reasons"
)


def start(data: Path, **overrides: Any) -> tuple[LiveServer, str]:
    """A started server with agencies A1, A2, an admin and an officer, a case of A1 with one
    linked item (see `seed`); returns (server, admin token)."""
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


def seed(server: LiveServer, token: str, data: Path) -> dict[str, list[str]]:
    """A case of A1 with a linked item: ids the run names in paths (most requests still get
    random ids, and their 404s)."""
    clip = data / "seed.bin"
    clip.write_bytes(b"seed evidence " * 100)
    item = add_evidence(server.db, server.store, clip)
    status, case = server.request(
        "POST",
        "/api/v1/cases",
        token,
        {
            "number": "C-1",
            "title": "seed",
            "enforcement_type": "penalty",
            "procedure": "general",
            "agency": "A1",
        },
    )
    assert status == 201, case
    status, link = server.request(
        "POST",
        f"/api/v1/cases/{case['id']}/links",
        token,
        {"evidence_id": item, "stage": "investigation"},
    )
    assert status == 201, link
    return {"agencies": ["A1", "A2"], "cases": [case["id"], "C-1"], "items": [item]}


def config(ids: dict[str, list[str]], path: Path) -> Path:
    """A schemathesis config naming the seeded agencies, cases and items."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += ["[parameters]", '"body.agency" = { dictionary = "agencies", probability = 0.8 }', ""]
    for regex, name in (
        (r"^/api/v1/cases/\\{id\\}", "cases"),
        (r"^/api/v1/evidence/\\{id\\}", "items"),
    ):
        lines += [
            "[[operations]]",
            f'include-path-regex = "{regex}"',
            f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = 0.7 }} }}',
            "",
        ]
    path.write_text("\n".join(lines))
    return path


def schemathesis(
    url: str, token: str, *args: str, timeout: float = 600, config_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    argv = [str(exe)]
    if config_file is not None:
        argv += ["--config-file", str(config_file)]
    argv += [
        "run",
        f"{url}/api/v1/openapi.json",
        "--url",
        url,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--no-color",
        "--generation-database",
        "none",
        "--workers",
        "1",
        *args,
    ]
    here = Path(__file__).resolve().parent
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "st_hooks",
        "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory() as cwd:  # its cache stays out of the work tree
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        srv, tok = start(Path(tmp) / "data")
        try:
            cfg = config(seed(srv, tok, Path(tmp)), Path(tmp) / "schemathesis.toml")
            r = schemathesis(srv.url, tok, *sys.argv[1:], timeout=3600, config_file=cfg)
            print(r.stdout[-60000:], r.stderr[-5000:], sep="\n")
        finally:
            srv.stop()
