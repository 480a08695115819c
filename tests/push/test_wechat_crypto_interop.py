"""WeChat safe mode (消息加解密) checked against an independent implementation: wechatpy's
``WeChatCrypto`` (tests only, as jwcrypto is for tokens), in both directions, over real HTTP.

* wechatpy encrypts and signs (XML and JSON bodies) → our endpoint under gunicorn accepts and applies;
* the sandbox (safe mode on) and ``push.wechat_events.encrypt_message`` encrypt → wechatpy decrypts;
  with the same 16 random bytes both produce the same ciphertext byte for byte;
* a forged signature or msg_signature, a replayed nonce, a stale timestamp, another app's
  ciphertext and a tampered ciphertext are refused in the envelope.
"""
from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest
import requests
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from push.wechat_events import encrypt_message, signature
from tests.http_stack import api_server, sandbox_server

TOKEN = "msb_sandbox_push_token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"  # 43 characters, as the WeChat console shows it
APPID = "wx_sandbox_app"
REMINDER = "wx_tpl_service_reminder"  # one-time
POLICY = "wx_tpl_policy_notice"  # long-term
PROGRESS = "wx_tpl_progress"  # one-time


@pytest.fixture(scope="module")
def stack(redis_server, postgres_server, catalog_index_dir, dev_secret_dir, tmp_path_factory):
    if not redis_server.running:
        redis_server.start()
    data_dir = tmp_path_factory.mktemp("wxcrypto")
    with sandbox_server(data_dir, secret_dir=dev_secret_dir, env={"MSB_SANDBOX_WECHAT_PUSH_AES_KEY": AES_KEY}) as sandbox:
        with api_server(data_dir, redis_url=redis_server.url, database_url=postgres_server.url, index_dir=catalog_index_dir, secret_dir=dev_secret_dir,
                        sandbox_url=sandbox, env={"MSB_PUSH_WECHAT_AES_KEY": AES_KEY}) as api:
            yield api, sandbox


@pytest.fixture(scope="module")
def citizen(stack):
    """A WeChat citizen signed in through the API, so its openid belongs to an account."""
    api, sandbox = stack
    user = requests.post(f"{sandbox}/_drive/wechat/users", json={}, timeout=5).json()
    code = requests.post(f"{sandbox}/_drive/wechat/login-code", json={"user_id": user["user_id"]}, timeout=5).json()["code"]
    login = requests.post(f"{api}/v1/auth/wechat/login", json={"code": code}, timeout=10)
    assert login.status_code == 200, login.text
    return {"openid": next(iter(user["openids"].values())), "token": login.json()["access_token"]}


