"""The push stand-ins: WeChat subscribeMessage.send + pushed events, Alipay templatemessage.send on
the RSA2 gateway, the APP push gateway, and their drive endpoints (Flask test client, fake clock)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask.testing import FlaskClient

RID_SUFFIX = re.compile(r" rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$")
POLICY = "wx_tpl_policy_notice"  # long-term
REMINDER = "wx_tpl_service_reminder"  # one-time: thing1, phrase2, time3, thing4
GOOD_REMINDER = {"thing1": {"value": "养老金资格认证"}, "phrase2": {"value": "待办理"},
                 "time3": {"value": "2026年1月5日 10:00"}, "thing4": {"value": "请在月底前完成认证"}}


def token(client: FlaskClient, known: SimpleNamespace) -> str:
    body = {"grant_type": "client_credential", "appid": known.wechat_appid, "secret": known.wechat_secret}
    return client.post("/cgi-bin/stable_token", json=body).json["access_token"]


def wechat_user(client: FlaskClient) -> dict[str, Any]:
    return client.post("/_drive/wechat/users", json={}).json


def send(client: FlaskClient, access_token: str, openid: str, template_id: str = REMINDER,
         data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"touser": openid, "template_id": template_id, "data": GOOD_REMINDER if data is None else data, **extra}
    response = client.post(f"/cgi-bin/message/subscribe/send?access_token={access_token}", json=body)
    assert response.status_code == 200  # WeChat errors come with HTTP 200
    return response.json


def subscribe(client: FlaskClient, user: dict[str, Any], template_id: str = REMINDER, **fields: Any) -> dict[str, Any]:
    response = client.post("/_drive/wechat/subscriptions", json={"user_id": user["user_id"], "template_id": template_id, **fields})
    assert response.status_code == 201, response.json
    return response.json


def screen(client: FlaskClient, user: dict[str, Any]) -> list[dict[str, Any]]:
    return client.get("/_drive/wechat/messages", query_string={"user_id": user["user_id"]}).json["messages"]


def errcode(body: dict[str, Any], expected: int) -> None:
    assert body["errcode"] == expected, body
    assert RID_SUFFIX.search(body["errmsg"]), body["errmsg"]


# ---- WeChat subscribeMessage.send ----


def test_one_time_accept_allows_exactly_one_send(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    errcode(send(client, access, openid), 43101)  # nothing accepted yet
    subscribe(client, user, count=2)
    first, second = send(client, access, openid), send(client, access, openid)
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and isinstance(first["msgid"], int)
    assert second["errcode"] == 0 and second["msgid"] != first["msgid"]
    errcode(send(client, access, openid), 43101)
    received = screen(client, user)
    assert [m["msgid"] for m in received] == [str(first["msgid"]), str(second["msgid"])]
    assert received[0]["data"]["thing1"] == "养老金资格认证"


def test_long_term_subscription_until_cancelled(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    subscribe(client, user, POLICY)
    data = {"thing1": {"value": "医保缴费提醒"}, "thing2": {"value": "2026年城乡居民医保开始缴费"}, "time3": {"value": "2026-01-05 09:00"}}
    assert all(send(client, access, openid, POLICY, data)["errcode"] == 0 for _ in range(3))
    client.post("/_drive/wechat/subscriptions/cancel", json={"user_id": user["user_id"], "template_id": POLICY})
    errcode(send(client, access, openid, POLICY, data), 43101)


def test_data_value_rules_name_the_field(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    subscribe(client, user, count=5)
    too_long = {**GOOD_REMINDER, "thing1": {"value": "一" * 21}}
    body = send(client, access, openid, data=too_long)
    errcode(body, 47003)
    assert "data.thing1.value" in body["errmsg"]
    not_a_phrase = {**GOOD_REMINDER, "phrase2": {"value": "pending"}}
    assert "data.phrase2.value" in send(client, access, openid, data=not_a_phrase)["errmsg"]
    bad_time = {**GOOD_REMINDER, "time3": {"value": "明天上午"}}
    assert "data.time3.value" in send(client, access, openid, data=bad_time)["errmsg"]
    missing = {k: v for k, v in GOOD_REMINDER.items() if k != "thing4"}
    assert "data.thing4.value" in send(client, access, openid, data=missing)["errmsg"]
    assert send(client, access, openid)["errcode"] == 0  # the rejected sends consumed nothing
    assert len(screen(client, user)) == 1


def test_token_openid_and_template_errors(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    subscribe(client, user)
    response = client.post("/cgi-bin/message/subscribe/send", json={"touser": openid})
    errcode(response.json, 41001)
    errcode(send(client, "not-a-token", openid), 40001)
    errcode(send(client, access, "o_nobody"), 40003)
    errcode(send(client, access, openid, template_id="tpl_unknown"), 40037)
    raw = client.post(f"/cgi-bin/message/subscribe/send?access_token={access}", data="not json")
    errcode(raw.json, 47001)


def test_faults_and_counters(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    subscribe(client, user)
    client.post("/_drive/faults", json={"endpoint": "wechat.subscribe_send", "times": 2, "error": {"errcode": 45009}})
    errcode(send(client, access, openid), 45009)
    errcode(send(client, access, openid), 45009)
    assert send(client, access, openid)["errcode"] == 0  # faults consumed no quota
    assert client.get("/_drive/counters").json["counters"]["wechat.subscribe_send"] == 3


def test_pushed_events_are_signed_with_the_token(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    openid = user["openids"][known.wechat_appid]
    access = token(client, known)
    subscribe(client, user)
    msgid = send(client, access, openid)["msgid"]
    client.post("/_drive/wechat/subscriptions/cancel", json={"user_id": user["user_id"], "template_id": REMINDER})
    events = client.get("/_drive/wechat/push-events").json["events"]
    assert [e["event"] for e in events] == ["subscribe_msg_popup_event", "subscribe_msg_sent_event", "subscribe_msg_change_event"]
    for event in events:
        query = event["query"]
        expected = hashlib.sha1("".join(sorted(["msb_sandbox_push_token", query["timestamp"], query["nonce"]])).encode()).hexdigest()
        assert query["signature"] == expected
    sent = json.loads(events[1]["body"])
    assert sent["FromUserName"] == openid and sent["MsgType"] == "event"
    assert sent["List"] == {"TemplateId": REMINDER, "MsgID": str(msgid), "ErrorCode": 0, "ErrorStatus": "success"}
    popup = json.loads(events[0]["body"])["List"]
    assert popup["SubscribeStatusString"] == "accept"
    assert client.get("/_drive/wechat/push-events?after=2").json["events"][0]["seq"] == 3


def test_bulk_users_are_subscribed(client: FlaskClient, known: SimpleNamespace) -> None:
    created = client.post("/_drive/wechat/push/bulk-users", json={"count": 3, "template_id": POLICY}).json
    access = token(client, known)
    data = {"thing1": {"value": "通知"}, "thing2": {"value": "内容"}, "time3": {"value": "09:00"}}
    assert all(send(client, access, openid, POLICY, data)["errcode"] == 0 for openid in created["openids"])
    counts = client.get("/_drive/wechat/messages/counts").json["counts"]
    assert counts == {openid: 1 for openid in created["openids"]}


# ---- Alipay templatemessage.send ----


def _sign(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return base64.b64encode(key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def alipay_send(client: FlaskClient, key: rsa.RSAPrivateKey, known: SimpleNamespace, biz: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    common = {"app_id": known.alipay_app_id, "method": "alipay.open.app.mini.templatemessage.send", "format": "JSON",
              "charset": "utf-8", "sign_type": "RSA2", "timestamp": "2023-11-15 06:13:20", "version": "1.0"}
    business = {"biz_content": json.dumps(biz, ensure_ascii=False)}
    common["sign"] = _sign({**common, **business}, key)
    text = client.post("/gateway.do", query_string=common, data=business).get_data(as_text=True)
    parsed = json.loads(text)
    node_name = next(k for k in parsed if k != "sign")
    raw = text[text.index(f'"{node_name}":') + len(node_name) + 3: text.rindex(',"sign":"')]
    public = serialization.load_pem_public_key(client.get("/_drive/alipay/public-key").json["public_key_pem"].encode())
    public.verify(base64.b64decode(parsed["sign"]), raw.encode(), padding.PKCS1v15(), hashes.SHA256())
    return node_name, json.loads(raw)


def test_alipay_template_message(client: FlaskClient, known: SimpleNamespace, app_private_key: rsa.RSAPrivateKey) -> None:
    user = client.post("/_drive/alipay/users", json={}).json
    open_id = user["open_ids"][known.alipay_app_id]
    data = json.dumps({"keyword1": {"value": "社保卡申领"}, "keyword2": {"value": "已受理"}}, ensure_ascii=False)
    biz = {"to_open_id": open_id, "user_template_id": "ali_tpl_service_reminder", "page": "pages/index/index", "data": data}
    node_name, node = alipay_send(client, app_private_key, known, biz)
    assert node_name == "error_response" and node["sub_code"] == "isv.user-not-subscribe"
    client.post("/_drive/alipay/subscriptions", json={"open_id": open_id, "template_id": "ali_tpl_service_reminder"})
    node_name, node = alipay_send(client, app_private_key, known, biz)
    assert node_name == "alipay_open_app_mini_templatemessage_send_response" and node["code"] == "10000"
    assert alipay_send(client, app_private_key, known, biz)[1]["sub_code"] == "isv.user-not-subscribe"
    messages = client.get("/_drive/alipay/messages", query_string={"open_id": open_id}).json["messages"]
    assert [m["data"]["keyword2"] for m in messages] == ["已受理"]
    long_value = json.dumps({"keyword1": {"value": "长" * 51}, "keyword2": {"value": "x"}}, ensure_ascii=False)
    assert alipay_send(client, app_private_key, known, {**biz, "data": long_value})[1]["sub_code"] == "isv.invalid-data"
    assert alipay_send(client, app_private_key, known, {**biz, "to_open_id": "0nobody"})[1]["sub_code"] == "isv.invalid-to-user"


def test_alipay_send_needs_a_valid_signature(client: FlaskClient, known: SimpleNamespace) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, node = alipay_send(client, stranger, known, {"to_open_id": "x", "user_template_id": "ali_tpl_service_reminder", "data": "{}"})
    assert node["sub_code"] == "isv.invalid-signature"


# ---- APP push gateway ----


def app_send(client: FlaskClient, token_: str, key: str = "push_sandbox_app_key", **fields: Any):
    body = {"device_token": token_, "title": "医保缴费提醒", "body": "2026年度城乡居民医保开始缴费", "payload": {"page": "x"},
            "category": "marketing", **fields}
    return client.post("/push/v1/messages", json=body, headers={"X-App-Key": key})


def test_app_push_gateway(client: FlaskClient) -> None:
    device = client.post("/_drive/app-push/devices", json={"platform": "huawei"}).json["device_token"]
    assert app_send(client, device, key="wrong").status_code == 401
    assert app_send(client, "huawei:unknown").json["code"] == "INVALID_TOKEN"
    assert app_send(client, device, title="").status_code == 400
    first = app_send(client, device)
    assert first.status_code == 200 and first.json["code"] == "OK" and first.json["message_id"]
    assert app_send(client, device).status_code == 200
    over = app_send(client, device)  # marketing: 2 per device per day
    assert over.status_code == 429 and over.json["code"] == "QUOTA_EXCEEDED"
    assert app_send(client, device, category="service").status_code == 200
    messages = client.get(f"/_drive/app-push/devices/{device}/messages").json["messages"]
    assert len(messages) == 3
    client.post(f"/_drive/app-push/devices/{device}/expire")
    expired = app_send(client, device, category="service")
    assert expired.status_code == 410 and expired.json["code"] == "TOKEN_EXPIRED"
    client.post("/_drive/faults", json={"endpoint": "app_push.send", "times": 1})
    assert app_send(client, device).status_code == 503


def test_reset_clears_push_state(client: FlaskClient, known: SimpleNamespace) -> None:
    user = wechat_user(client)
    subscribe(client, user)
    client.post("/_drive/reset")
    assert client.get("/_drive/wechat/push-events").json["events"] == []
