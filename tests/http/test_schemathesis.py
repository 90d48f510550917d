"""schemathesis against the running app's own OpenAPI document, as an admin: no 5xx, every
status documented, every response conforming to its schema, and a schema-valid request
refused only for a domain reason no schema can state (tests/http/st_hooks.py names each).
A seeded case and item are named in paths part of the time, so requests get past the 404."""

from __future__ import annotations

import pytest
from http_live import config, schemathesis, seed, start

pytestmark = pytest.mark.slow

# Per operation; with the fuzzing phase only this stays well under 3 minutes on 2 cores.
EXAMPLES = 10
# GET /api/v1/evidence: its query (ItemFilters) is typed by the evidence-list rework, not yet
# described as schemas; its refusals of random filter text are its own tests' business.
EXCLUDED = ("get_list_evidence",)


def test_schemathesis_finds_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, token = start(tmp_path / "data")
    try:
        cfg = config(seed(server, token, tmp_path), tmp_path / "schemathesis.toml")
        args = [
            "-n",
            str(EXAMPLES),
            "--phases",
            "examples,fuzzing",
            "--seed",
            "17",
            "--max-failures",
            "30",
        ]
        for op in EXCLUDED:
            args += ["--exclude-operation-id", op]
        result = schemathesis(server.url, token, *args, timeout=600, config_file=cfg)
    finally:
        server.stop()
    tail = result.stdout[-12000:]
    assert "Tested: " in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, tail
