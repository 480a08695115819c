"""Redis response cache for anonymous catalogue responses (plain Python: no Flask import here).

``ResponseCache(redis_url).get_or_compute(route, params, Variant(channel, mode, language), compute)``
returns a ``CachedResponse`` (body bytes, precomputed ETag, status). Keys and TTLs: ``bff.cache.keys``.
See bff/cache/README.md.
"""
from bff.cache.keys import ROUTES, RoutePolicy, Variant, canonical_params, entry_key
from bff.cache.store import CachedResponse, PrivateResponseRefused, ResponseCache, etag_for

__all__ = ["ROUTES", "CachedResponse", "PrivateResponseRefused", "ResponseCache", "RoutePolicy",
           "Variant", "canonical_params", "entry_key", "etag_for"]
