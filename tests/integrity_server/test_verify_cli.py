"""`custodian verify` as a real subprocess: exit codes, every problem printed, the run recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from server.catalogue.models import LedgerRow

ROOT = Path(__file__).resolve().parents[2]


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "verify", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_cli_exit_codes_and_problems(make_installation, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inst = make_installation()
    cfg = tmp_path / "custodian.toml"
    cfg.write_text(f"database_url = {json.dumps(db.settings.resolved_database_url)}\n")
    args = ("--data", str(db.settings.data_path), "--config", str(cfg))

    # 1. Everything holds: exit 0, and the run is in the ledger.
    result = verify(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "verification passed: 3 objects (225000 bytes re-hashed), 3 manifest versions of 2 "
        "items, 8 ledger entries, 2 signed tree heads" in result.stdout
    )
    last = db.call(lambda s: s.scalar(select(LedgerRow).order_by(LedgerRow.seq.desc()).limit(1)))
    assert (last.seq, last.action, last.actor) == (9, "verification", "cli:custodian verify")
    assert json.loads(last.details)["ok"] is True

    # 2. Four kinds of damage at once: exit 1 and every one printed with what and where.
    flipped, deleted = inst.originals
    path = inst.store.path_for(flipped)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    inst.store.path_for(deleted).unlink()
    planted = inst.put(b"planted later", tmp_path)
    inst.sql("UPDATE ledger SET details = '{}' WHERE seq = 4")
    result = verify(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "verification FAILED: 4 problems" in out
    assert f"[checksum_mismatch] object {flipped} at {path}: sha256 is " in out
    assert f"expected {flipped} (bytes changed)" in out
    assert (
        f"[missing] object {deleted} (original, 70000 bytes) is in the catalogue but missing" in out
    )
    assert f"[unexpected] object {planted} at {inst.store.path_for(planted)} is in the store" in out
    assert "[details_mismatch] ledger entry 4: details hash to " in out
    last = db.call(lambda s: s.scalar(select(LedgerRow).order_by(LedgerRow.seq.desc()).limit(1)))
    recorded = json.loads(last.details)
    assert last.seq == 10 and recorded["ok"] is False and recorded["problem_count"] == 4

    # 3. Bad input: one clear line, exit 2.
    result = verify("--data", str(db.settings.data_path), "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"custodian verify: error: config file {tmp_path / 'nope.toml'} does not exist"
    ]
    result = verify(*args, "--jobs", "0")
    assert result.returncode == 2 and "--jobs must be 1 or more" in result.stderr


def test_verify_cli_parallel_and_no_record(make_installation, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_installation()
    cfg = tmp_path / "custodian.toml"
    cfg.write_text(f"database_url = {json.dumps(db.settings.resolved_database_url)}\n")
    result = verify(
        "--data", str(db.settings.data_path), "--config", str(cfg), "--jobs", "3", "--no-record"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        db.call(lambda s: s.scalar(select(LedgerRow.seq).order_by(LedgerRow.seq.desc()).limit(1)))
        == 8
    )
