"""Issue 9 §4 as an attacker: hostile bodies, framing, URLs and headers against the real stack.

The API runs under gunicorn with the project's gunicorn.conf.py (the envelope worker and its limits),
talking to the private Redis and the sandbox over real HTTP. Requests the ``requests`` library will
not send (bad chunk framing, control characters, lying Content-Length) go over a raw socket.
Every answer must be a 4xx in the one error envelope — never a 500, never gunicorn's HTML page.
"""
from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests

from kernel.redis import redis_client as open_redis
from tests.http_stack import api_server

ENVELOPE = {"code", "status", "message", "error", "errors"}
UNAUTHENTICATED_JSON_ENDPOINTS = ("/v1/auth/wechat/login", "/v1/auth/alipay/login", "/v1/auth/sms/send",
                                  "/v1/auth/app/login", "/v1/auth/refresh", "/v1/events", "/v1/admin/auth/login")
SIGNED_IN_JSON_ENDPOINTS = ("/v1/me/realname", "/v1/devices", "/v1/subscriptions", "/v1/admin/campaigns")


@pytest.fixture(scope="module")
def api(redis_server, postgres_server, catalog_index_dir, dev_secret_dir, sandbox_server, tmp_path_factory):
    if not redis_server.running:
        redis_server.start()
    with api_server(tmp_path_factory.mktemp("attack"), redis_url=redis_server.url, database_url=postgres_server.url, index_dir=catalog_index_dir,
                    secret_dir=dev_secret_dir, sandbox_url=sandbox_server) as url:
        yield url


def raw(url: str, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is and read the whole answer (the server closes or Content-Length says)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "-1"))
        while length < 0 or len(body) < length:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            body += chunk
    return status, headers, body


def assert_envelope(status: int, headers: dict[str, str], body: bytes, expected: int, error: str | None = None) -> dict[str, Any]:
    assert status == expected, body[:500]
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    payload = json.loads(body)
    assert set(payload) == ENVELOPE and payload["code"] == expected, payload
    if error is not None:
        assert payload["error"] == error, payload
    return payload


def check(response: requests.Response, expected: int, error: str | None = None) -> dict[str, Any]:
    return assert_envelope(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                           response.content, expected, error)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_raw(url: str, path: str, body: bytes, *, content_type: str = "application/json",
             extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body


# --- JSON nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", UNAUTHENTICATED_JSON_ENDPOINTS + SIGNED_IN_JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [1000, 10_000])
def test_deeply_nested_json_is_a_400_everywhere(api, path, depth):
    body = nested(depth).encode()
    check(requests.post(api + path, data=body, headers={"Content-Type": "application/json"}, timeout=10), 400, "invalid_json")
    obj = ('{"a":' * depth + "1" + "}" * depth).encode()
    check(requests.post(api + path, data=obj, headers={"Content-Type": "application/json"}, timeout=10), 400, "invalid_json")


def test_nesting_limit_sits_above_every_real_body(api):
    # 32 levels: parsed, then refused by the schema (422), never a 500
    body = {"code": json.loads(nested(31))}
    check(requests.post(api + "/v1/auth/wechat/login", json=body, timeout=10), 422)
    too_deep = {"code": json.loads(nested(40))}
    payload = check(requests.post(api + "/v1/auth/wechat/login", json=too_deep, timeout=10), 400, "invalid_json")
    assert "32" in json.dumps(payload["errors"])


def test_brackets_inside_strings_do_not_count(api):
    body = json.dumps({"code": "[" * 5000}).encode()
    # parsed fine: the login fails on the code, not on the JSON
    response = requests.post(api + "/v1/auth/wechat/login", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code in (400, 401, 422) and response.json()["error"] != "invalid_json"


@pytest.mark.parametrize("body", [b"{", b'{"code": }', b"\xff\xfe\x00", b'{"code": "x"} trailing', b"NaN-ish"])
def test_broken_json_is_invalid_json(api, body):
    check(requests.post(api + "/v1/auth/wechat/login", data=body, headers={"Content-Type": "application/json"}, timeout=10), 400, "invalid_json")


def test_deep_json_in_a_wechat_event_is_refused_not_crashed(api):
    # A text/plain body is not parsed by the gate; the WeChat parser refuses it itself (signature first).
    body = ('{"a":' * 5000 + "1" + "}" * 5000).encode()
    response = requests.post(api + "/v1/channels/wechat/events", data=body, headers={"Content-Type": "text/plain"}, timeout=10)
    assert response.status_code in (400, 401)
    check(response, response.status_code)


# --- framing and size --------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [
    b"zz\r\n{}\r\n0\r\n\r\n",                     # not hex
    b"-5\r\n{}\r\n0\r\n\r\n",                     # negative
    b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",   # absurd size, then the connection ends
    b"2\r\n{}XX0\r\n\r\n",                        # missing CRLF after the chunk
    b"5\r\n{}",                                   # truncated, then the client half-closes
])
@pytest.mark.parametrize("path", ["/v1/auth/wechat/login", "/v1/events", "/v1/channels/wechat/events"])
def test_malformed_chunked_bodies_are_a_400(api, chunks, path):
    request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode() + chunks
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert status == 400, data[:500]
    assert b"application/json" in head.lower(), data[:500]
    assert json.loads(body)["error"] in ("malformed_body", "malformed_request"), body


