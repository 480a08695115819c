"""The plain values ``AuthService`` takes and returns: its configuration, token pairs, grants, the caller."""
from __future__ import annotations

from dataclasses import dataclass

from auth.accounts import AccountSummary
from auth.refresh_tokens import CITIZEN_POLICY, DEFAULT_GRACE_SECONDS, OPERATOR_POLICY, FamilyPolicy
from auth.tokens import DEFAULT_ACCESS_TTL, LEEWAY_SECONDS, MAX_ACCESS_TTL


@dataclass(frozen=True)
class AuthConfig:
    issuer: str = "msb-bff"
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_grace_seconds: int = DEFAULT_GRACE_SECONDS
    citizen_sessions: FamilyPolicy = CITIZEN_POLICY
    operator_sessions: FamilyPolicy = OPERATOR_POLICY
    signing_key_cache_seconds: float = 30.0

    @property
    def signing_key_retain_seconds(self) -> int:
        # A retired key must outlive every token it signed, including tokens signed by workers
        # whose cache still called it active.
        return MAX_ACCESS_TTL + int(self.signing_key_cache_seconds) + LEEWAY_SECONDS + 60


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    account: AccountSummary
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        return f"TokenPair(account={self.account.id!r}, expires_in={self.expires_in})"

    def to_dict(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "account": self.account.to_dict(),
        }


@dataclass(frozen=True)
class AccessGrant:
    """A new access token for the same session (after switching the acting context)."""

    access_token: str
    expires_in: int
    acting_for: str | None
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        return f"AccessGrant(acting_for={self.acting_for!r}, expires_in={self.expires_in})"

    def to_dict(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "acting_for": self.acting_for,
        }


@dataclass(frozen=True)
class SmsCodeSent:
    expires_in: int
    resend_after: int

    def to_dict(self) -> dict[str, int]:
        return {"expires_in": self.expires_in, "resend_after": self.resend_after}


@dataclass(frozen=True)
class Principal:
    """Who is calling, from a verified access token and the live session behind it."""

    account_id: str  # the live account (merge pointers already followed)
    type: str  # "person" | "operator"
    level: int | None  # current real-name level (read from the store, not the token)
    channel: str  # app | wechat | alipay | console
    acting_for: str | None  # enterprise account id
    session_id: str  # refresh family id; logout(…, family_id=principal.session_id)
    roles: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()
