"""RFC 3161 trusted time: build a request, fetch a token from a TSA, verify a token."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import cryptography.x509
import rfc3161_client
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerifierBuilder,
    decode_timestamp_response,
)

from integrity.errors import TOKEN_INVALID, Problem, VerificationError

REQUEST_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"
# A TSA reply is a few kilobytes; anything far larger is not a reply we want to parse.
MAX_REPLY_BYTES = 256 * 1024
DEFAULT_TIMEOUT = 10.0

# Here a "token" is the TSA's whole TimeStampResp DER (status + token), as `openssl ts -reply`
# writes it and `openssl ts -verify -in` reads it.
CertificatesLike = bytes | str | cryptography.x509.Certificate


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token attests: when, by which TSA serial, over which digest."""

    gen_time: datetime
    serial: int
    policy: str
    message_sha256: str
    nonce: int | None


class TsaError(Exception):
    """The TSA could not be reached or did not grant a usable token."""


def _request(data: bytes) -> rfc3161_client.TimeStampRequest:
    if not data:
        raise ValueError("cannot time-stamp empty data")
    return (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )


def build_request(data: bytes) -> bytes:
    """A DER TimeStampReq over SHA-256(data), with a random nonce, asking for the TSA cert."""
    return _request(data).as_bytes()


def request_token(url: str, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """POST a request for data to the TSA at url; return the reply DER after checking it."""
    request = _request(data)
    http_request = urllib.request.Request(
        url,
        data=request.as_bytes(),
        method="POST",
        headers={"Content-Type": REQUEST_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE},
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            # Read one byte past the cap so an oversized reply is refused, not truncated.
            body: bytes = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TsaError(f"time-stamping authority {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TsaError(f"time-stamping authority {url} unreachable: {exc}") from exc
    if len(body) > MAX_REPLY_BYTES:
        raise TsaError(f"time-stamping authority {url} replied with more than {MAX_REPLY_BYTES}")
    try:
        reply = decode_timestamp_response(body)
    except ValueError as exc:
        raise TsaError(f"time-stamping authority {url} sent an unparseable reply: {exc}") from exc
    if PKIStatus(reply.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TsaError(f"time-stamping authority {url} refused: status {reply.status}")
    # The reply must answer *this* request: same nonce and same digest, or it may be a replay.
    if reply.tst_info.nonce != request.nonce:
        raise TsaError(f"time-stamping authority {url}: nonce mismatch (replayed reply?)")
    if reply.tst_info.message_imprint.message != hashlib.sha256(data).digest():
        raise TsaError(f"time-stamping authority {url}: token covers other data")
    return body


def _certificate(value: CertificatesLike) -> cryptography.x509.Certificate:
    if isinstance(value, cryptography.x509.Certificate):
        return value
    raw = value.encode("ascii") if isinstance(value, str) else value
    if raw.lstrip().startswith(b"-----BEGIN"):
        return cryptography.x509.load_pem_x509_certificate(raw)
    return cryptography.x509.load_der_x509_certificate(raw)


def _certificates(
    value: CertificatesLike | Sequence[CertificatesLike],
) -> list[cryptography.x509.Certificate]:
    # A PEM bundle (one string holding several certificates) is the usual form of a CA file.
    if isinstance(value, str):
        value = value.encode("ascii")
    if isinstance(value, bytes):
        if value.lstrip().startswith(b"-----BEGIN"):
            return cryptography.x509.load_pem_x509_certificates(value)
        return [cryptography.x509.load_der_x509_certificate(value)]
    if isinstance(value, cryptography.x509.Certificate):
        return [value]
    return [_certificate(v) for v in value]


def check_token(
    token: bytes,
    data: bytes,
    roots: CertificatesLike | Sequence[CertificatesLike],
    tsa_cert: CertificatesLike | None = None,
    *,
    where: str = "timestamp token",
) -> tuple[TimestampInfo | None, list[Problem]]:
    """Verify a token over data against trusted roots; (info, []) or (None, problems)."""

    def problem(reason: str) -> tuple[None, list[Problem]]:
        return None, [Problem(TOKEN_INVALID, where, f"{where}: {reason}")]

    # Step 1: parse.
    try:
        reply: TimeStampResponse = decode_timestamp_response(token)
    except ValueError as exc:
        return problem(f"not an RFC 3161 reply: {exc}")
    # Step 2: the token must be over SHA-256(data), exactly.
    imprint = reply.tst_info.message_imprint
    if imprint.message != hashlib.sha256(data).digest():
        return problem("covers other data (message imprint does not match)")
    # Step 3: signature, certificate chain to a trusted root, timeStamping EKU.
    builder = VerifierBuilder()
    try:
        for root in _certificates(roots):
            builder = builder.add_root_certificate(root)
        if tsa_cert is not None:
            builder = builder.tsa_certificate(_certificate(tsa_cert))
        builder.build().verify_message(reply, data)
    except (rfc3161_client.VerificationError, ValueError) as exc:
        return problem(f"does not verify: {exc}")
    info = reply.tst_info
    return (
        TimestampInfo(
            gen_time=info.gen_time,
            serial=info.serial_number,
            policy=info.policy.dotted_string,
            message_sha256=imprint.message.hex(),
            nonce=info.nonce,
        ),
        [],
    )


def verify_token(
    token: bytes,
    data: bytes,
    roots: CertificatesLike | Sequence[CertificatesLike],
    tsa_cert: CertificatesLike | None = None,
) -> TimestampInfo:
    """Verify a token over data against trusted roots; raise VerificationError if it fails."""
    info, problems = check_token(token, data, roots, tsa_cert)
    if problems or info is None:
        raise VerificationError(problems)
    return info
