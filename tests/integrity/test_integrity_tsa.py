"""RFC 3161 tokens from a real local TSA, verified by our code and by openssl."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rfc3161_client import decode_timestamp_response
from rfc3161_client._rust import parse_timestamp_request

from integrity import tsa
from integrity.errors import TOKEN_INVALID, VerificationError

DATA = b"tree head: size 42, root abc"


def test_build_request_has_sha256_imprint_nonce_and_cert_req() -> None:
    request = parse_timestamp_request(tsa.build_request(DATA))
    assert request.cert_req is True
    assert request.nonce is not None
    assert request.message_imprint.hash_algorithm.dotted_string == "2.16.840.1.101.3.4.2.1"
    assert request.message_imprint.message == hashlib.sha256(DATA).digest()


def test_token_verifies_with_our_code(local_tsa) -> None:
    token = tsa.request_token(local_tsa.url, DATA, timeout=10)
    info = tsa.verify_token(token, DATA, local_tsa.root_pem.read_bytes())
    assert abs(info.gen_time - datetime.now(UTC)) < timedelta(minutes=2)
    assert info.policy == "1.3.6.1.4.1.99999.1"
    assert info.message_sha256 == hashlib.sha256(DATA).hexdigest()
    # Pinning the TSA certificate also holds.
    tsa.verify_token(token, DATA, [local_tsa.root_pem.read_text()], local_tsa.tsa_pem.read_bytes())


def test_reply_embeds_only_the_signer_certificate(local_tsa) -> None:
    reply = decode_timestamp_response(tsa.request_token(local_tsa.url, DATA))
    assert len(reply.signed_data.certificates) == 1


def test_token_verifies_with_openssl_cli(local_tsa, tmp_path) -> None:
    token = tsa.request_token(local_tsa.url, DATA)
    (tmp_path / "reply.tsr").write_bytes(token)
    (tmp_path / "data.bin").write_bytes(DATA)
    result = subprocess.run(
        ["/usr/bin/openssl", "ts", "-verify", "-in", str(tmp_path / "reply.tsr"),
         "-data", str(tmp_path / "data.bin"), "-CAfile", str(local_tsa.root_pem)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout


def test_token_for_other_data_fails(local_tsa, tmp_path) -> None:
    token = tsa.request_token(local_tsa.url, b"other data")
    info, problems = tsa.check_token(token, DATA, local_tsa.root_pem.read_bytes())
    assert info is None
    assert [p.kind for p in problems] == [TOKEN_INVALID]
    assert "covers other data" in problems[0].message
    with pytest.raises(VerificationError) as caught:
        tsa.verify_token(token, DATA, local_tsa.root_pem.read_bytes())
    assert "covers other data" in caught.value.diagnosis()
    # openssl agrees.
    (tmp_path / "reply.tsr").write_bytes(token)
    (tmp_path / "data.bin").write_bytes(DATA)
    result = subprocess.run(
        ["/usr/bin/openssl", "ts", "-verify", "-in", str(tmp_path / "reply.tsr"),
         "-data", str(tmp_path / "data.bin"), "-CAfile", str(local_tsa.root_pem)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0


def test_token_under_an_untrusted_root_fails(local_tsa, tmp_path) -> None:
    token = tsa.request_token(local_tsa.url, DATA)
    subprocess.run(
        ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(tmp_path / "k"), "-out", str(tmp_path / "other.pem"),
         "-days", "1", "-subj", "/CN=Other Root"],
        check=True, capture_output=True,
    )  # fmt: skip
    info, problems = tsa.check_token(token, DATA, (tmp_path / "other.pem").read_bytes())
    assert info is None and problems[0].kind == TOKEN_INVALID
    assert "does not verify" in problems[0].message


def test_tampered_token_fails(local_tsa) -> None:
    token = bytearray(tsa.request_token(local_tsa.url, DATA))
    token[-10] ^= 0x01  # inside the signature
    _, problems = tsa.check_token(bytes(token), DATA, local_tsa.root_pem.read_bytes())
    assert problems and problems[0].kind == TOKEN_INVALID
    _, problems = tsa.check_token(b"not a token", DATA, local_tsa.root_pem.read_bytes())
    assert problems and "not an RFC 3161 reply" in problems[0].message


def test_unreachable_tsa_raises_tsa_error() -> None:
    with pytest.raises(tsa.TsaError, match="unreachable"):
        tsa.request_token("http://127.0.0.1:9/tsa", DATA, timeout=2)


def test_tsa_http_error_raises_tsa_error() -> None:
    class Busy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_error(503, "busy")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
        with pytest.raises(tsa.TsaError, match="answered HTTP 503"):
            tsa.request_token(url, DATA, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
