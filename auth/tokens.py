"""ES256 access tokens (JWT, ``typ: at+jwt``, RFC 9068 style) and their strict verification.

Verification follows RFC 8725: one hard-coded algorithm, a header allowlist (``alg``, ``typ``,
``kid`` and nothing else, so no ``jku``/``x5u``/``jwk``/``crit``/``b64``), the kid's format checked
before it is looked up in our own key set, all claims required, ``iss`` exact, ``aud`` one of the
expected audiences. Time claims are checked here against the injected clock (PyJWT reads the wall
clock), with a small leeway for skewed clients, and a token may not live longer than 15 minutes.
Refresh tokens are opaque (``auth.refresh_tokens``) so neither kind can pass for the other.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

from auth.errors import TokenExpired, TokenInvalid
from auth.signing_keys import KID_PATTERN, SigningKeys
from kernel.clock import Clock

ACCESS_TOKEN_TYP = "at+jwt"
ALGORITHM = "ES256"
DEFAULT_ACCESS_TTL = 600
MAX_ACCESS_TTL = 900
LEEWAY_SECONDS = 5
MAX_TOKEN_LENGTH = 4096
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid", "acct", "amr")
_ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
_SUBJECT_PATTERN = re.compile(r"^(acc|op)_[a-z2-7]{26}$")

# One audience per channel (RFC 8725 §3.9): a mini-program token is useless against the console.
CHANNEL_AUDIENCES = {"app": "msb-app", "wechat": "msb-wechat", "alipay": "msb-alipay", "console": "msb-console"}
AUDIENCE_CHANNELS = {audience: channel for channel, audience in CHANNEL_AUDIENCES.items()}
CITIZEN_AUDIENCES = ("msb-app", "msb-wechat", "msb-alipay")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    expires_at: int

    def __repr__(self) -> str:
        return f"IssuedToken(token=<hidden>, expires_in={self.expires_in})"


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    channel: str
    session_id: str
    account_type: str  # "person" | "operator"
    amr: tuple[str, ...]
    level: int | None  # real-name level of a person
    acting_for: str | None  # enterprise account id when a person acts for an enterprise
    roles: tuple[str, ...]  # operators only
    jti: str
    expires_at: int
    issued_at: int = 0


class TokenService:
    def __init__(self, signing_keys: SigningKeys, clock: Clock, *, issuer: str, ttl: int = DEFAULT_ACCESS_TTL) -> None:
        if not 0 < ttl <= MAX_ACCESS_TTL:
            raise ValueError(f"access token ttl must be in (0, {MAX_ACCESS_TTL}] seconds")
        self._keys = signing_keys
        self._clock = clock
        self.issuer = issuer
        self.ttl = ttl

    def issue(
        self,
        *,
        subject: str,
        channel: str,
        session_id: str,
        account_type: str,
        amr: Iterable[str],
        level: int | None = None,
        acting_for: str | None = None,
        roles: Iterable[str] = (),
    ) -> IssuedToken:
        now = int(self._clock.now())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": CHANNEL_AUDIENCES[channel],
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(16),
            "sid": session_id,
            "acct": account_type,
            "amr": list(amr),
        }
        if level is not None:
            claims["lvl"] = level
        if acting_for is not None:
            claims["acting_for"] = acting_for
        if roles:
            claims["roles"] = sorted(roles)
        key = self._keys.active()
        token = jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYP}
        )
        return IssuedToken(token, self.ttl, now + self.ttl)

    def verify(self, token: str, *, audiences: Iterable[str]) -> AccessClaims:
        """Return the claims of a valid token meant for one of ``audiences``; raise TokenInvalid /
        TokenExpired otherwise. The reason is deliberately not told to the caller."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise TokenInvalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        if (
            set(header) != _ALLOWED_HEADER
            or header["alg"] != ALGORITHM
            or header["typ"] != ACCESS_TOKEN_TYP
            or not isinstance(header["kid"], str)
            or not KID_PATTERN.match(header["kid"])
        ):
            raise TokenInvalid()
        public_key = self._keys.public_key(header["kid"])
        if public_key is None:
            raise TokenInvalid()
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=list(audiences),
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # Checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        self._check_times(claims)
        return self._to_claims(claims)

    def _check_times(self, claims: dict) -> None:
        iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (iat, nbf, exp)):
            raise TokenInvalid()
        now = self._clock.now()
        if iat > now + LEEWAY_SECONDS or nbf > now + LEEWAY_SECONDS or not iat <= nbf < exp:
            raise TokenInvalid()
        if exp - iat > MAX_ACCESS_TTL:
            raise TokenInvalid()
        if exp <= now - LEEWAY_SECONDS:
            raise TokenExpired()

    @staticmethod
    def _to_claims(claims: dict) -> AccessClaims:
        aud, sub, acct = claims["aud"], claims["sub"], claims["acct"]
        amr, roles = claims["amr"], claims.get("roles", [])
        level, acting_for = claims.get("lvl"), claims.get("acting_for")
        if (
            not isinstance(aud, str)
            or aud not in AUDIENCE_CHANNELS
            or not isinstance(sub, str)
            or not _SUBJECT_PATTERN.match(sub)
            or acct not in ("person", "operator")
            or not isinstance(claims["sid"], str)
            or not (isinstance(amr, list) and all(isinstance(item, str) for item in amr))
            or not (isinstance(roles, list) and all(isinstance(item, str) for item in roles))
            or (level is not None and (not isinstance(level, int) or isinstance(level, bool)))
            or (acting_for is not None and not isinstance(acting_for, str))
        ):
            raise TokenInvalid()
        return AccessClaims(
            subject=sub,
            channel=AUDIENCE_CHANNELS[aud],
            session_id=claims["sid"],
            account_type=acct,
            amr=tuple(amr),
            level=level,
            acting_for=acting_for,
            roles=tuple(roles),
            jti=claims["jti"],
            expires_at=claims["exp"],
            issued_at=claims["iat"],
        )
