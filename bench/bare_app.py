"""The baseline of bench/http_home.py: a bare Flask app with one JSON endpoint, no extensions.

``gunicorn bench.bare_app:app`` under the same gunicorn configuration as the API. ``/json``
serializes a home-sized payload (about the APP's standard home, ~4 KB) on every request, which is
what "a bare Flask JSON endpoint" does; ``/json-bytes`` sends the same payload pre-encoded (a
stricter baseline: no serialization at all, like a cache hit). ``/readyz`` for the start-up wait.
"""
from __future__ import annotations

import json

from flask import Flask, Response, jsonify


def home_sized_payload() -> dict:
    """Shaped and sized like ``GET /v1/home`` for the APP (12 hot items, 8 themes, 6 recommendations)."""
    item = {"basic_code": "B0096", "name": "养老认证", "link": "msb://item/B0096?region=150102",
            "full_name": "养老保险待遇领取资格认证", "department": "人力资源和社会保障厅", "online_depth": 4, "visits": 0}
    return {
        "channel": "app", "mode": "standard", "language": "zh", "lang": "zh-Hans",
        "region": {"code": "150102", "name": "新城区"},
        "hot": [dict(item, basic_code=f"B{n:04d}") for n in range(12)],
        "themes": [{"code": f"T{n:02d}", "name": "新生儿出生一件事", "link": f"msb://theme/T{n:02d}?region=150102",
                    "item_count": 13} for n in range(8)],
        "recommendations": [{"basic_code": f"B{n:04d}", "name": "查公积金", "reason": "本地区热门",
                             "reason_code": "popular_region", "link": f"msb://item/B{n:04d}?region=150102"}
                            for n in range(100, 106)],
        "notices": [], "personal": False, "me": None, "inbox": None,
    }


PAYLOAD = home_sized_payload()
PAYLOAD_BYTES = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()

app = Flask(__name__)
app.json.ensure_ascii = False
app.json.sort_keys = False


@app.get("/json")
def payload():
    return jsonify(PAYLOAD)


@app.get("/json-bytes")
def payload_bytes():
    return Response(PAYLOAD_BYTES, mimetype="application/json")


@app.get("/readyz")
def ready():
    return {"status": "ok"}
