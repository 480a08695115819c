"""In-memory stand-ins for the upstream ports, with the failure modes the real ones have."""

from __future__ import annotations

import itertools

from auth.errors import CodeInvalid, CodeUsed, UpstreamRejected, UpstreamUnavailable
from auth.ports import AlipayIdentity, EnterpriseRecord, PersonVerification, WeChatSession

_counter = itertools.count(1)


def _code(prefix: str) -> str:
    return f"{prefix}-code-{next(_counter):06d}"


class FakeWeChat:
    def __init__(self) -> None:
        self._logins: dict[str, WeChatSession] = {}
        self._phones: dict[str, str] = {}
        self._used: set[str] = set()
        self.risky_openids: set[str] = set()
        self.unavailable = False
        self.calls = 0

    def login_code(self, openid: str, unionid: str | None = None, session_key: str = "c2Vzc2lvbi1rZXktMTY=") -> str:
        code = _code("wx")
        self._logins[code] = WeChatSession(openid=openid, unionid=unionid, session_key=session_key)
        return code

    def phone_code(self, phone: str) -> str:
        code = _code("wxphone")
        self._phones[code] = phone
        return code

    def _consume(self, code: str, table: dict) -> object:
        self.calls += 1
        if self.unavailable:
            raise UpstreamUnavailable(upstream="wechat")
        if code in self._used:
            raise CodeUsed()
        if code not in table:
            raise CodeInvalid()
        self._used.add(code)
        return table[code]

    def code_to_session(self, code: str) -> WeChatSession:
        session = self._consume(code, self._logins)
        if session.openid in self.risky_openids:
            raise UpstreamRejected(upstream="wechat", upstream_code="40226")
        return session

    def phone_number(self, code: str) -> str:
        return self._consume(code, self._phones)


class FakeAlipay:
    def __init__(self) -> None:
        self._codes: dict[str, AlipayIdentity] = {}
        self._used: set[str] = set()

    def auth_code(self, open_id: str, user_id: str | None = None) -> str:
        code = _code("ali")
        self._codes[code] = AlipayIdentity(open_id=open_id, user_id=user_id)
        return code

    def exchange_auth_code(self, auth_code: str) -> AlipayIdentity:
        if auth_code in self._used or auth_code not in self._codes:
            raise CodeInvalid()  # Alipay reports both as isv.code-invalid
        self._used.add(auth_code)
        return self._codes[auth_code]


class FakeIdentityPlatform:
    def __init__(self) -> None:
        self.people: dict[str, str] = {}  # id number -> name
        self.enterprises: dict[str, EnterpriseRecord] = {}
        self.person_calls = 0
        self.enterprise_calls = 0

    def add_person(self, name: str, id_number: str) -> None:
        self.people[id_number] = name

    def add_enterprise(self, uscc: str, name: str, legal_representative: str, status: str = "active") -> None:
        self.enterprises[uscc] = EnterpriseRecord(uscc, name, legal_representative, status, "150102")

    def verify_person(self, name: str, id_number: str) -> PersonVerification:
        self.person_calls += 1
        if id_number not in self.people:
            return PersonVerification(False, "not_found")
        if self.people[id_number] != name:
            return PersonVerification(False, "name_mismatch")
        return PersonVerification(True, "matched")

    def lookup_enterprise(self, uscc: str) -> EnterpriseRecord | None:
        self.enterprise_calls += 1
        return self.enterprises.get(uscc)


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_login_code(self, phone: str, code: str) -> None:
        self.sent.append((phone, code))

    def last_code(self, phone: str) -> str:
        return next(code for sent_to, code in reversed(self.sent) if sent_to == phone)
