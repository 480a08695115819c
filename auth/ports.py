"""Interfaces of the outside systems ``auth/`` depends on.

``integrations/`` implements them over HTTP (and owns the values they return); tests use in-memory
fakes. Implementations raise the exceptions of ``integrations.errors`` named on each method and must
never log codes, session keys, phone numbers, ID numbers or openids. ``AuthService`` lets them all
through to the HTTP layer unchanged (their codes are part of the API), auditing failed logins.
"""

from __future__ import annotations

from typing import Protocol

from integrations.alipay import AlipayIdentity
from integrations.gov_identity import EnterpriseRecord, PersonVerification
from integrations.wechat import WeChatSession

__all__ = [
    "AlipayGateway", "AlipayIdentity", "EnterpriseRecord", "IdentityPlatform", "PersonVerification",
    "SmsGateway", "WeChatGateway", "WeChatSession",
]


class WeChatGateway(Protocol):
    def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a ``wx.login`` code.

        Raises CodeInvalid (40029: unknown, expired or another app's code), CodeUsed (40163),
        RateLimited (45011), UpstreamRejected (40226 risky user), UpstreamUnavailable (-1, timeouts, 5xx).
        """

    def phone_number(self, code: str) -> str:
        """The ``purePhoneNumber`` behind a phone-button code (same exceptions as above)."""


class AlipayGateway(Protocol):
    def exchange_auth_code(self, auth_code: str) -> AlipayIdentity:
        """``alipay.system.oauth.token``; raises CodeInvalid (isv.code-invalid), UpstreamRejected,
        UpstreamUnavailable."""


class IdentityPlatform(Protocol):
    def verify_person(self, name: str, id_number: str) -> PersonVerification:
        """Two-element check against the population database; raises InvalidIdNumber,
        UpstreamUnavailable."""

    def lookup_enterprise(self, uscc: str) -> EnterpriseRecord | None:
        """Legal-person database lookup; ``None`` when the USCC is unknown. Raises InvalidUscc,
        UpstreamUnavailable."""

    def verify_face(self, name: str, id_number: str, face_token: str) -> PersonVerification:
        """实人核验 (四级): the liveness capture behind ``face_token`` against the ID photo. An unknown,
        used or expired token is ``matched=False`` (reason ``face_token_invalid``)."""

    def verify_legal_representative(self, uscc: str, name: str, id_number: str) -> bool:
        """The register's match API: is this person (name AND ID number) the enterprise's legal
        representative? Answers only yes/no, never the representative's data."""


class SmsGateway(Protocol):
    def send_login_code(self, phone: str, code: str) -> None:
        """Send the login template; raises RateLimited (the gateway's flow control), InvalidPhone
        or UpstreamUnavailable (the same for the two methods below)."""

    def send_claim_code(self, phone: str, code: str) -> None:
        """The code that proves control of an account before another one is merged into it."""

    def send_security_notice(self, phone: str, event: str) -> None:
        """The security notice template (``event`` is a short plain-Chinese phrase, no personal data)."""
