"""Alipay open-platform gateway (``POST /gateway.do``) with RSA2 signing both ways; implements
``auth.ports.AlipayGateway`` with ``alipay.system.oauth.token`` (notes §8–10).

Requests: common params in the query string, business params in the form body, the signature over
both. Responses: the ``sign`` covers the exact text of the ``<method>_response`` (or
``error_response``) node as it appears in the body, so that text is cut out, verified with
*Alipay's* public key, and only then parsed. Nothing from an unverified body is ever used: that is
how fzlee/alipay#69 forged amounts with a duplicate key.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrations.errors import CodeInvalid, UpstreamRejected, UpstreamUnavailable
from integrations.http import UpstreamHttp, config_problem, report
from kernel.clock import CHINA_STANDARD_TIME, Clock, SystemClock

SYSTEM = "alipay"
OAUTH_TOKEN = "alipay.system.oauth.token"
SUCCESS = "10000"
ERROR_NODE = "error_response"
# Gateway-level errors: our app id, key, clock or request shape is wrong, for every user alike.
_CONFIG_CODES = {"20001", "40001", "40006"}
_CONFIG_SUB_CODES = {
    "isv.invalid-signature", "isv.invalid-app-id", "isv.invalid-charset", "isv.invalid-timestamp",
    "isv.invalid-signature-type", "isv.invalid-method", "isv.grant-type-invalid",
}


@dataclass(frozen=True)
class AlipayIdentity:
    open_id: str
    user_id: str | None

    def __repr__(self) -> str:
        return "AlipayIdentity(open_id=<hidden>, user_id=<hidden>)"


class AlipayApiError(Exception):
    """A verified business error for the caller of ``AlipayClient.call`` to map. ``sub_msg`` is
    deliberately not kept: for signature errors it echoes the signed request, codes included."""

    def __init__(self, method: str, code: str, sub_code: str) -> None:
        super().__init__(f"{method}: {code} {sub_code}")
        self.method = method
        self.code = code
        self.sub_code = sub_code


class AlipayClient:
    def __init__(
        self,
        gateway_url: str,
        app_id: str,
        app_private_key_pem: str | bytes,
        alipay_public_key_pem: str | bytes,
        session: requests.Session | None = None,
        timeout: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        self._gateway_url = gateway_url
        self._app_id = app_id
        self._private_key = load_private_key(app_private_key_pem)
        self._alipay_public_key = load_public_key(alipay_public_key_pem)
        self._http = UpstreamHttp(SYSTEM, session=session, timeout=timeout)
        self._clock = clock or SystemClock()

    def exchange_auth_code(self, auth_code: str) -> AlipayIdentity:
        if not auth_code:
            raise CodeInvalid()
        try:
            node = self.call(OAUTH_TOKEN, form={"grant_type": "authorization_code", "code": auth_code})
        except AlipayApiError as exc:
            error = exc
        else:
            return self._identity(node)
        # Mapped outside the except block: nothing upstream gets chained onto the raised error.
        if error.sub_code == "isv.code-invalid":  # unknown, used, expired or another app's code
            raise CodeInvalid()
        report(SYSTEM, OAUTH_TOKEN, f"{error.code}/{error.sub_code}")
        if error.code == "40004":
            raise UpstreamRejected(upstream=SYSTEM, upstream_code=error.sub_code)
        raise UpstreamUnavailable(upstream=SYSTEM)

    def call(self, method: str, biz_content: Mapping[str, Any] | None = None, *, form: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Call any gateway method and return its verified success node.

        ``biz_content`` is for the usual APIs (sent as the JSON ``biz_content`` param); ``form``
        holds top-level business params for the few that use them (``alipay.system.oauth.token``).
        Raises AlipayApiError for a verified business error, UpstreamUnavailable for everything
        that is not the user's doing (gateway errors, bad signatures, outages).
        """
        common = {
            "app_id": self._app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.fromtimestamp(self._clock.now(), CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
        }
        business = {key: str(value) for key, value in (form or {}).items()}
        if biz_content is not None:
            business["biz_content"] = json.dumps(biz_content, ensure_ascii=False, separators=(",", ":"))
        common["sign"] = self._sign(sign_content({**common, **business}))
        response = self._http.request(
            "POST", self._gateway_url, endpoint=method, params=common, data=business,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        if response.status_code != 200:
            raise config_problem(SYSTEM, method, f"http_{response.status_code}", "gateway answered outside the protocol")
        node_name, node = self._verified_node(method, response.content)
        code = str(node.get("code", SUCCESS))  # oauth.token's success node carries no code
        if node_name != ERROR_NODE and code == SUCCESS:
            return node
        sub_code = str(node.get("sub_code", ""))
        if code in _CONFIG_CODES or sub_code in _CONFIG_SUB_CODES:
            raise config_problem(SYSTEM, method, f"{code}/{sub_code}", "gateway rejected our request")
        if code == "20000" or sub_code.startswith(("isp.", "aop.")):
            report(SYSTEM, method, f"{code}/{sub_code}")
            raise UpstreamUnavailable(upstream=SYSTEM)
        raise AlipayApiError(method, code, sub_code)

    # --- internals ---------------------------------------------------------------------------------

    def _identity(self, node: dict[str, Any]) -> AlipayIdentity:
        open_id, user_id = node.get("open_id"), node.get("user_id")
        if not isinstance(open_id, str) or not open_id:
            # A legacy app in user_id mode: its ids are not open_ids and must not be keyed as such.
            raise config_problem(SYSTEM, OAUTH_TOKEN, "no_open_id", "app is in user_id mode; switch it to open_id in the console")
        return AlipayIdentity(open_id=open_id, user_id=user_id if isinstance(user_id, str) and user_id else None)

    def _sign(self, content: str) -> str:
        signature = self._private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def _verified_node(self, method: str, body: bytes) -> tuple[str, dict[str, Any]]:
        expected = method.replace(".", "_") + "_response"
        try:
            text = body.decode("utf-8")
            members = top_level_members(text)
        except ValueError:  # the exception holds the body: it must not ride along as __context__
            text, members = "", None
        if members is None:
            report(SYSTEM, method, "malformed", reason="body is not a JSON object")
            raise UpstreamUnavailable(upstream=SYSTEM)
        names = [name for name in (expected, ERROR_NODE) if name in members]
        signature = members.get("sign")
        if len(names) != 1 or signature is None:
            raise config_problem(SYSTEM, method, "unsigned", "no single signed response node")
        start, end = members[names[0]]
        raw_node = text[start:end]
        sign_start, sign_end = signature
        if not self._signature_valid(raw_node.encode("utf-8"), json.loads(text[sign_start:sign_end])):
            raise config_problem(SYSTEM, method, "bad_signature", "response signature invalid: wrong Alipay public key or tampering")
        node = json.loads(raw_node)  # the verified bytes, and only those
        if not isinstance(node, dict):
            raise config_problem(SYSTEM, method, "malformed", "response node is not an object")
        return names[0], node

    def _signature_valid(self, content: bytes, signature_b64: object) -> bool:
        if not isinstance(signature_b64, str):
            return False
        try:
            # SHA-256 pinned here: never take the hash algorithm from the signature itself.
            self._alipay_public_key.verify(base64.b64decode(signature_b64, validate=True), content, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def sign_content(params: Mapping[str, str]) -> str:
    """Alipay's string to sign: every param but ``sign`` (``sign_type`` included), empty values
    dropped, keys in ASCII order, raw ``k=v`` joined with ``&``."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] != "")


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def top_level_members(text: str) -> dict[str, tuple[int, int]]:
    """Where each top-level member's value sits in ``text``: name -> (start, end). Raises
    ValueError for anything but one JSON object with unique names (a duplicate could smuggle a
    second, unsigned node past a verifier that checks one copy and reads the other)."""

    def skip(position: int) -> int:
        return _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]

    position = skip(0)
    if text[position : position + 1] != "{":
        raise ValueError("not an object")
    position = skip(position + 1)
    members: dict[str, tuple[int, int]] = {}
    if text[position : position + 1] == "}":
        return members
    while True:
        name, position = _DECODER.raw_decode(text, position)
        position = skip(position)
        if not isinstance(name, str) or text[position : position + 1] != ":":
            raise ValueError("bad member name")
        start = skip(position + 1)
        _, end = _DECODER.raw_decode(text, start)
        if name in members:
            raise ValueError("duplicate member")
        members[name] = (start, end)
        position = skip(end)
        separator = text[position : position + 1]
        if separator == "}":
            break
        if separator != ",":
            raise ValueError("bad separator")
        position = skip(position + 1)
    if skip(position + 1) != len(text):
        raise ValueError("trailing data")
    return members


def load_private_key(material: str | bytes) -> rsa.RSAPrivateKey:
    """PEM (PKCS#8 or PKCS#1), or the bare base64 the Alipay key tool shows."""
    data = material.encode("ascii") if isinstance(material, str) else material
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(base64.b64decode(b"".join(data.split())), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Alipay app private key must be an RSA key")
    return key


def load_public_key(material: str | bytes) -> rsa.RSAPublicKey:
    """PEM, or the bare base64 the Alipay console shows as 支付宝公钥."""
    data = material.encode("ascii") if isinstance(material, str) else material
    if b"-----BEGIN" in data:
        key = serialization.load_pem_public_key(data)
    else:
        key = serialization.load_der_public_key(base64.b64decode(b"".join(data.split())))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the Alipay public key must be an RSA key")
    return key