def subscriptions(api: str, token: str) -> dict[str, dict]:
    response = requests.get(f"{api}/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 200, response.text
    return {item["template_id"]: item for item in response.json()["items"]}


def popup_event(openid: str, template_id: str, status: str = "accept") -> dict:
    return {"ToUserName": "gh_sandbox", "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "event",
            "Event": "subscribe_msg_popup_event", "List": {"TemplateId": template_id, "SubscribeStatusString": status}}


def popup_xml(openid: str, template_id: str) -> str:
    return ("<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>"
            f"<List><TemplateId><![CDATA[{template_id}]]></TemplateId>"
            "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString></List></xml>")


def wechatpy_envelope(plain: str, nonce: str, timestamp: str | None = None, *, appid: str = APPID,
                      aes_key: str = AES_KEY) -> dict[str, str]:
    """What WeChat sends, made by wechatpy: Encrypt, MsgSignature, TimeStamp, Nonce."""
    timestamp = timestamp or str(int(time.time()))
    root = ET.fromstring(WeChatCrypto(TOKEN, aes_key, appid).encrypt_message(plain, nonce, timestamp))
    return {child.tag: child.text or "" for child in root}


def post_event(api: str, envelope: dict[str, str], *, as_json: bool, signature_override: str | None = None,
               msg_signature: str | None = None) -> requests.Response:
    timestamp, nonce = envelope["TimeStamp"], envelope["Nonce"]
    query = {"signature": signature_override or signature(TOKEN, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, "encrypt_type": "aes", "msg_signature": msg_signature or envelope["MsgSignature"]}
    if as_json:
        body, content_type = json.dumps({"ToUserName": "gh_sandbox", "Encrypt": envelope["Encrypt"]}), "application/json"
    else:
        body = f"<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        content_type = "text/xml"
    return requests.post(f"{api}/v1/channels/wechat/events", params=query, data=body.encode(),
                         headers={"Content-Type": content_type}, timeout=10)


def refused(response: requests.Response, status: int, reason: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "status", "message", "error", "errors"}
    if reason is not None:
        assert body["error"] == "event_signature_invalid" and body["errors"]["reason"] == reason, body


# --- wechatpy encrypts, we accept ------------------------------------------------------------------------


def test_wechatpy_encrypted_xml_event_is_accepted_and_applied(stack, citizen):
    api, _ = stack
    envelope = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="xml-accept-1")
    response = post_event(api, envelope, as_json=False)
    assert response.status_code == 200 and response.text == "success"
    assert subscriptions(api, citizen["token"])[POLICY]["active"] is True


def test_wechatpy_encrypted_json_event_is_accepted_and_applied(stack, citizen):
    api, _ = stack
    envelope = wechatpy_envelope(json.dumps(popup_event(citizen["openid"], PROGRESS), ensure_ascii=False), nonce="json-accept-1")
    response = post_event(api, envelope, as_json=True)
    assert response.status_code == 200 and response.text == "success"
    assert subscriptions(api, citizen["token"])[PROGRESS]["remaining"] >= 1


# --- we (and the sandbox) encrypt, wechatpy decrypts ------------------------------------------------------


def test_our_ciphertext_decrypts_with_wechatpy_and_matches_byte_for_byte():
    plain = json.dumps({"Event": "subscribe_msg_sent_event", "List": {"MsgID": "1", "ErrorCode": 0}, "名": "巴特尔"},
                       ensure_ascii=False)
    random = b"0123456789abcdef"
    ours = encrypt_message(AES_KEY, APPID, plain, random=random)
    timestamp, nonce = str(int(time.time())), "ours-1"
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    assert crypto.decrypt_message({"Encrypt": ours}, signature(TOKEN, timestamp, nonce, ours), timestamp, nonce) == plain
    prp = PrpCrypto(crypto.key)
    prp.get_random_string = lambda: random.decode()
    assert prp.encrypt(plain, APPID).decode() == ours


def test_sandbox_safe_mode_events_decrypt_with_wechatpy_and_are_accepted(stack, citizen):
    api, sandbox = stack
    requests.post(f"{sandbox}/_drive/wechat/subscriptions", json={"openid": citizen["openid"], "template_id": REMINDER,
                                                                 "count": 2, "action": "accept"}, timeout=5).raise_for_status()
    events = requests.get(f"{sandbox}/_drive/wechat/push-events", timeout=5).json()
    events = events["events"] if isinstance(events, dict) else events
    event = [e for e in events if e["event"] == "subscribe_msg_popup_event"][-1]
    query, body = event["query"], json.loads(event["body"])
    assert query["encrypt_type"] == "aes" and set(body) == {"ToUserName", "Encrypt"}  # nothing else in clear
    plain = WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
    decrypted = json.loads(plain)
    assert decrypted["FromUserName"] == citizen["openid"] and decrypted["Event"] == "subscribe_msg_popup_event"
    answer = requests.post(f"{api}/v1/channels/wechat/events", params=query, data=event["body"].encode(),
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 200 and answer.text == "success"
    assert subscriptions(api, citizen["token"])[REMINDER]["remaining"] >= 1


# --- refused ----------------------------------------------------------------------------------------------


def test_forged_signatures_are_refused(stack, citizen):
    api, _ = stack
    envelope = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="forged-1")
    refused(post_event(api, envelope, as_json=False, signature_override="0" * 40), 401, "signature")
    # a valid outer signature does not cover the ciphertext: msg_signature must match it
    refused(post_event(api, envelope, as_json=False, msg_signature="f" * 40), 401, "msg_signature")
    # signed with someone else's Token
    other = WeChatCrypto("not_our_token", AES_KEY, APPID).encrypt_message(popup_xml(citizen["openid"], POLICY), "forged-2")
    other_env = {child.tag: child.text or "" for child in ET.fromstring(other)}
    refused(post_event(api, other_env, as_json=False), 401, "msg_signature")


def test_replayed_nonce_is_refused(stack, citizen):
    api, _ = stack
    envelope = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="replay-1")
    assert post_event(api, envelope, as_json=False).status_code == 200
    refused(post_event(api, envelope, as_json=False), 401, "replayed")
    refused(post_event(api, envelope, as_json=True), 401, "replayed")


@pytest.mark.parametrize("age", [3600, -3600])
def test_stale_or_future_timestamp_is_refused(stack, citizen, age):
    api, _ = stack
    envelope = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce=f"stale-{age}", timestamp=str(int(time.time()) - age))
    refused(post_event(api, envelope, as_json=False), 401, "timestamp")


def test_another_apps_ciphertext_and_tampering_are_refused(stack, citizen):
    api, _ = stack
    foreign = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="foreign-1", appid="wx_someone_else")
    refused(post_event(api, foreign, as_json=False), 401, "appid_mismatch")
    wrong_key = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="wrongkey-1", aes_key="A" * 43)
    response = post_event(api, wrong_key, as_json=False)
    assert response.status_code in (400, 401) and response.json()["error"] in ("event_malformed", "event_signature_invalid")
    envelope = wechatpy_envelope(popup_xml(citizen["openid"], POLICY), nonce="tamper-1")
    tampered = envelope["Encrypt"][:-8] + ("A" if envelope["Encrypt"][-8] != "A" else "B") + envelope["Encrypt"][-7:]
    timestamp, nonce = envelope["TimeStamp"], envelope["Nonce"]
    forged = {**envelope, "Encrypt": tampered, "MsgSignature": signature(TOKEN, timestamp, nonce, tampered)}
    response = post_event(api, forged, as_json=False)
    assert response.status_code in (400, 401) and response.status_code < 500
