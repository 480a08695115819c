"""Citizen side of push: 猜你想办 recommendations, behaviour events, subscription popups, APP devices
and the in-app inbox. Thin views over ``push.service.PushService``; its errors carry their own status.

Everything personal is ``Cache-Control: private, no-store``. Recommendations and events also work
anonymously (regional popularity); a sent ``Authorization`` header must be valid (401 otherwise).
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from auth.tokens import CITIZEN_AUDIENCES
from bff.auth.security import BEARER_SCHEME, authenticate, citizen_required, current_principal
from bff.caching.headers import PRIVATE_NO_STORE, public, vary
from bff.caching.headers import private_no_store as private
from bff.extensions import ErrorEnvelopeSchema
from bff.push import schemas
from bff.extensions import services
from bff.push.sync import ensure_synced

blp = Blueprint("push", __name__, url_prefix="/v1",
                description="Recommendations, behaviour events, message subscriptions, APP devices and the inbox")

ANONYMOUS_MAX_AGE = 60


def _optional_citizen_id() -> str | None:
    """The signed-in citizen when an ``Authorization`` header is sent (401 when it is bad), else None."""
    if "Authorization" not in request.headers:
        return None
    account_id = authenticate(CITIZEN_AUDIENCES).account_id
    ensure_synced(services().push, account_id)
    return account_id


def _optional_auth(view):
    view = blp.alt_response(401, schema=ErrorEnvelopeSchema,
                            description="An `Authorization` header was sent but the token is invalid or expired")(view)
    return blp.doc(security=[{}, {BEARER_SCHEME: []}])(view)


def _me() -> str:
    account_id = current_principal().account_id
    ensure_synced(services().push, account_id)
    return account_id


@blp.route("/recommendations")
class Recommendations(MethodView):
    @_optional_auth
    @blp.arguments(schemas.RecommendationArgsSchema, location="query")
    @blp.response(200, schemas.RecommendationsSchema)
    def get(self, args):
        """猜你想办: services the caller probably needs next, each with a human-readable `reason`.

        Anonymous: up to 5 popular services of `region` (`public, max-age=60`). Signed in: personal —
        unfinished handling, recent searches and views, the rest of each 一件事 touched, life stage from
        the verified ID, then what the home region handles — never items already finished (`private`).
        """
        account_id = _optional_citizen_id()
        items = services().push.recommendations(account_id, region=args.get("region"), limit=args["limit"])
        body = {"items": items, "personalised": account_id is not None}
        if account_id is None:
            return body, 200, {**public(ANONYMOUS_MAX_AGE), **vary("Authorization")}
        return body, 200, {**PRIVATE_NO_STORE, **vary("Authorization")}


@blp.route("/events")
class Events(MethodView):
    @_optional_auth
    @blp.alt_response(413, schema=ErrorEnvelopeSchema, description="`too_many_events`: more than 50 in one batch")
    @blp.arguments(schemas.EventBatchSchema)
    @blp.response(202, schemas.EventsAcceptedSchema)
    def post(self, body):
        """Report behaviour in small batches (≤ 50): `search` {query, item?}, `view` / `start` / `finish`
        {item}, `view_theme` {theme}, `click` {message_id}. Unknown item codes are 422 `unknown_item`.
        Anonymous batches only feed the popularity of `region`."""
        account_id = _optional_citizen_id()
        result = services().push.record_events(account_id, body["events"], region=body.get("region"))
        return private(result, 202)


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.SubscriptionArgsSchema, location="query")
    @blp.response(200, schemas.SubscriptionListSchema)
    def get(self, args):
        """The citizen's message subscriptions per template: one-time sends left, or long-term."""
        items = services().push.list_subscriptions(_me())
        if args.get("channel"):
            items = [s for s in items if s["channel"] == args["channel"]]
        return private({"items": items})

    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.SubscriptionResultsSchema)
    @blp.response(200, schemas.SubscriptionListSchema)
    def post(self, body):
        """Record what the citizen tapped in the WeChat / Alipay subscribe popup, per template. Each
        accepted one-time template allows exactly one message; a long-term one allows messages until
        switched off; `ban` (or rejecting a long-term template) removes what was left. Answers the
        channel's subscriptions after the change."""
        items = services().push.record_subscriptions(_me(), body["channel"], body["results"])
        return private({"items": items})


@blp.route("/devices")
class Devices(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.DeviceSchema)
    @blp.response(200, schemas.DeviceRegisteredSchema)
    def post(self, body):
        """Register the APP's push token (one device per citizen: the latest registration wins)."""
        return private(services().push.register_device(_me(), body["device_token"], body["platform"]))

    @citizen_required(blp, acting_for=False)
    @blp.response(200, schemas.DeviceRemovedSchema)
    def delete(self):
        """Forget the APP push token (logout on the device, or push switched off in the APP)."""
        return private(services().push.remove_device(_me()))


@blp.route("/messages")
class Messages(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.InboxArgsSchema, location="query")
    @blp.response(200, schemas.InboxPageSchema)
    def get(self, args):
        """The in-app inbox, newest first; page on with `cursor=<next_cursor>`."""
        page = services().push.inbox(current_principal().account_id, limit=args["limit"], cursor=args.get("cursor"))
        return private(page)


@blp.route("/messages/unread-count")
class MessagesUnread(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.response(200, schemas.UnreadSchema)
    def get(self):
        """Unread inbox messages (the badge)."""
        return private(services().push.inbox_unread(current_principal().account_id))


@blp.route("/messages/read-all")
class MessagesReadAll(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.response(200, schemas.MarkedSchema)
    def post(self):
        """Mark every inbox message read."""
        return private(services().push.mark_inbox_read(current_principal().account_id))


@blp.route("/messages/<string:message_id>/read")
class MessageRead(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="`message_not_found`")
    @blp.alt_response(422, schema=ErrorEnvelopeSchema, description="`invalid_input`: not a message id")
    @blp.response(200, schemas.MarkedSchema)
    def post(self, message_id):
        """Mark one inbox message read (counts as `opened` for its campaign, once)."""
        return private(services().push.mark_inbox_read(current_principal().account_id, [message_id]))


