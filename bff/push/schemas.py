"""Request and response schemas of recommendations, events, subscriptions, devices, the inbox and WeChat's
message-push URL (one success schema per endpoint); the console's are in ``bff.push.schemas_admin``.

Requests are checked for shape here (types, lengths, enumerations → 422 ``validation_failed``); the
meaning (known templates, WeChat value rules per key prefix, known regions/items/themes, schedule
windows) is checked by ``push`` and answered with its own codes (422 ``invalid_template_data``,
``unknown_template``, ``unknown_region``, ``unknown_item`` …), naming the field.
"""
from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from bff.auth.schemas import FullMatch
from push.consent import RESULTS
from push.errors import TooManyEvents
from push.events import EVENT_TYPES, MAX_BATCH, MAX_QUERY
from push.profiles import APP_PLATFORMS
from push.settings import CONSENT_CHANNELS

REGION = FullMatch(r"^[0-9]{6}$", error="a 6-digit administrative division code")
BASIC_CODE = validate.Length(min=1, max=32)
TEMPLATE_ID = validate.Length(min=1, max=64)
MAX_TS = 4_102_444_800  # 2100-01-01: any later "timestamp" is a mistake (milliseconds?)
TIMESTAMP = validate.Range(min=1, max=MAX_TS)


class _Strict(Schema):
    """Unknown fields are refused (422), as marshmallow does by default."""


# --- citizen requests ---------------------------------------------------------------------------------


class RecommendationArgsSchema(_Strict):
    region = fields.String(validate=REGION, metadata={"description": "6-digit region code; a signed-in citizen's home region wins", "example": "150102"})
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=20), metadata={"description": "anonymous callers get at most 5"})


class EventSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    item = fields.String(validate=BASIC_CODE, metadata={"description": "basic code (view/start/finish; optional for search: the result picked)", "example": "B0096"})
    query = fields.String(validate=validate.Length(min=1, max=MAX_QUERY), metadata={"description": "search: what was typed"})
    theme = fields.String(validate=validate.Length(min=1, max=16), metadata={"description": "view_theme: the 一件事 theme code", "example": "T01"})
    message_id = fields.String(validate=validate.Length(min=1, max=128), metadata={"description": "click: the id of the push or inbox message"})


class EventBatchSchema(_Strict):
    events = fields.List(fields.Nested(EventSchema), required=True, validate=validate.Length(min=1),
                         metadata={"description": f"at most {MAX_BATCH} events (413 `too_many_events` above)"})
    region = fields.String(validate=REGION, metadata={"description": "anonymous callers: the region the app shows (feeds regional popularity)"})

    @pre_load
    def _batch_size(self, data, **kwargs):
        # Checked before validating each event: a huge batch is refused without looking inside.
        if isinstance(data, dict) and isinstance(data.get("events"), list) and len(data["events"]) > MAX_BATCH:
            raise TooManyEvents(MAX_BATCH)
        return data


class SubscriptionResultsSchema(_Strict):
    channel = fields.String(required=True, validate=validate.OneOf(CONSENT_CHANNELS))
    results = fields.Dict(
        keys=fields.String(validate=TEMPLATE_ID), values=fields.String(validate=validate.OneOf(RESULTS)),
        required=True, validate=validate.Length(min=1, max=5),
        metadata={"description": "the popup's per-template answers, as `wx.requestSubscribeMessage` / "
                  "`my.requestSubscribeMessage` report them: accept, reject, ban (switched off for good), filter",
                  "example": {"wx_tpl_service_reminder": "accept"}})


class SubscriptionArgsSchema(_Strict):
    channel = fields.String(validate=validate.OneOf(CONSENT_CHANNELS))


class DeviceSchema(_Strict):
    device_token = fields.String(required=True, validate=FullMatch(r"^[A-Za-z0-9:_\-.]{8,256}$", error="a push token from the vendor SDK"))
    platform = fields.String(required=True, validate=validate.OneOf(APP_PLATFORMS))


class InboxArgsSchema(_Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=3, max=160),
                           metadata={"description": "`next_cursor` of the previous page"})


# --- citizen responses -----------------------------------------------------------------------------------


class RecommendedThemeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class RecommendedItemSchema(Schema):
    basic_code = fields.String(required=True, metadata={"example": "B0096"})
    name = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": "why, for the citizen", "example": "您最近搜索了“出生医学证明”"})
    reason_code = fields.String(required=True, metadata={"description": "in_progress | search | theme | life_stage | popular_region | popular"})
    theme = fields.Nested(RecommendedThemeSchema, required=True, allow_none=True)


class RecommendationsSchema(Schema):
    items = fields.List(fields.Nested(RecommendedItemSchema), required=True)
    personalised = fields.Boolean(required=True)


class EventsAcceptedSchema(Schema):
    accepted = fields.Integer(required=True)


class SubscriptionSchema(Schema):
    channel = fields.String(required=True)
    template_id = fields.String(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "one_time (one accept = one message) | long_term"})
    remaining = fields.Integer(required=True, allow_none=True, metadata={"description": "one-time sends left; null for long-term"})
    active = fields.Boolean(required=True)


class SubscriptionListSchema(Schema):
    items = fields.List(fields.Nested(SubscriptionSchema), required=True)


class DeviceRegisteredSchema(Schema):
    registered = fields.Boolean(required=True)
    platform = fields.String(required=True)


class DeviceRemovedSchema(Schema):
    removed = fields.Boolean(required=True)


class InboxMessageSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    text = fields.String(required=True)
    page = fields.String(required=True, allow_none=True)
    category = fields.String(required=True)
    campaign = fields.String(required=True)
    at = fields.Float(required=True)
    read = fields.Boolean(required=True)


class InboxPageSchema(Schema):
    items = fields.List(fields.Nested(InboxMessageSchema), required=True)
    unread = fields.Integer(required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class UnreadSchema(Schema):
    unread = fields.Integer(required=True)


class MarkedSchema(Schema):
    marked = fields.Integer(required=True)
    unread = fields.Integer(required=True)


# --- WeChat message-push URL -------------------------------------------------------------------------------


class WeChatQuerySchema(Schema):
    """Query of WeChat's calls; other parameters WeChat may add are ignored."""

    class Meta:
        unknown = "exclude"

    signature = fields.String(validate=validate.Length(max=64))
    timestamp = fields.String(validate=validate.Length(max=20))
    nonce = fields.String(validate=validate.Length(max=64))
    echostr = fields.String(validate=validate.Length(max=256), metadata={"description": "GET (URL check) only"})
    encrypt_type = fields.String(validate=validate.Length(max=16))
    msg_signature = fields.String(validate=validate.Length(max=64))
