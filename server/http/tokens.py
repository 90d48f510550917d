"""Login tokens: short-lived JWTs with one fixed algorithm and checked claims."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from server.errors import Unauthorized
from server.settings import Settings

VERIFIED_MAX = 10_000  # checked tokens remembered (a few hundred bytes each)
ALGORITHM = "HS256"  # the only one accepted; "none" and every other are refused by decode()


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    username: str
    role: str
    agency_id: int | None
    expires_at: datetime
    version: int = 0  # the user's token_version when issued; a change to the account bumps it


def load_secret(settings: Settings) -> bytes:
    """The HMAC secret: from settings, else kept (created once, mode 0600) in the data dir."""
    if settings.jwt_secret:
        return settings.jwt_secret.encode()
    path = settings.data_path / "jwt.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # never replace a secret another process wrote first
        except FileExistsError:
            pass
        tmp.unlink()
    return path.read_text().strip().encode()


def _int_claim(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError("bad integer claim")
    return value


class TokenIssuer:
    """Issues and checks tokens for one deployment."""

    def __init__(self, settings: Settings, secret: bytes):
        self.secret = secret
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = timedelta(seconds=settings.jwt_ttl_seconds)
        # Tokens whose signature and claims were checked, with their claims: a player sends
        # the same token with every segment, and the same string verifies the same way until
        # it expires (checked on every use). Refusals are never remembered.
        self._verified: dict[str, TokenClaims] = {}

    def issue(
        self,
        user_id: int,
        username: str,
        role: str,
        agency_id: int | None,
        now: datetime | None = None,
        version: int = 0,
    ) -> tuple[str, datetime]:
        now = now or datetime.now(UTC)
        exp = now + self.ttl
        payload = {
            "sub": str(user_id),
            "name": username,
            "role": role,
            "agency": agency_id,
            "ver": version,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "exp": int(exp.timestamp()),
        }
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM), exp.replace(microsecond=0)

    def check(self, token: str) -> TokenClaims:
        """Decode and check signature, algorithm, expiry, issuer and audience."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at.timestamp():  # as jwt's own exp check
                return known
            del self._verified[token]
            raise Unauthorized("token expired; log in again", code="token_expired")
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "ver"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired; log in again", code="token_expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}", code="bad_token") from None
        try:
            return TokenClaims(
                user_id=_int_claim(int(claims["sub"])),
                username=str(claims.get("name", "")),
                role=str(claims["role"]),
                agency_id=claims.get("agency"),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                version=_int_claim(claims["ver"]),
            )
        except (KeyError, ValueError, TypeError):
            raise Unauthorized("invalid token: missing claims", code="bad_token") from None
