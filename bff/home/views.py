"""``GET /v1/home``: region, hot services, 一件事, recommendations, policy notices, unread count and the
citizen's own summary, in one request, shaped for the channel, the mode and the language.

The shared part comes from the response cache (route ``home``; key: region + catalogue build +
channel + mode + language); the personal part is computed per request and merged in, never stored
in a shared entry. Anonymous answers are ``public, max-age=60``; signed-in answers ``private, no-store``.
Either way ``Vary: X-Client-Channel, X-Client-Mode, Accept-Language, Authorization``.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from accessibility import names_for
from bff import client_context
from bff.caching import response_keys as cache_keys
from bff.caching.views import (BAD_HEADER_DOC, CATALOGUE_PARAM, CONTENT_LANGUAGE, Uncacheable, ViewCompute,
                            cached_body, raw_params, respond, vary_for)
from bff.extensions import ErrorEnvelopeSchema, services
from bff.home import build
from bff.home.schemas import HomeArgsSchema, HomeSchema
from bff.caching import headers as cache_headers

blp = Blueprint("home", __name__, url_prefix="/v1/home",
                description="The home screen of each channel in one request (standard and 长辈版, Chinese and Mongolian)")

ROUTE = "home"
ALL_DIMENSIONS = ("channel", "mode", "language")
VARY = (*vary_for(ALL_DIMENSIONS), "Authorization")


def _max_age() -> int:
    return int(cache_keys.policy_for(ROUTE).ttl)


def _personal_response(shared: bytes, status: str, context: client_context.ClientContext, region: str) -> Response:
    """The shared body with this citizen's parts merged in (``private``: never in a shared cache)."""
    body = json.loads(shared)
    body.update(build.personal_parts(
        context.account, services().home_sources, account_id=context.principal.account_id, region=region,
        channel=context.channel, mode=context.mode, language=context.language,
        names=names_for(services().catalogue.get().ref)))
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), mimetype="application/json")
    response.headers.update(cache_headers.PRIVATE_NO_STORE)
    response.headers["X-Cache"] = status
    response.headers["Content-Language"] = CONTENT_LANGUAGE[context.language]
    cache_headers.add_vary(response, *VARY)
    return response


def home_cached(view):
    """Outside flask-smorest's decorators: optional sign-in, shared part from the cache, personal merge."""
    view = blp.alt_response(400, schema=ErrorEnvelopeSchema, description=BAD_HEADER_DOC)(view)
    view = blp.alt_response(401, schema=ErrorEnvelopeSchema,
                            description="An `Authorization` header was sent but the token is invalid or expired")(view)
    view = blp.alt_response(503, schema=ErrorEnvelopeSchema,
                            description="Signed in while a backing store is down (`Retry-After`); anonymous answers keep working")(view)
    view = blp.doc(security=[{}, {"bearerAuth": []}])(view)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        context = client_context.resolve(optional_auth=True)
        params = raw_params(("region",))
        params["region"] = build.default_region(params.get("region"), context.home_region)
        variant = context.variant(ALL_DIMENSIONS)
        compute = ViewCompute(view, args, kwargs, path=request.path, query=params, variant=variant)
        try:
            result = cached_body(ROUTE, {**params, CATALOGUE_PARAM: services().catalogue.get().version}, variant, compute)
        except Uncacheable as answer:
            return answer.response
        if context.signed_in:
            return _personal_response(result.body, result.status, context, params["region"])
        return respond(result, cache=cache_headers.public(_max_age()), vary=VARY, language=context.language)

    return wrapper


@blp.route("", parameters=client_context.openapi_parameters(ALL_DIMENSIONS))
class Home(MethodView):
    @home_cached
    @blp.arguments(HomeArgsSchema, location="query")
    @blp.response(200, HomeSchema)
    def get(self, args):
        """The home screen in one request.

        Anonymous: region, hot services, 一件事 themes, regional recommendations and policy notices,
        `Cache-Control: public`. With a citizen's access token (optional) also `me` (masked summary),
        `inbox.unread` and personal recommendations, `Cache-Control: private, no-store`; the citizen's mode,
        language and home region apply unless the headers or `region` say otherwise.
        `X-Client-Mode: elder`: at most 8 large tiles, help by phone (12345 first), presentation
        tokens, speech text, and no marketing. Links are deep links for the APP and page paths for
        the WeChat and Alipay mini-programs.
        """
        context = client_context.current()
        region = build.default_region(args.get("region"), context.home_region)
        # The shared part only: the citizen's own parts are merged in by ``home_cached``.
        return build.anonymous_home(services().catalogue.get(), services().home_sources, region=region,
                                    channel=context.channel, mode=context.mode, language=context.language)
