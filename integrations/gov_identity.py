"""Government unified identity platform: two-element real-name check and the legal-person register.
Implements ``auth.ports.IdentityPlatform``.

Errors come as HTTP 4xx/5xx with ``{"error": {"code", "message"}}``; a 404 means "no such
enterprise" only when it says ``ENTERPRISE_NOT_FOUND``, so a wrong base URL (a plain 404) is an
outage, not a register full of missing companies.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from integrations.errors import InputRefused, UpstreamUnavailable
from integrations.http import UpstreamHttp, config_problem, report

SYSTEM = "gov_identity"
VERIFY2 = "gov.realname.verify2"
ENTERPRISE = "gov.enterprise.get"
VERIFY_FACE = "gov.realname.verify_face"
LEGAL_REP = "gov.enterprise.legal_rep_verify"
APP_KEY_HEADER = "X-App-Key"
# GB 32100 alphabet (no I, O, S, V, Z). Only the shape is checked here, so that nothing but a
# USCC-shaped string ever becomes part of a URL path; the check digit is the register's business.
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


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


_VERDICTS = {
    "MATCH": PersonVerification(matched=True, reason="matched"),
    "MISMATCH": PersonVerification(matched=False, reason="name_mismatch"),
    "NOT_FOUND": PersonVerification(matched=False, reason="not_found"),
}
# The register's status, as a code or as its Chinese wording, in the port's vocabulary.
_ENTERPRISE_STATUS = {
    "ACTIVE": "active", "存续": "active", "在业": "active", "开业": "active",
    "REVOKED": "revoked", "吊销": "revoked",
    "CANCELLED": "cancelled", "注销": "cancelled",
}


class GovIdentityClient:
    def __init__(self, base_url: str, app_key: str, session: requests.Session | None = None, timeout: float = 3.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {APP_KEY_HEADER: app_key}
        self._http = UpstreamHttp(SYSTEM, session=session, timeout=timeout)

    def verify_person(self, name: str, id_number: str) -> PersonVerification:
        response = self._http.request(
            "POST", f"{self._base_url}/gov/realname/verify2", endpoint=VERIFY2,
            json={"name": name, "id_number": id_number}, headers=self._headers,
        )
        body = self._http.json_object(response, VERIFY2)
        if response.status_code != 200:
            self._raise_error(VERIFY2, response.status_code, body)
        verdict = _VERDICTS.get(str(body.get("result")))
        if verdict is None:
            report(SYSTEM, VERIFY2, f"result_{body.get('result_code')}", reason="unknown verification result")
            raise UpstreamUnavailable(upstream=SYSTEM)
        return verdict

    def lookup_enterprise(self, uscc: str) -> EnterpriseRecord | None:
        if not _USCC_SHAPE.match(uscc):
            raise InputRefused("uscc")
        url = f"{self._base_url}/gov/enterprise/{quote(uscc, safe='')}"
        response = self._http.request("GET", url, endpoint=ENTERPRISE, headers=self._headers)
        body = self._http.json_object(response, ENTERPRISE)
        if response.status_code == 404 and _error_code(body) == "ENTERPRISE_NOT_FOUND":
            return None
        if response.status_code != 200:
            self._raise_error(ENTERPRISE, response.status_code, body)
        return _enterprise_record(body.get("enterprise"))

    def verify_face(self, name: str, id_number: str, face_token: str) -> PersonVerification:
        response = self._http.request(
            "POST", f"{self._base_url}/gov/realname/verify-face", endpoint=VERIFY_FACE,
            json={"name": name, "id_number": id_number, "face_token": face_token}, headers=self._headers,
        )
        body = self._http.json_object(response, VERIFY_FACE)
        if response.status_code == 400 and _error_code(body) == "FACE_TOKEN_INVALID":
            return PersonVerification(matched=False, reason="face_token_invalid")
        if response.status_code != 200:
            self._raise_error(VERIFY_FACE, response.status_code, body)
        verdict = _VERDICTS.get(str(body.get("result")))
        if verdict is None:
            report(SYSTEM, VERIFY_FACE, f"result_{body.get('result_code')}", reason="unknown verification result")
            raise UpstreamUnavailable(upstream=SYSTEM)
        return verdict

    def verify_legal_representative(self, uscc: str, name: str, id_number: str) -> bool:
        if not _USCC_SHAPE.match(uscc):
            raise InputRefused("uscc")
        response = self._http.request(
            "POST", f"{self._base_url}/gov/enterprise/legal-representative/verify", endpoint=LEGAL_REP,
            json={"uscc": uscc, "name": name, "id_number": id_number}, headers=self._headers,
        )
        body = self._http.json_object(response, LEGAL_REP)
        if response.status_code == 404 and _error_code(body) == "ENTERPRISE_NOT_FOUND":
            return False
        if response.status_code != 200:
            self._raise_error(LEGAL_REP, response.status_code, body)
        match = body.get("match")
        if not isinstance(match, bool):
            report(SYSTEM, LEGAL_REP, "malformed", reason="no match flag")
            raise UpstreamUnavailable(upstream=SYSTEM)
        return match

    def _raise_error(self, endpoint: str, status: int, body: dict[str, Any]) -> None:
        code = _error_code(body)
        if code == "INVALID_ID_NUMBER":
            raise InputRefused("id_number")
        if code == "INVALID_USCC":
            raise InputRefused("uscc")
        if status in (401, 403) or code in ("UNAUTHORIZED", "INVALID_REQUEST"):
            raise config_problem(SYSTEM, endpoint, f"{status}/{code}", "app key or request rejected")
        report(SYSTEM, endpoint, f"{status}/{code}")
        raise UpstreamUnavailable(upstream=SYSTEM)


def _error_code(body: dict[str, Any]) -> str:
    error = body.get("error")
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _enterprise_record(raw: object) -> EnterpriseRecord:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(field), str) for field in ("uscc", "name")):
        report(SYSTEM, ENTERPRISE, "malformed", reason="no enterprise object")
        raise UpstreamUnavailable(upstream=SYSTEM)
    legal = raw.get("legal_representative")
    legal_name = legal.get("name") if isinstance(legal, dict) else legal
    status = _ENTERPRISE_STATUS.get(str(raw.get("status", "")).upper()) or _ENTERPRISE_STATUS.get(str(raw.get("status_text", "")))
    if status is None:
        # Not linkable until someone teaches this table the new wording.
        report(SYSTEM, ENTERPRISE, "unknown_status", level=logging.WARNING, reason="enterprise status not recognised")
        status = "unknown"
    region = raw.get("region_code")
    return EnterpriseRecord(
        uscc=raw["uscc"],
        name=raw["name"],
        legal_representative=legal_name if isinstance(legal_name, str) else "",
        status=status,
        region_code=region if isinstance(region, str) and region else None,
    )
