"""WeChat's message-push URL (消息推送): the URL check and the events WeChat pushes.

Configured in the mini-program console with our Token (``MSB_PUSH_WECHAT_TOKEN``), plain or safe
mode (``MSB_PUSH_WECHAT_AES_KEY``), JSON or XML. Every call is signed
(``sha1(sorted([Token, timestamp, nonce]))``), must be fresh (5 min) and is accepted once; anything
else is 401 ``event_signature_invalid`` in the error envelope. Effects:
``subscribe_msg_popup_event`` grants / rejects per template, ``subscribe_msg_change_event`` zeroes the
template's quota, ``subscribe_msg_sent_event`` updates delivery counts. WeChat expects the plain-text
answer ``success``.
"""
from __future__ import annotations

import re

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from bff.caching.headers import NO_STORE
from bff.errors import ApiError
from bff.extensions import ErrorEnvelopeSchema
from bff.push import schemas
from bff.extensions import services
from push.errors import EventMalformed, EventSignatureInvalid
from push.wechat_events import MAX_BODY

blp = Blueprint("push_channels", __name__, url_prefix="/v1/channels",
                description="Callbacks of the message platforms (WeChat message push)")

_ERRORS = (
    (400, "`event_malformed`: not a JSON or XML event, or safe-mode decryption failed; "
          "`invalid_json`: sent as `application/json` but not JSON (refused before the signature check)"),
    (401, "`event_signature_invalid`: bad or missing signature, stale timestamp, or a replay"),
)


def _documented(view):
    for status, description in _ERRORS:
        view = blp.alt_response(status, schema=ErrorEnvelopeSchema, description=description)(view)
    return view


_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]{1,12}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,64}")


def _query() -> dict[str, str]:
    """The query as WeChat sent it. Values WeChat never sends (non-hex signatures, non-numeric
    timestamps, non-ASCII nonces) are refused here as a failed signature check (401), before any
    comparison: ``hmac.compare_digest`` refuses non-ASCII strings."""
    query = request.args.to_dict()
    for name, pattern in (("signature", _HEX40), ("msg_signature", _HEX40), ("timestamp", _DIGITS), ("nonce", _PRINTABLE)):
        value = query.get(name)
        if value is not None and not pattern.fullmatch(value):
            raise EventSignatureInvalid("timestamp" if name == "timestamp" else "signature")
    return query


def _text(body: str) -> Response:
    response = Response(body, status=200, mimetype="text/plain")
    response.headers.update(NO_STORE)
    return response


@blp.route("/wechat/events")
class WeChatEvents(MethodView):
    @_documented
    @blp.arguments(schemas.WeChatQuerySchema, location="query")
    @blp.response(200, content_type="text/plain", description="`echostr`, as plain text")
    def get(self, args):
        """WeChat's URL check when the push URL is saved: answers `echostr` if the signature is ours."""
        return _text(services().push.wechat_verify_url(_query()))

    @_documented
    @blp.alt_response(413, schema=ErrorEnvelopeSchema, description="Body larger than 64 KB")
    @blp.arguments(schemas.WeChatQuerySchema, location="query")
    @blp.response(200, content_type="text/plain", description="`success`, as plain text")
    def post(self, args):
        """An event pushed by WeChat (JSON or XML body, plain or safe mode)."""
        query = _query()
        # bff.request_body already read the body under the app-wide limit (413 beyond it).
        body = request.get_data(cache=True)
        if len(body) > MAX_BODY:
            raise ApiError(413, "payload_too_large", "消息过大")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise EventMalformed() from None
        services().push.wechat_event(query, text)
        return _text("success")
