"""Keys are built in one place: canonical params, validated variants, registered routes."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from redis.crc import key_slot

from auth.preferences import LANGUAGES, MODES
from bff.caching import response_keys as keys
from bff.caching.response_keys import ROUTES, RoutePolicy, Variant, canonical_params, entry_key

ROOT = Path(__file__).resolve().parents[3]


def test_key_layout_names_every_dimension():
    key = entry_key("items.search", {"q": "社保"}, Variant("wechat", "elder", "mn"))
    parts = key.split(":")
    assert parts[:7] == ["bff", "c", f"v{keys.SCHEMA_VERSION}", "items.search", "wechat", "elder", "mn"]
    assert len(parts) == 8 and len(parts[7]) == 32


def test_equivalent_params_share_a_key():
    v = Variant()
    a = entry_key("items.search", {"q": "社保", "page": 1, "region": None}, v)
    b = entry_key("items.search", {"page": "1", "q": "社保"}, v)
    assert a == b
    # NFC: a decomposed character and its composed form are the same text
    assert canonical_params({"q": "e\u0301"}) == canonical_params({"q": "\u00e9"})
    assert canonical_params({"flag": True}) == canonical_params({"flag": "true"})


def test_different_params_routes_or_variants_do_not():
    v = Variant()
    base = entry_key("items.search", {"q": "社保"}, v)
    assert entry_key("items.search", {"q": "社保卡"}, v) != base
    assert entry_key("items.search", {"q": "社保", "page": 2}, v) != base
    assert entry_key("items.suggest", {"q": "社保"}, v) != base
    assert entry_key("items.search", {"q": "社保"}, Variant(language="mn")) != base
    assert entry_key("items.search", {"q": ["a", "b"]}, v) != entry_key("items.search", {"q": ["b", "a"]}, v)


def test_variants_are_validated():
    with pytest.raises(ValueError):
        Variant(channel="douyin")
    with pytest.raises(ValueError):
        Variant(mode="dark")
    with pytest.raises(ValueError):
        Variant(language="en")
    assert keys.MODES == MODES and keys.LANGUAGES == LANGUAGES


def test_routes_are_registered_with_stated_ttls():
    with pytest.raises(ValueError):
        entry_key("not.a.route", {}, Variant())
    for name, policy in ROUTES.items():
        assert policy.ttl > 0 and policy.stale >= 0 and 0 <= policy.jitter < 1, name
        assert "catalog" in policy.tags, name
    assert ROUTES["items.search"].ttl == 300
    with pytest.raises(ValueError):
        RoutePolicy(ttl=0, stale=1)
    with pytest.raises(TypeError):
        canonical_params({"q": object()})


def test_lock_and_generation_keys():
    key = entry_key("home", {}, Variant())
    assert keys.lock_key(key).startswith("bff:c:lock:v1:home:")
    assert keys.generation_key("catalog") == "bff:c:{gen}:catalog"
    # One hash tag for every generation counter (one MGET on a cluster), none on entries (they spread).
    assert len({key_slot(keys.generation_key(tag).encode()) for tag in ("catalog", "home", "notices")}) == 1
    assert "{" not in key
    with pytest.raises(ValueError):
        keys.generation_key("a:b")


# The store, its keys and its local layer are plain Python (the push worker builds them too).
PLAIN = ("bff/caching/response_store.py", "bff/caching/response_entries.py", "bff/caching/response_stats.py",
         "bff/caching/response_keys.py", "bff/caching/local_layer.py", "bff/caching/headers.py")


@pytest.mark.parametrize("package", ["bff/caching", "accessibility"])
def test_plain_python_never_imports_flask(package):
    paths = [ROOT / name for name in PLAIN] if package == "bff/caching" else (ROOT / package).glob("*.py")
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in ("flask", "flask_smorest", "werkzeug") for n in names), path
