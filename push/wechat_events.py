"""Events WeChat pushes to our message-push URL (notes §7): verify, then apply.

**Verification.** ``signature = sha1(sorted([Token, timestamp, nonce]) joined)`` compared in constant
time; the timestamp must be within ``event_window_seconds`` of our clock and a (timestamp, nonce,
signature) triple is accepted once (``SET NX`` for the window), so a captured request cannot be
replayed. The URL check (GET with ``echostr``) uses the same signature. In safe mode
(``encrypt_type=aes``) the body carries ``Encrypt``; ``msg_signature = sha1(sorted([Token,
timestamp, nonce, Encrypt]))`` is checked too and the payload is AES-256-CBC decrypted with the
EncodingAESKey (key = base64(EncodingAESKey + "="), IV = its first 16 bytes, PKCS#7 to 32 bytes,
plaintext = 16 random bytes + 4-byte length + message + appid, the appid checked). The notes hold
no known-answer vector for this mode: it is tested round-trip only. JSON and XML bodies are both
accepted; in JSON ``List`` is an object for one item and an array for several.

**Effects.**

- ``subscribe_msg_popup_event``: ``accept`` grants through the ledger (matched against a client
  report of the same tap); ``reject`` zeroes a long-term template (one-time accepts from earlier
  popups stay, as upstream).
- ``subscribe_msg_change_event`` (only cancellations are pushed): zero the ledger.

  Both are recorded in PostgreSQL first (``push.consent``), keyed by the request's identity, so an event
  WeChat delivers again after our error (its nonce marker is released then) changes the ledger once.
- ``subscribe_msg_sent_event``: ``MsgID`` → the campaign (kept 7 days at send time); ErrorCode 0 →
  ``delivered``, anything else → ``delivery_failed``. An event whose MsgID we never learnt (the
  worker died with the request on the wire) goes to ``push.reconcile``, which finds the send in doubt
  by recipient and template and turns its ``unknown`` into ``sent``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import redis
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kernel.clock import Clock, SystemClock
from push import keys
from push.consent import ConsentLedger
from push.directory import Directory
from push.errors import EventMalformed, EventSignatureInvalid
from push.profiles import CitizenIndex
from push.reconcile import DoubtReconciler
from push.stats import Stats
from push.templates import TemplateRegistry

POPUP, CHANGE, SENT = "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event"
MAX_BODY = 64 * 1024


def signature(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


# --- safe mode (消息加解密) ----------------------------------------------------------------------------


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def encrypt_message(encoding_aes_key: str, appid: str, message: str, random: bytes | None = None) -> str:
    key = _aes_key(encoding_aes_key)
    text = message.encode("utf-8")
    plain = (random or os.urandom(16)) + struct.pack(">I", len(text)) + text + appid.encode("utf-8")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt_message(encoding_aes_key: str, appid: str, encrypted: str) -> str:
    key = _aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise ValueError("bad padding")
        plain = plain[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        message, from_appid = plain[20:20 + length], plain[20 + length:]
    except (ValueError, struct.error, IndexError):
        raise EventMalformed("消息解密失败") from None
    if from_appid.decode("utf-8", "replace") != appid:
        raise EventSignatureInvalid("appid_mismatch")
    return message.decode("utf-8")


# --- parsing -------------------------------------------------------------------------------------------


def parse_body(body: bytes | str) -> dict[str, Any]:
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    if len(raw) > MAX_BODY:
        raise EventMalformed("消息过大")
    text = raw.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nesting ~1000 deep (the C parser recurses)
            raise EventMalformed() from None
        if not isinstance(parsed, dict):
            raise EventMalformed()
        return parsed
    if text.startswith("<"):
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            raise EventMalformed("不接受 DTD")
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            raise EventMalformed() from None
        result: dict[str, Any] = {}
        items = []
        for child in root:
            if child.tag == "List":
                items.append({item.tag: (item.text or "") for item in child})
            else:
                result[child.tag] = child.text or ""
        if items:
            result["List"] = items
        return result
    raise EventMalformed()


def list_items(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = event.get("List")
    if isinstance(items, dict):
        return [items]
    if isinstance(items, list):
        return [item for item in items if isinstance(item, dict)]
    return []


class WeChatEvents:
    def __init__(self, redis_client: redis.Redis, *, token: str, appid: str, aes_key: str, window_seconds: int,
                 directory: Directory, consent: ConsentLedger, index: CitizenIndex, templates: TemplateRegistry,
                 stats: Stats, clock: Clock | None = None, doubts: DoubtReconciler | None = None) -> None:
        self._redis = redis_client
        self._token = token
        self._appid = appid
        self._aes_key = aes_key
        self._window = window_seconds
        self._directory = directory
        self._consent = consent
        self._index = index
        self._templates = templates
        self._stats = stats
        self._clock = clock or SystemClock()
        self._doubts = doubts

    # --- verification --------------------------------------------------------------------------------

    def _check(self, query: Mapping[str, str], *, replay: bool = True) -> str:
        """Verify; returns the request's identity (a digest of its timestamp, nonce and signature)."""
        given, timestamp, nonce = query.get("signature"), query.get("timestamp"), query.get("nonce")
        if not (isinstance(given, str) and isinstance(timestamp, str) and isinstance(nonce, str)):
            raise EventSignatureInvalid("missing")
        if not hmac.compare_digest(signature(self._token, timestamp, nonce), given.lower()):
            raise EventSignatureInvalid("signature")
        try:
            age = abs(self._clock.now() - int(timestamp))
        except ValueError:
            raise EventSignatureInvalid("timestamp") from None
        if age > self._window:
            raise EventSignatureInvalid("timestamp")
        marker = hashlib.sha256(f"{timestamp}|{nonce}|{given}".encode()).hexdigest()[:32]
        if replay and not self._redis.set(keys.wechat_nonce(marker), "1", nx=True, ex=keys.WECHAT_NONCE_TTL):
            raise EventSignatureInvalid("replayed")
        return marker

    def verify_url(self, query: Mapping[str, str]) -> str:
        """WeChat's URL check: echo ``echostr`` when the signature is ours."""
        self._check(query, replay=False)
        return str(query.get("echostr", ""))

    # --- intake -----------------------------------------------------------------------------------------

    def handle(self, query: Mapping[str, str], body: bytes | str) -> dict[str, int]:
        marker = self._check(query)
        event = parse_body(body)
        if "Encrypt" in event:
            if not self._aes_key:
                raise EventMalformed("未配置消息加解密密钥")
            msg_signature = query.get("msg_signature")
            expected = signature(self._token, query["timestamp"], query["nonce"], str(event["Encrypt"]))
            if not isinstance(msg_signature, str) or not hmac.compare_digest(expected, msg_signature.lower()):
                raise EventSignatureInvalid("msg_signature")
            event = parse_body(decrypt_message(self._aes_key, self._appid, str(event["Encrypt"])))
        try:
            return self.apply(event, event_ref=marker)
        except Exception:
            # Not (fully) applied: WeChat retries the same request after an error, and the retry must not
            # be refused as a replay. What did get recorded is not applied twice: the ledger's history keeps
            # each event_ref once per template.
            self._redis.delete(keys.wechat_nonce(marker))
            raise

    def apply(self, event: Mapping[str, Any], *, event_ref: str | None = None) -> dict[str, int]:
        kind = event.get("Event")
        handled = ignored = 0
        items = list_items(event)
        if kind == SENT:
            recipient = event.get("FromUserName")
            for item in items:
                if self._delivery(item, recipient if isinstance(recipient, str) else ""):
                    handled += 1
                else:
                    ignored += 1
            return {"handled": handled, "ignored": ignored}
        if kind not in (POPUP, CHANGE):
            return {"handled": 0, "ignored": max(1, len(items))}
        openid = event.get("FromUserName")
        account = self._directory.account_for("wechat_openid", openid) if isinstance(openid, str) and openid else None
        if account is None:
            return {"handled": 0, "ignored": len(items)}
        idx = self._index.ensure(account)
        for item in items:
            template_id = item.get("TemplateId")
            status = item.get("SubscribeStatusString")
            if not isinstance(template_id, str) or self._templates.find("wechat", template_id) is None:
                ignored += 1
                continue
            if kind == CHANGE:
                self._consent.zero(idx, account, "wechat", template_id, action="revoke", event_ref=event_ref)
            elif status in ("accept", "reject"):
                self._consent.apply(idx, account, "wechat", template_id, status, source="event", event_ref=event_ref)
            else:
                ignored += 1
                continue
            handled += 1
        return {"handled": handled, "ignored": ignored}

    def _delivery(self, item: Mapping[str, Any], openid: str) -> bool:
        msgid = str(item.get("MsgID", ""))
        if not msgid.isdigit():
            return False
        try:
            code = int(item.get("ErrorCode", 0) or 0)
        except (TypeError, ValueError):
            code = -1
        owner = self._redis.get(keys.wechat_msgid(msgid))
        if owner is None:
            # not a msgid we recorded: perhaps a send whose worker died on the wire (push.reconcile)
            template_id = item.get("TemplateId")
            if self._doubts is None or not openid or not isinstance(template_id, str) or not template_id:
                return False
            return self._doubts.sent_event(openid, template_id, code)
        campaign_id, _, idx = owner.partition("|")
        if self._redis.delete(keys.wechat_msgid(msgid)) == 0:
            return False  # a duplicate event for the same msgid counts once
        metric = "delivered" if code == 0 else "delivery_failed"
        # A worker killed between recording the msgid and settling the send left it `unknown`: the event
        # proves it left, so it becomes sent (and is counted) once.
        if self._doubts is not None and idx.isdigit() and self._doubts.confirm(campaign_id, int(idx), metric):
            return True
        self._stats.bump(campaign_id, metric, 1, self._clock.now(), channel="wechat")
        return True
