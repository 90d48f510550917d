"""A small deployment for tests: a throwaway CA and server certificate, Debian's nginx with the
shipped deploy/nginx/custodian.conf (its upstreams, ports and certificate paths rewritten) as
the current user on loopback ports, `custodian serve` and `custodian worker` processes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
SHIPPED_CONF = ROOT / "deploy" / "nginx" / "custodian.conf"


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA made here and a certificate for localhost and
    127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Custodian test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


def site_conf(
    upstreams: list[int], https_port: int, http_port: int, cert: Path, key: Path, accel_dir: Path
) -> str:
    """The shipped custodian.conf with only the lines marked EDIT (and the ports and include
    folder) changed: everything else is tested as shipped."""
    text = SHIPPED_CONF.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in upstreams
    )
    text, n = re.subn(r"(?m)^    server 10\.0\.0\.\d+:8080[^\n]*\n", "", text)
    assert n == 2, "the shipped upstream block changed: update the test"
    text = text.replace("upstream custodian {\n", "upstream custodian {\n" + servers, 1)
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/custodian/tls/fullchain.pem": str(cert),
        "/etc/custodian/tls/privkey.pem": str(key),
        "/etc/nginx/custodian/accel*.conf": f"{accel_dir}/accel*.conf",
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped config lacks {old!r}: update the test"
        text = text.replace(old, new)
    text = re.sub(r"(?m)^\s*listen \[::\]:\d+[^\n]*\n", "", text)  # no IPv6 in the sandbox
    return text


@dataclass
class Nginx:
    prefix: Path
    https_port: int
    upstreams: list[int]
    cert: Path
    key: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def start(self) -> Nginx:
        from helpers import free_port

        for sub in ("logs", "tmp", "accel"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        site = self.prefix / "custodian.conf"
        site.write_text(
            site_conf(
                self.upstreams,
                self.https_port,
                free_port(),
                self.cert,
                self.key,
                self.prefix / "accel",
            )
        )
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers may read our temp files
        tmp = self.prefix / "tmp"
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            f"{user}worker_processes 1;\npid {self.prefix}/nginx.pid;\n"
            f"error_log {self.prefix}/logs/error.log info;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
            f"  scgi_temp_path {tmp}/scgi;\n"
            "  log_format up '$request_method $uri $status $upstream_addr';\n"
            f"  access_log {self.access_log} up;\n"
            f"  include {site};\n"
            "}\n"
        )
        check = subprocess.run(
            [NGINX, "-t", "-q", "-p", str(self.prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, f"nginx -t refused the config:\n{check.stderr}"
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_port(self.https_port, self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def upstream_lines(self) -> list[tuple[str, str, str, str]]:
        out = []
        for line in self.access_log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 4:  # upstream: the last server tried ("a, b" after a failover)
                out.append((parts[0], parts[1], parts[2], parts[-1]))
        return out


def wait_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise AssertionError(f"process exited ({proc.returncode}) before listening: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def wait_healthy(url: str, timeout: float = 60, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2, context=context) as r:
                if r.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy after {timeout} s: {last}")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_")}
    env.update(extra)
    return env


@dataclass
class Deployment:
    """Two servers, one worker, one nginx; log files under `folder`."""

    folder: Path
    config: Path
    ports: list[int]
    nginx: Nginx
    ca: Path
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.nginx.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def custodian(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = open(self.folder / log, "ab")  # noqa: SIM115 - owned by the process
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", *args, "--config", str(self.config)],
            cwd=ROOT,
            env=clean_env(),
            stdout=out,
            stderr=out,
        )

    def start_server(self, n: int) -> subprocess.Popen[bytes]:
        proc = self.custodian("serve", "--port", str(self.ports[n]), log=f"server{n}.log")
        if n < len(self.servers):
            self.servers[n] = proc
        else:
            self.servers.append(proc)
        wait_healthy(f"http://127.0.0.1:{self.ports[n]}")
        return proc

    def stop(self) -> None:
        self.nginx.stop()
        for p in [*self.servers, self.worker]:
            stop_process(p)
