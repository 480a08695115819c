"""HTTP glue of the response cache: views answer anonymous GETs from ``bff.caching.response_store.ResponseCache``.

``@cached(blp, route, query=ArgsSchema, depends_on=("mode", "language"))`` goes OUTSIDE
flask-smorest's decorators::

    @blp.route("/items/search", parameters=client_context.openapi_parameters(ALL))
    class ItemSearch(MethodView):
        @cached(blp, "items.search", query=schemas.SearchArgsSchema, depends_on=("mode", "language"))
        @blp.arguments(schemas.SearchArgsSchema, location="query")
        @blp.response(200, schemas.SearchResultSchema)
        def get(self, args): ...

* **Hit**: the client context is read from the headers (400 on bad values), the key is built from
  the raw query values of the schema's fields, the path arguments and the catalogue build id, and
  the stored body goes out as a ready ``Response`` with its precomputed ETag: no argument parsing,
  no schema dump, no re-hashing in ``bff.caching.conditional``.
* **Miss**: ``ViewCompute`` runs the wrapped view (flask-smorest parses, validates: 422 and nothing
  is stored; dumps through the response schema) and the cache stores its body. A stale entry is
  refreshed in a background thread, where ``ViewCompute`` replays the request in a synthetic request
  context built only from the key (path, cached parameters, variant headers): never the original
  request's context, which is gone by then.
* **Key**: ``route`` + params + ``Variant(channel, mode, language)`` + schema version. Dimensions the
  answer does not depend on take their default (one entry instead of three); those it does depend
  on are named in ``Vary``. The catalogue build id is a parameter, so a rebuilt index is never
  answered from entries of the old one (each worker switches within
  ``CatalogueHolder._RELOAD_CHECK_SECONDS``).
* **Headers**: ``ETag`` (304 with weak comparison by ``bff.caching.conditional``, keeping Cache-Control,
  ETag and Vary), ``Cache-Control: public, max-age=…``, ``Vary``, ``Content-Language``, ``X-Cache``
  (local | hit | stale | miss | coalesced | waited | bypass; ``hot`` when ``bff.caching.hot_path`` answered).
* **Redis down**: the cache computes uncached (``X-Cache: bypass``); nothing here needs Redis.

Invalidation: campaign state changes bump the ``notices`` tag (subscribed in ``bootstrap``, in the API
and the push worker alike); catalogue rebuilds need none (the build id is part of the key).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, has_request_context, request

from bff import client_context
from bff.caching import headers as cache_headers
from bff.caching import hot_path
from bff.caching import response_keys as cache_keys
from bff.caching.response_keys import Variant
from bff.caching.response_entries import CachedResponse
from bff.extensions import ErrorEnvelopeSchema, services

__all__ = ["cached", "ViewCompute", "cached_body", "respond", "raw_params", "CATALOGUE_PARAM",
           "Uncacheable"]

# Key parameter carrying the catalogue build id (query names never start with "_").
CATALOGUE_PARAM = "_build"
CONTENT_LANGUAGE = {"zh": "zh-Hans", "mn": "mn-Mong, zh-Hans"}  # mn answers fall back per string
BAD_HEADER_DOC = ("`invalid_client_channel` / `invalid_client_mode`: X-Client-Channel or X-Client-Mode "
                  "is not one of the documented values")


class Uncacheable(Exception):
    """The view answered something other than 200: send it as is, store nothing."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _body(result: Any) -> bytes:
    if not isinstance(result, Response):  # flask-smorest's @blp.response always builds one
        raise TypeError(f"cached views must be wrapped by @blp.response, got {type(result).__name__}")
    if result.status_code != 200:
        raise Uncacheable(result)
    return result.get_data()


class ViewCompute:
    """``compute`` for ``ResponseCache``: the wrapped view's JSON body, already dumped by its schema.

    In the request's own thread (leader of a miss, or Redis down) it runs the view in that request.
    Elsewhere (a background refresh of a stale entry) it replays the request from the key alone.
    """

    __slots__ = ("app", "view", "args", "kwargs", "path", "query", "variant")

    def __init__(self, view: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], *,
                 path: str, query: Mapping[str, Any], variant: Variant) -> None:
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.view, self.args, self.kwargs = view, args, dict(kwargs)
        self.path, self.query, self.variant = path, dict(query), variant

    def __call__(self) -> bytes:
        if has_request_context():
            return _body(self.view(*self.args, **self.kwargs))
        with self.app.test_request_context(self.path, query_string=urlencode(self.query),
                                           headers=client_context.request_headers_for(self.variant)):
            client_context.resolve()
            return _body(self.view(*self.args, **self.kwargs))


def raw_params(names: tuple[str, ...]) -> dict[str, str]:
    """The raw query values of the documented parameters (first value, as webargs reads them).

    Undocumented parameters are ignored by the parser, so they stay out of the key too: nobody
    mints cache entries by appending ``&x=1``.
    """
    args = request.args
    return {name: args[name] for name in names if name in args}


def cached_body(route: str, params: Mapping[str, Any], variant: Variant, compute: ViewCompute) -> CachedResponse:
    return services().response_cache.get_or_compute(route, params, variant, compute)


def respond(result: CachedResponse, *, cache: Mapping[str, str], vary: tuple[str, ...],
            language: str | None) -> Response:
    """A ready 200 with the stored body and its precomputed ETag (``bff.caching.conditional`` reuses it)."""
    response = current_app.response_class(result.body, status=200, mimetype="application/json")
    response.set_etag(result.etag)
    headers = response.headers
    headers.update(cache)
    headers["X-Cache"] = result.status
    if language is not None:
        headers["Content-Language"] = CONTENT_LANGUAGE[language]
    cache_headers.add_vary(response, *vary)
    hot = hot_path.of(current_app)
    if hot is not None:
        hot.remember(request.environ, response)
    return response


def vary_for(depends_on: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(client_context.VARY_HEADERS[name] for name in ("channel", "mode", "language") if name in depends_on)


def cached(blp: Any, route: str, *, query: type | None = None,
           depends_on: tuple[str, ...] = ("mode", "language"), max_age: int | None = None) -> Callable:
    """Serve an anonymous GET view from the response cache (see the module docstring).

    ``query``: the view's query-argument schema (its field names form the key); ``depends_on``:
    which of channel / mode / language change the body; ``max_age``: seconds for
    ``Cache-Control: public`` (default ``Settings.catalog_max_age_seconds``).
    """
    cache_keys.policy_for(route)  # unregistered routes fail at import, not on the first request
    names = tuple(query().fields) if query is not None else ()
    vary = vary_for(depends_on)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(400, schema=ErrorEnvelopeSchema, description=BAD_HEADER_DOC)(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            context = client_context.resolve()
            params: dict[str, Any] = raw_params(names)
            variant = context.variant(depends_on)
            compute = ViewCompute(view, args, kwargs, path=request.path, query=params, variant=variant)
            key = {**params, **kwargs, CATALOGUE_PARAM: services().catalogue.get().version}
            try:
                result = cached_body(route, key, variant, compute)
            except Uncacheable as answer:
                return answer.response
            age = max_age if max_age is not None else current_app.config["SETTINGS"].catalog_max_age_seconds
            return respond(result, cache=cache_headers.public(age), vary=vary,
                           language=context.language if "language" in depends_on else None)

        return wrapper

    return decorator
