"""Everything the BFF does to answer from a cache or tell clients how to cache, one module per layer.

A request meets the layers in this order:

* ``hot_path``: process memory, in front of Flask (anonymous public GETs, raw-request signature);
* ``views``: the ``@cached`` decorator and ``respond``, the Flask glue that asks the response store;
* ``local_layer``: the per-worker TTL + LRU map inside the response store, in front of Redis;
* ``response_store``: ``ResponseCache``, cache-aside on Redis (stampede lock, stale-while-revalidate,
  tag generations); ``response_keys``: its keys, TTLs and route policies, the only place they are named;
  ``response_entries``: the stored entry format and the ``CachedResponse`` handed out;
  ``response_stats``: how answers were served (per process, and shared in Redis);
* ``conditional``: ETag and 304 on every GET (weak comparison), after the view;
* ``headers``: the one place for ``Cache-Control``, ``Pragma`` and ``Vary`` values.

The store, its keys, entries, stats and the header values are plain Python (no Flask import), so the
push worker can build the store and invalidate it.
Import from the module that names the layer, e.g. ``from bff.caching.response_store import ResponseCache``.
See bff/caching/README.md.
"""
