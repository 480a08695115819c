"""The one place for what a response tells caches: ``Cache-Control``, ``Pragma`` and ``Vary``.

Plain Python (no Flask import): values are header mappings, applied by the views, the error handler,
``bff.caching.conditional`` and ``bff.gunicorn_worker``'s raw envelope alike. The policy:

* ``NO_STORE``: anything that carries a token or a secret, every error, operator (console) answers,
  metrics and webhook echoes. Nothing may keep them.
* ``PRIVATE_NO_STORE``: a citizen's or an operator's personal data. ``private`` says no shared cache
  may hold it even if a cache ignores ``no-store``.
* ``public(max_age)``: anonymous answers anyone may cache, shared caches included (catalogue, home,
  anonymous recommendations, the JWKS).
* ``private(max_age)``: reference data an operator's browser may keep (the region tree), never a proxy.
* ``REVALIDATE``: the console's pages and assets: always the current build, revalidated by ETag.
* ``DEFAULT_GET``: what ``conditional`` sets on a GET whose view said nothing.

Every no-store answer also sends ``Pragma: no-cache``: HTTP/1.0 caches ignore ``Cache-Control``,
and one rule for all no-store answers is easier to keep than a list of which ones need it.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_GET", "NO_STORE", "PRIVATE_NO_STORE", "REVALIDATE", "add_vary", "is_public",
           "merge_vary", "no_store", "private", "private_no_store", "public", "vary"]

NO_STORE: Mapping[str, str] = MappingProxyType({"Cache-Control": "no-store", "Pragma": "no-cache"})
PRIVATE_NO_STORE: Mapping[str, str] = MappingProxyType({"Cache-Control": "private, no-store", "Pragma": "no-cache"})
REVALIDATE: Mapping[str, str] = MappingProxyType({"Cache-Control": "no-cache"})
DEFAULT_GET: Mapping[str, str] = MappingProxyType({"Cache-Control": "private, no-cache"})


def public(max_age: int) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={int(max_age)}"}


def private(max_age: int) -> dict[str, str]:
    return {"Cache-Control": f"private, max-age={int(max_age)}"}


def is_public(cache_control: str | None) -> bool:
    """Whether a ``Cache-Control`` value lets shared caches (and ``bff.caching.hot_path``) keep the answer."""
    return bool(cache_control) and cache_control.startswith("public")  # type: ignore[union-attr]


def merge_vary(existing: str | None, *names: str) -> str | None:
    """``existing`` (a ``Vary`` value or None) with ``names`` added once each, case-insensitively, in order."""
    # Plain string work: werkzeug's ``response.vary`` re-parses and re-serialises the header on every
    # add, which cost more than the rest of a cache hit.
    listed = [name.strip() for name in existing.split(",") if name.strip()] if existing else []
    known = {name.lower() for name in listed}
    for name in names:
        if name.lower() not in known:
            listed.append(name)
            known.add(name.lower())
    return ", ".join(listed) or None


def vary(*names: str) -> dict[str, str]:
    """A ``Vary`` header naming the request headers the answer depends on (RFC 9110 §12.5.5)."""
    value = merge_vary(None, *names)
    return {"Vary": value} if value else {}


def add_vary(response: Any, *names: str) -> Any:
    """Add ``names`` to a response's ``Vary``, keeping any already listed (a 304 made from it keeps them)."""
    value = merge_vary(response.headers.get("Vary"), *names)
    if value:
        response.headers["Vary"] = value
    return response


def no_store(payload: object, status: int = 200) -> tuple[object, int, dict[str, str]]:
    """A view's answer (flask-smorest tuple) that carries a token or is an operator's: ``NO_STORE``."""
    return payload, status, dict(NO_STORE)


def private_no_store(payload: object, status: int = 200) -> tuple[object, int, dict[str, str]]:
    """A view's answer (flask-smorest tuple) with personal data: ``PRIVATE_NO_STORE``."""
    return payload, status, dict(PRIVATE_NO_STORE)
