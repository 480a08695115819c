"""Interfaces of the upstream systems ``auth/`` depends on.

``auth/upstream/`` implements them over HTTP; tests use in-memory fakes. Implementations raise the
exceptions of ``auth.errors`` named on each method and must never log codes, session keys, phone
numbers, ID numbers or openids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    # Kept by nobody: auth/ neither stores nor returns it (it never leaves the server).
    session_key: str

    def __repr__(self) -> str:  # the default repr would print the session key into tracebacks
        return "WeChatSession(openid=<hidden>, unionid=<hidden>, session_key=<hidden>)"


class WeChatGateway(Protocol):
    def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a ``wx.login`` code.

        Raises CodeInvalid (40029), CodeUsed (40163), CodeExpired, RateLimited (45011),
        UpstreamRejected (40226 risky user), UpstreamUnavailable (-1, timeouts, 5xx).
        """

    def phone_number(self, code: str) -> str:
        """The ``purePhoneNumber`` behind a phone-button code (same exceptions as above)."""


@dataclass(frozen=True)
class AlipayIdentity:
    open_id: str
    user_id: str | None

    def __repr__(self) -> str:
        return "AlipayIdentity(open_id=<hidden>, user_id=<hidden>)"


class AlipayGateway(Protocol):
    def exchange_auth_code(self, auth_code: str) -> AlipayIdentity:
        """``alipay.system.oauth.token``; raises CodeInvalid (isv.code-invalid), UpstreamRejected,
        UpstreamUnavailable."""


@dataclass(frozen=True)
class PersonVerification:
    matched: bool
    reason: str  # "matched", "name_mismatch", "not_found"; never shown to the user (an oracle otherwise)


@dataclass(frozen=True)
class EnterpriseRecord:
    uscc: str
    name: str
    legal_representative: str
    # The client normalises the registry's wording: 存续/在业/开业 → "active", 吊销 → "revoked",
    # 注销 → "cancelled". Only "active" enterprises can be linked.
    status: str
    region_code: str | None

    def __repr__(self) -> str:
        return f"EnterpriseRecord(uscc={self.uscc!r}, status={self.status!r})"


class IdentityPlatform(Protocol):
    def verify_person(self, name: str, id_number: str) -> PersonVerification:
        """Two-element check against the population database; raises UpstreamUnavailable."""

    def lookup_enterprise(self, uscc: str) -> EnterpriseRecord | None:
        """Legal-person database lookup; ``None`` when the USCC is unknown."""

    def verify_face(self, name: str, id_number: str, face_token: str) -> PersonVerification:
        """实人核验 (四级): the liveness capture behind ``face_token`` against the ID photo. An unknown,
        used or expired token is ``matched=False`` (reason ``face_token_invalid``)."""

    def verify_legal_representative(self, uscc: str, name: str, id_number: str) -> bool:
        """The register's match API: is this person (name AND ID number) the enterprise's legal
        representative? Answers only yes/no, never the representative's data."""


class SmsGateway(Protocol):
    def send_login_code(self, phone: str, code: str) -> None:
        """Send the login template; raises RateLimited or UpstreamUnavailable."""

    def send_claim_code(self, phone: str, code: str) -> None:
        """The code that proves control of an account before another one is merged into it."""

    def send_security_notice(self, phone: str, event: str) -> None:
        """The security notice template (``event`` is a short plain-Chinese phrase, no personal data)."""
