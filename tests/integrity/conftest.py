"""Fixtures for integrity tests: a real local RFC 3161 TSA made with the openssl CLI."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OPENSSL = "/usr/bin/openssl"


@dataclass(frozen=True)
class LocalTsa:
    """A running local TSA: its URL, its root CA and signer certificate files."""

    url: str
    root_pem: Path
    tsa_pem: Path
    workdir: Path


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(d: Path) -> None:
    _run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "30", "-subj", "/CN=Custodian Test Root CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    _run(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", "/CN=Custodian Test TSA",
        cwd=d,
    )  # fmt: skip
    (d / "tsa_ext.cnf").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,nonRepudiation\n"
        # rfc3161-client (and RFC 3161 §2.3) require this EKU, critical, and only it.
        "extendedKeyUsage=critical,timeStamping\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _run(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.pem", "-days", "30", "-extfile", "tsa_ext.cnf",
        cwd=d,
    )  # fmt: skip
    (d / "tsaserial").write_text("01\n")
    # No `certs =` line and no -chain flag: the reply embeds only the signer certificate,
    # because rfc3161-client refuses replies that carry the whole chain.
    (d / "tsa.cnf").write_text(
        f"""
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {d}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )


@pytest.fixture(scope="session")
def local_tsa() -> Iterator[LocalTsa]:
    """A real TSA: `openssl ts -reply` behind http.server on an ephemeral localhost port."""
    with tempfile.TemporaryDirectory(prefix="custodian-tsa-") as tmp:
        d = Path(tmp)
        _make_pki(d)
        # openssl updates the serial file on each reply; serialise requests.
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                query = self.rfile.read(length)
                with lock, tempfile.TemporaryDirectory(dir=d) as req_dir:
                    qpath = Path(req_dir, "q.tsq")
                    rpath = Path(req_dir, "r.tsr")
                    qpath.write_bytes(query)
                    result = subprocess.run(
                        [OPENSSL, "ts", "-reply", "-config", str(d / "tsa.cnf"),
                         "-queryfile", str(qpath), "-out", str(rpath)],
                        capture_output=True,
                    )  # fmt: skip
                    body = rpath.read_bytes() if result.returncode == 0 else b""
                if not body:
                    self.send_error(500, result.stderr.decode(errors="replace")[:200])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output quiet

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            yield LocalTsa(f"http://{host}:{port}/tsa", d / "ca.pem", d / "tsa.pem", d)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
