"""WeChat mini-program server API: login (``jscode2session``) and the phone-number button
(``getuserphonenumber``). Implements ``auth.ports.WeChatGateway``.

Every WeChat error comes with HTTP 200 and an ``errcode``; a successful ``jscode2session`` has no
``errcode`` at all, so a missing one counts as 0.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from integrations.errors import CodeInvalid, CodeUsed, RateLimited, UpstreamRejected, UpstreamUnavailable
from integrations.http import UpstreamHttp, config_problem, report
from integrations.wechat_token import WeChatAccessTokenHolder

SYSTEM = "wechat"
JSCODE2SESSION = "wechat.jscode2session"
GET_PHONE_NUMBER = "wechat.getuserphonenumber"

# 40029 covers unknown, expired and other-app codes alike: WeChat does not tell them apart.
ERR_CODE_INVALID = 40029
ERR_CODE_USED = 40163
ERR_RATE_LIMITED = 45011  # "retry next minute"
ERR_RISKY_USER = 40226
# The access token is stale (40001 superseded/unknown, 42001 expired, 40014 malformed).
TOKEN_ERRCODES = {40001, 40014, 42001}
# Our appid/secret/request is wrong: nothing the user can do, someone must fix the config.
CONFIG_ERRCODES = {40002, 40013, 40125, 41001, 41002, 41004, 41008, 47001}
MAINLAND = "86"


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    # Kept by nobody: auth/ neither stores nor returns it (it never leaves the server).
    session_key: str

    def __repr__(self) -> str:  # the default repr would print the session key into tracebacks
        return "WeChatSession(openid=<hidden>, unionid=<hidden>, session_key=<hidden>)"


class WeChatClient:
    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        token_holder: WeChatAccessTokenHolder,
        session: requests.Session | None = None,
        timeout: float = 3.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._appid = appid
        self._secret = secret
        self._tokens = token_holder
        self._http = UpstreamHttp(SYSTEM, session=session, timeout=timeout)

    def code_to_session(self, code: str) -> WeChatSession:
        if not code:
            raise CodeInvalid()  # WeChat would answer 41008; no need to ask
        params = {"appid": self._appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"}
        response = self._http.request("GET", f"{self._base_url}/sns/jscode2session", endpoint=JSCODE2SESSION, params=params)
        reply = self._http.json_object(response, JSCODE2SESSION)
        self._raise_for_errcode(reply, JSCODE2SESSION)
        openid, session_key, unionid = reply.get("openid"), reply.get("session_key"), reply.get("unionid")
        if not _nonempty(openid) or not _nonempty(session_key):
            report(SYSTEM, JSCODE2SESSION, "malformed", reason="no openid/session_key")
            raise UpstreamUnavailable(upstream=SYSTEM)
        return WeChatSession(openid=openid, unionid=unionid if _nonempty(unionid) else None, session_key=session_key)

    def phone_number(self, code: str) -> str:
        """The mainland number without country code. A number from elsewhere comes back as
        ``+<cc><number>`` so it can never pass for a mainland one."""
        if not code:
            raise CodeInvalid()
        reply = self._call_with_token(GET_PHONE_NUMBER, "/wxa/business/getuserphonenumber", {"code": code})
        info = reply.get("phone_info")
        if not isinstance(info, dict) or not _nonempty(info.get("purePhoneNumber")):
            report(SYSTEM, GET_PHONE_NUMBER, "malformed", reason="no phone_info")
            raise UpstreamUnavailable(upstream=SYSTEM)
        watermark = info.get("watermark")
        if isinstance(watermark, dict) and watermark.get("appid") not in (None, self._appid):
            report(SYSTEM, GET_PHONE_NUMBER, "watermark", level=logging.ERROR, reason="phone_info issued for another appid")
            raise UpstreamUnavailable(upstream=SYSTEM)
        # The doc types countryCode as a string, its example shows the number 86.
        if str(info.get("countryCode", MAINLAND)) == MAINLAND:
            return info["purePhoneNumber"]
        return str(info.get("phoneNumber") or f"+{info.get('countryCode')}{info['purePhoneNumber']}")

    # --- internals ---------------------------------------------------------------------------------

    def _call_with_token(self, endpoint: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the shared access token; on a stale token, one passive refresh and one retry.
        A retry is safe: WeChat checks the token before it looks at (and burns) the code."""
        token = self._tokens.get()
        reply = self._post_with_token(endpoint, path, token, body)
        if reply.get("errcode") in TOKEN_ERRCODES:
            report(SYSTEM, endpoint, reply["errcode"], level=logging.INFO, reason="stale access token, refreshing")
            token = self._tokens.invalidate(token)
            reply = self._post_with_token(endpoint, path, token, body)
            if reply.get("errcode") in TOKEN_ERRCODES:
                report(SYSTEM, endpoint, reply["errcode"], level=logging.ERROR, reason="fresh access token refused too")
                raise UpstreamUnavailable(upstream=SYSTEM)
        self._raise_for_errcode(reply, endpoint)
        return reply

    def _post_with_token(self, endpoint: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.request("POST", self._base_url + path, endpoint=endpoint, params={"access_token": token}, json=body)
        return self._http.json_object(response, endpoint)

    def _raise_for_errcode(self, reply: dict[str, Any], endpoint: str) -> None:
        errcode = reply.get("errcode") or 0
        if errcode == 0:
            return
        if errcode == ERR_CODE_INVALID:
            raise CodeInvalid()
        if errcode == ERR_CODE_USED:
            raise CodeUsed()
        if errcode == ERR_RATE_LIMITED:
            report(SYSTEM, endpoint, errcode, level=logging.INFO)
            raise RateLimited(retry_after=60)
        if errcode == ERR_RISKY_USER:
            report(SYSTEM, endpoint, errcode, level=logging.INFO, reason="risky user blocked by WeChat")
            raise UpstreamRejected(upstream=SYSTEM, upstream_code=str(errcode))
        if errcode in CONFIG_ERRCODES:
            raise config_problem(SYSTEM, endpoint, errcode, "appid/secret or request rejected")
        report(SYSTEM, endpoint, errcode)  # -1 system busy, or something new
        raise UpstreamUnavailable(upstream=SYSTEM)


def _nonempty(value: object) -> bool:
    return isinstance(value, str) and bool(value)
