"""The deployment artefacts in deploy/ are read by the real code: the example TOML and the compose
file's custodian settings through the settings loader, each unit's and container's command line
through the real argument parsers, and the systemd units by `systemd-analyze verify`."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SECRETS = {  # what /etc/custodian/secrets.env holds on a real host
    "CUSTODIAN_DATABASE_URL": "postgresql+psycopg://custodian:pw@db.internal:5432/custodian",
    "CUSTODIAN_JWT_SECRET": "s" * 48,
    "CUSTODIAN_S3_SECRET_KEY": "secret",
}
HARDENING = {
    "ProtectSystem": "strict",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectHome": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


def _scale_out_checks(s: Settings) -> None:
    assert s.store_backend == "s3" and s.s3_bucket and not s.s3_create_bucket
    assert s.resolved_database_url.startswith("postgresql+psycopg://")
    assert s.worker_in_server is False
    assert s.jwt_secret == SECRETS["CUSTODIAN_JWT_SECRET"]
    assert s.s3_secret_key == SECRETS["CUSTODIAN_S3_SECRET_KEY"]
    assert s.signing_key_path and s.export_dir, "one signing key and one export folder for all"
    assert s.trusted_proxies


def test_example_toml_loads_for_postgres_and_s3() -> None:
    s = load_settings(DEPLOY / "custodian.example.toml", env=SECRETS)
    _scale_out_checks(s)
    assert s.host == "127.0.0.1", "servers listen on loopback behind the proxy"
    # Without the secrets file the same TOML still loads (jwt.secret is then per data folder).
    assert load_settings(DEPLOY / "custodian.example.toml", env={}).s3_secret_key == ""


def test_example_toml_typo_is_refused(tmp_path: Path) -> None:
    """The loader the test relies on does refuse a wrong key, so the test above can fail."""
    from server.errors import SettingsError

    bad = tmp_path / "bad.toml"
    bad.write_text((DEPLOY / "custodian.example.toml").read_text() + '\ns3_bucktet = "x"\n')
    with pytest.raises(SettingsError, match="s3_bucktet"):
        load_settings(bad, env=SECRETS)


# -- compose ------------------------------------------------------------------------------------
def _compose() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _env_example() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / "compose" / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def _interpolate(value: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in env, f"compose needs {name}, which compose/env.example does not set"
        return env[name]

    return re.sub(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}", one, value)


def test_compose_custodian_services_load_through_settings() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "minio", "minio-init", "server-1", "server-2", "worker", "nginx"} <= set(
        services
    )
    env_file = _env_example()
    custodian = {n: s for n, s in services.items() if s.get("image") == "custodian:local"}
    assert {"server-1", "server-2", "worker", "migrate"} <= set(custodian)
    from server.cli import build_parser

    for name, svc in custodian.items():
        env = {k: _interpolate(str(v), env_file) for k, v in svc["environment"].items()}
        mounts = dict(v.split(":")[:2][::-1] for v in svc["volumes"] if v.startswith("./"))
        argv = svc["command"]
        assert argv[0] == "custodian", name
        args = build_parser().parse_args(argv[1:])
        config = DEPLOY / mounts[args.config]  # the container path maps to a file in deploy/
        s = load_settings(
            config,
            env=env,
            overrides={
                "data_dir": args.data,
                "host": getattr(args, "host", None),
                "port": getattr(args, "port", None),
            },
        )
        assert s.s3_endpoint_url == "http://minio:9000", name
        assert "@postgres:5432/" in s.resolved_database_url, name
        assert s.store_backend == "s3" and s.worker_in_server is False, name
        assert s.signing_key_path.startswith("/srv/custodian-shared/"), "one key for all"
        if args.command == "serve":
            assert (s.host, s.port) == ("0.0.0.0", 8080)
    # The proxy uses the configuration H1 keeps for every deployment.
    assert (
        "./nginx/custodian.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    )


def test_compose_bucket_is_made_with_object_lock() -> None:
    init = " ".join(_compose()["services"]["minio-init"]["command"])
    assert "mc mb --ignore-existing --with-lock" in init
    import json

    policy = json.loads((DEPLOY / "compose" / "minio-policy.json").read_text())
    actions = {a for st in policy["Statement"] for a in st["Action"]}
    assert "s3:PutObjectRetention" in actions and "s3:DeleteObject" not in actions


# -- systemd ------------------------------------------------------------------------------------
def _unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(path)
    return cp


def _exec_argv(unit: configparser.ConfigParser, instance: str = "8081") -> list[str]:
    env = {}
    for item in shlex.split(unit["Service"].get("Environment", "")):
        k, _, v = item.partition("=")
        env[k] = v
    line = unit["Service"]["ExecStart"].replace("%i", instance)
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return shlex.split(line)


@pytest.mark.parametrize(
    "name", ["custodian-server@.service", "custodian-worker.service", "custodian-agent.service"]
)
def test_unit_is_hardened_and_its_command_parses(name: str) -> None:
    unit = _unit(UNITS / name)
    service = unit["Service"]
    for key, want in HARDENING.items():
        assert service.get(key) == want, f"{name}: {key}={service.get(key)!r}, want {want!r}"
    assert service["User"] not in ("", "root")
    rw = service["ReadWritePaths"].split()
    assert rw and all(p.lstrip("-").startswith(("/var/lib/", "/srv/")) for p in rw), rw
    argv = _exec_argv(unit)
    assert argv[0].startswith("/opt/custodian/venv/bin/")
    if argv[0].endswith("custodian-agent"):
        import argparse

        from ingest.cli import add_parser

        parser = argparse.ArgumentParser()
        add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["ingest", *argv[1:]])
        assert args.server.startswith("https://"), "stations talk to the proxy over TLS"
        assert args.state.startswith("/var/lib/")
        assert any(p.lstrip("-") == args.dock[0] for p in rw), "the dock must be writable"
        return
    from server.cli import build_parser

    args = build_parser().parse_args(argv[1:])
    assert args.config == "/etc/custodian/custodian.toml" and args.data == "/var/lib/custodian"
    # The settings that unit runs with: the example file, the secrets, its flags.
    s = load_settings(
        DEPLOY / "custodian.example.toml",
        env=SECRETS,
        overrides={
            "data_dir": args.data,
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
        },
    )
    _scale_out_checks(s)
    if args.command == "serve":
        assert (s.host, s.port) == ("127.0.0.1", 8081)
        assert any(p.lstrip("-") == "/srv/custodian-shared" for p in rw)
        assert Path(s.export_dir).is_relative_to("/srv/custodian-shared")


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd itself reads the units: an unknown option or a bad value is a warning here, and
    any output fails the test. Paths point at this checkout's venv so ExecStart exists."""
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (.ci/run installs systemd)"
    bindir = Path(sys.executable).parent
    names = []
    for unit in UNITS.glob("*.service"):
        name = unit.name.replace("@.service", "@8081.service")
        text = unit.read_text().replace("/opt/custodian/venv/bin/", f"{bindir}/")
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    for name in names:
        exe = _exec_argv(_unit(Path(name)))[0]
        assert Path(exe).exists(), f"{exe} is not installed (pip install -e .)"
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", (
        r.stdout + r.stderr
    )
