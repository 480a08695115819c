"""In-memory stand-ins for the upstream ports, with the failure modes (and the ``integrations.errors``)
the real clients have."""

from __future__ import annotations

import itertools

from integrations.alipay import AlipayIdentity
from integrations.errors import CodeInvalid, CodeUsed, UpstreamRejected, UpstreamUnavailable
from integrations.gov_identity import EnterpriseRecord, PersonVerification
from integrations.wechat import WeChatSession

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
        self.legal_rep_ids: dict[str, str | None] = {}  # uscc -> the representative's ID number
        self.face_tokens: dict[str, str] = {}  # token -> ID number of the face captured
        self.person_calls = 0
        self.enterprise_calls = 0
        self.face_calls = 0

    def add_person(self, name: str, id_number: str) -> None:
        self.people[id_number] = name

    def add_enterprise(
        self, uscc: str, name: str, legal_representative: str, status: str = "active", *, legal_rep_id: str | None = None
    ) -> None:
        """Without ``legal_rep_id`` the representative is the registered person of that name."""
        self.enterprises[uscc] = EnterpriseRecord(uscc, name, legal_representative, status, "150102")
        if legal_rep_id is None:
            legal_rep_id = next((number for number, person in self.people.items() if person == legal_representative), None)
        self.legal_rep_ids[uscc] = legal_rep_id

    def face_token(self, id_number: str) -> str:
        """A finished liveness capture of the person holding ``id_number``."""
        token = _code("face")
        self.face_tokens[token] = id_number
        return token

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

    def verify_face(self, name: str, id_number: str, face_token: str) -> PersonVerification:
        self.face_calls += 1
        captured = self.face_tokens.pop(face_token, None)  # single use
        if captured is None:
            return PersonVerification(False, "face_token_invalid")
        if captured != id_number or self.people.get(id_number) != name:
            return PersonVerification(False, "name_mismatch")
        return PersonVerification(True, "matched")

    def verify_legal_representative(self, uscc: str, name: str, id_number: str) -> bool:
        record = self.enterprises.get(uscc)
        return record is not None and record.legal_representative == name and self.legal_rep_ids.get(uscc) == id_number


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # login codes
        self.claim_codes: list[tuple[str, str]] = []
        self.notices: list[tuple[str, str]] = []  # (phone, event phrase)

    def send_login_code(self, phone: str, code: str) -> None:
        self.sent.append((phone, code))

    def send_claim_code(self, phone: str, code: str) -> None:
        self.claim_codes.append((phone, code))

    def send_security_notice(self, phone: str, event: str) -> None:
        self.notices.append((phone, event))

    def last_code(self, phone: str) -> str:
        return next(code for sent_to, code in reversed(self.sent) if sent_to == phone)
