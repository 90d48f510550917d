"""The `custodian` command line, run as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=ROOT,
        env={**base, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize("args", [[], ["serve"], ["migrate"], ["user", "add"], ["agency", "add"]])
def test_help_works_for_each_command(args: list[str]) -> None:
    r = run(*args, "--help")
    assert r.returncode == 0 and "usage: custodian" in r.stdout


def test_user_add_and_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert run("migrate", "--data", data).returncode == 0
    r = run(
        "user",
        "add",
        "wang",
        "--role",
        "officer",
        "--agency",
        "LS",
        "--password-stdin",
        "--data",
        data,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "custodian agency add LS" in r.stderr
    assert (
        run("agency", "add", "LS", "--name", "丽水市综合行政执法局", "--data", data).returncode == 0
    )
    r = run(
        "user",
        "add",
        "wang",
        "--role",
        "officer",
        "--agency",
        "LS",
        "--password-stdin",
        "--data",
        data,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert "wang" in r.stdout
    r = run(
        "user",
        "add",
        "wang",
        "--role",
        "officer",
        "--agency",
        "LS",
        "--password-stdin",
        "--data",
        data,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 2 and "already exists" in r.stderr
    r = run(
        "user",
        "add",
        "li",
        "--role",
        "officer",
        "--agency",
        "LS",
        "--password-stdin",
        "--data",
        data,
        stdin="short\n",
    )
    assert r.returncode == 2 and "at least" in r.stderr
    r = run(
        "user", "add", "li", "--role", "emperor", "--password-stdin", "--data", data, stdin="x\n"
    )
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("no_such_setting = 1\n")
    r = run("migrate", "--config", str(cfg), "--data", str(tmp_path))
    assert r.returncode == 2 and "unknown setting 'no_such_setting'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def _login(base: str, password: str) -> int:
    req = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        method="POST",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_prints_first_admin_password_once_and_login_works(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={**env, "COLUMNS": "300"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"{base}/healthz", proc)
        time.sleep(0.3)
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    finally:
        proc.kill()
    m = re.search(r"password (\S+) \(shown once", out)
    assert m, out
    password = m.group(1)
    # Second start: no new password is printed, the first one still logs in.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={**env, "COLUMNS": "300"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"{base}/healthz", proc)
        assert _login(base, password) == 200
        assert _login(base, "wrong password") == 401
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    finally:
        proc.kill()
    assert "shown once" not in out


def test_admin_password_from_environment(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        text=True,
        env={**env, "CUSTODIAN_ADMIN_PASSWORD": "from the environment"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"{base}/healthz", proc)
        assert _login(base, "from the environment") == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