def test_well_formed_chunked_json_still_works(api):
    body = json.dumps({"code": "nope"}).encode()
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    status, headers, payload = raw(api, (b"POST /v1/auth/wechat/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks))
    assert status < 500 and json.loads(payload)["error"] not in ("invalid_json", "malformed_body")


def test_declared_oversize_body_is_a_413_before_it_is_read(api):
    # 64 MB announced, a few KB sent: refused from the Content-Length alone.
    head = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 67108864\r\nConnection: close\r\n\r\n")
    status, headers, body = raw(api, head + b"[" * 4096)
    assert_envelope(status, headers, body, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/v1/events", "/v1/auth/wechat/login", "/v1/channels/wechat/events"])
def test_oversize_bodies_are_a_413_with_length_or_chunked(api, path):
    big = json.dumps({"events": [{"type": "search", "query": "x" * 1000}] * 100}).encode()
    assert len(big) > 64 * 1024
    check(requests.post(api + path, data=big, headers={"Content-Type": "application/json"}, timeout=10), 413, "payload_too_large")
    chunked = requests.post(api + path, data=iter([big[i:i + 8192] for i in range(0, len(big), 8192)]),
                            headers={"Content-Type": "application/json"}, timeout=10)
    check(chunked, 413, "payload_too_large")


# --- URLs and headers ---------------------------------------------------------------------------------------


def test_long_urls_are_answered_by_the_app(api):
    # 6 KB of query: gunicorn's default (4094) answered with HTML; now the app refuses the field.
    response = requests.get(api + "/v1/items/search", params={"q": "证" * 700}, timeout=10)
    payload = check(response, 422)
    assert "q" in json.dumps(payload["errors"])
    response = requests.get(api + "/v1/items/search", params={"q": "营业执照", "x": "a" * 6000}, timeout=10)
    assert response.status_code == 200


def test_urls_beyond_the_server_bound_get_the_envelope(api):
    status, headers, body = raw(api, b"GET /v1/items/search?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_envelope(status, headers, body, 414, "uri_too_long")


def test_big_headers_reach_the_app_and_huge_ones_get_the_envelope(api):
    response = requests.get(api + "/v1/items/search", params={"q": "营业执照"}, headers={"X-Padding": "a" * 10_000}, timeout=10)
    assert response.status_code == 200
    status, headers, body = raw(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 20_000
                                + b"\r\nConnection: close\r\n\r\n")
    assert_envelope(status, headers, body, 431, "headers_too_large")


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x01b", b"a\x7fb", b"a\rb"])
def test_control_characters_in_headers_get_the_envelope(api, value):
    status, headers, body = raw(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Client-Mode: " + value
                                + b"\r\nConnection: close\r\n\r\n")
    payload = assert_envelope(status, headers, body, 400)
    assert "\\x00" not in json.dumps(payload) and "a\x01b" not in json.dumps(payload)


# --- one rule for regions, empty values and the client headers --------------------------------------------

REGION_ROUTES = [("GET", "/v1/items/search", {"q": "营业执照"}), ("GET", "/v1/items/suggest", {"q": "ying"}),
                 ("GET", "/v1/items/hot", {}), ("GET", "/v1/themes/T01", {}), ("GET", "/v1/home", {}),
                 ("GET", "/v1/recommendations", {})]


def _first_item(api: str) -> str:
    return requests.get(api + "/v1/items/search", params={"q": "营业执照"}, timeout=10).json()["items"][0]["basic_code"]


@pytest.mark.parametrize("method,path,params", REGION_ROUTES)
def test_an_unknown_region_is_the_same_422_on_every_route(api, method, path, params):
    check(requests.request(method, api + path, params={**params, "region": "159999"}, timeout=10), 422, "unknown_region")
    check(requests.request(method, api + path, params={**params, "region": "abc"}, timeout=10), 422)
    # empty means absent: the same answer as without the parameter
    empty = requests.request(method, api + path, params={**params, "region": ""}, timeout=10)
    absent = requests.request(method, api + path, params=params, timeout=10)
    assert empty.status_code == absent.status_code == 200
    assert empty.json() == absent.json()


def test_unknown_region_on_item_detail_and_in_an_event_body(api):
    code = _first_item(api)
    check(requests.get(f"{api}/v1/items/{code}", params={"region": "159999"}, timeout=10), 422, "unknown_region")
    assert requests.get(f"{api}/v1/items/{code}", params={"region": ""}, timeout=10).status_code == 200
    events = {"events": [{"type": "view", "item": code}], "region": "159999"}
    check(requests.post(f"{api}/v1/events", json=events, timeout=10), 422, "unknown_region")


@pytest.mark.parametrize("path", ["/v1/items/search?q=x", "/v1/themes", "/v1/home", "/v1/recommendations", "/healthz",
                                  "/.well-known/jwks.json", "/v1/me", "/v1/devices"])
def test_client_headers_follow_one_rule_everywhere(api, path):
    method = "DELETE" if path == "/v1/devices" else "GET"
    for header, error in (("X-Client-Channel", "invalid_client_channel"), ("X-Client-Mode", "invalid_client_mode")):
        check(requests.request(method, api + path, headers={header: "qq"}, timeout=10), 400, error)
        # empty is absent: whatever the route answers without the header
        with_empty = requests.request(method, api + path, headers={header: ""}, timeout=10)
        without = requests.request(method, api + path, timeout=10)
        assert with_empty.status_code == without.status_code < 500


def test_every_operation_declares_what_it_can_answer(api):
    spec = requests.get(api + "/openapi.json", timeout=10).json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "default" not in responses, (method, path)
            assert {"400", "413"} <= set(responses), (method, path, sorted(responses))
            if "{" in path:
                assert "404" in responses, (method, path)
            if operation.get("security") and {} not in operation["security"]:
                assert "401" in responses, (method, path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                    schema = parameter["schema"]
                    assert "maxLength" in schema or "enum" in schema or "pattern" in schema, (method, path, parameter["name"])
                if parameter["in"] == "query" and not parameter.get("required"):
                    assert parameter.get("allowEmptyValue") is True, (method, path, parameter["name"])


# --- one APP device, one account ----------------------------------------------------------------------------


def _wechat_citizen(api: str, sandbox: str) -> str:
    user = requests.post(f"{sandbox}/_drive/wechat/users", json={}, timeout=5).json()
    code = requests.post(f"{sandbox}/_drive/wechat/login-code", json={"user_id": user["user_id"]}, timeout=5).json()["code"]
    login = requests.post(f"{api}/v1/auth/wechat/login", json={"code": code}, timeout=10)
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


def test_a_device_token_belongs_to_one_account_at_a_time(api, sandbox_server, redis_server):
    alice, mallory = _wechat_citizen(api, sandbox_server), _wechat_citizen(api, sandbox_server)
    device = {"device_token": "hw:0123456789abcdef-device-token", "platform": "huawei"}

    def register(token: str) -> requests.Response:
        return requests.post(f"{api}/v1/devices", json=device, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert register(alice).status_code == 200
    assert register(mallory).status_code == 200
    store = open_redis(redis_server.url, socket_timeout=None)
    hlen = lambda pattern: sum(store.hlen(key) for key in store.scan_iter(match=pattern) if ":seg:" not in key)  # noqa: E731 - over shards
    assert hlen("push:*:addr:app") == 1 and sum(store.bitcount(k) for k in store.scan_iter(match="push:*:seg:addr:app")) == 1
    # Alice no longer has a device to forget; Mallory does
    forget = lambda token: requests.delete(f"{api}/v1/devices", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert forget(alice)["removed"] is False
    assert register(alice).status_code == 200  # the phone goes back to Alice
    assert forget(mallory)["removed"] is False
    assert forget(alice)["removed"] is True
    assert hlen("push:*:addr:app") == 0 and hlen("push:*:device:owner") == 0 and hlen("push:*:device:of") == 0
    # the token itself is never a key or a value in clear
    assert not any(device["device_token"] in str(store.dump(k) or b"") for k in store.scan_iter("push:*"))


def test_concurrent_registrations_leave_exactly_one_holder(api, sandbox_server, redis_server):
    import concurrent.futures

    from push import keys

    tokens = [_wechat_citizen(api, sandbox_server) for _ in range(4)]
    device = {"device_token": "xm:race-device-token-0001", "platform": "xiaomi"}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda t: requests.post(f"{api}/v1/devices", json=device,
                                                        headers={"Authorization": f"Bearer {t}"}, timeout=10).status_code, tokens * 3))
    assert set(answers) == {200}
    store = open_redis(redis_server.url, socket_timeout=None)
    [owners] = list(store.scan_iter(match="push:*:device:owner"))
    assert store.hlen(owners) == 1
    holder = store.hget(owners, next(iter(store.hkeys(owners))))
    assert store.hkeys(keys.address(keys.shard_of(int(holder)), "app")) == [holder]
    assert sum(store.bitcount(k) for k in store.scan_iter(match="push:*:seg:addr:app")) == 1
