"""Request and response schemas of the operator console's campaign API (one success schema per endpoint).

Shapes are checked here (→ 422 ``validation_failed``); meaning (known templates, WeChat value rules,
known regions/items/themes, schedule windows) by ``push``, with its own codes naming the field.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from bff.push.schemas import BASIC_CODE, REGION, TEMPLATE_ID, TIMESTAMP, _Strict
from push.campaign_spec import CATEGORIES
from push.campaigns import STATUSES
from push.settings import CHANNELS


# --- operator requests ---------------------------------------------------------------------------------------


class WeChatContentSchema(_Strict):
    template_id = fields.String(required=True, validate=TEMPLATE_ID, metadata={"example": "wx_tpl_service_reminder"})
    data = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)), values=fields.Raw(), required=True,
                       metadata={"description": "`{key: value}` or WeChat's `{key: {value}}`; each value is checked "
                                 "against its key prefix (thing ≤ 20 chars, phrase ≤ 5 汉字, time, …)",
                                 "example": {"thing1": "养老金资格认证"}})
    page = fields.String(allow_none=True, validate=validate.Length(max=512))
    miniprogram_state = fields.String(validate=validate.OneOf(("developer", "trial", "formal")))


class AlipayContentSchema(_Strict):
    template_id = fields.String(required=True, validate=TEMPLATE_ID, metadata={"example": "ali_tpl_service_reminder"})
    data = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)), values=fields.Raw(), required=True,
                       metadata={"description": "`{keywordN: value}`, values ≤ 50 chars"})
    page = fields.String(allow_none=True, validate=validate.Length(max=512))


class AppContentSchema(_Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=50))
    body = fields.String(required=True, validate=validate.Length(min=1, max=256))
    payload = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), values=fields.Raw(),
                          metadata={"description": "extra data for the APP (≤ 1 KB as JSON)"})


class InboxContentSchema(_Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=50))
    text = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ContentSchema(_Strict):
    wechat = fields.Nested(WeChatContentSchema)
    alipay = fields.Nested(AlipayContentSchema)
    app = fields.Nested(AppContentSchema)
    inbox = fields.Nested(InboxContentSchema)


_LIST = validate.Length(max=200)


class AudienceRulesSchema(_Strict):
    """All optional, AND across rules, OR inside a list."""

    regions = fields.List(fields.String(validate=REGION), validate=_LIST,
                          metadata={"description": "home region; a 盟市 code includes all its 旗县, 150000 is everyone", "example": ["150100"]})
    age_min = fields.Integer(validate=validate.Range(min=0, max=130), metadata={"description": "from the verified ID number"})
    age_max = fields.Integer(validate=validate.Range(min=0, max=130))
    subject = fields.String(validate=validate.OneOf(("any", "person", "enterprise")))
    themes = fields.List(fields.String(validate=validate.Length(min=1, max=16)), validate=_LIST, metadata={"description": "touched any of these 一件事"})
    handled = fields.List(fields.String(validate=BASIC_CODE), validate=_LIST, metadata={"description": "finished (办结) any of these items"})
    not_handled = fields.List(fields.String(validate=BASIC_CODE), validate=_LIST, metadata={"description": "finished none of these items"})
    started_not_finished = fields.List(fields.String(validate=BASIC_CODE), validate=_LIST)


class ScheduleSchema(_Strict):
    start_at = fields.Float(allow_none=True, validate=TIMESTAMP, metadata={"description": "Unix seconds; default: when scheduled"})
    end_at = fields.Float(allow_none=True, validate=TIMESTAMP, metadata={"description": "Unix seconds; unsent messages expire then (window ≤ 90 days)"})


class CampaignCreateSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES),
                             metadata={"description": "service (no opt-out, always in the inbox) | policy | marketing"})
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True, validate=validate.Length(min=1, max=4),
                           metadata={"description": "in priority order", "example": ["wechat", "inbox"]})
    content = fields.Nested(ContentSchema, required=True, metadata={"description": "one entry per channel (service campaigns: inbox too)"})
    page = fields.String(allow_none=True, validate=validate.Length(max=512), metadata={"description": "target mini-program page", "example": "pages/item/detail?code=B0096"})
    audience = fields.Nested(AudienceRulesSchema)
    schedule = fields.Nested(ScheduleSchema)
    max_per_citizen = fields.Integer(validate=validate.Range(min=1, max=4),
                                     metadata={"description": "messages per citizen across the channels (default: one per channel)"})
    note = fields.String(validate=validate.Length(max=500))


class CampaignUpdateSchema(CampaignCreateSchema):
    """Only the given fields change (drafts only)."""

    name = fields.String(validate=validate.Length(min=1, max=60))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), validate=validate.Length(min=1, max=4))
    content = fields.Nested(ContentSchema)
    version = fields.Integer(validate=validate.Range(min=0, max=2**31), metadata={
        "description": "the version you edited; 409 `version_conflict` when someone saved in between"})


class CampaignListArgsSchema(_Strict):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000))


class ApproveSchema(_Strict):
    version = fields.Integer(required=True, validate=validate.Range(min=0, max=2**31), metadata={
        "description": "the version you reviewed; 409 `version_conflict` if it changed since (review it again)"})


class RejectSchema(_Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ReasonSchema(_Strict):
    reason = fields.String(validate=validate.Length(min=1, max=200))


class StatsArgsSchema(_Strict):
    since = fields.Float(validate=TIMESTAMP)
    until = fields.Float(validate=TIMESTAMP)


class DeadLetterArgsSchema(_Strict):
    campaign_id = fields.String(validate=validate.Length(min=1, max=64))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class EstimateSchema(_Strict):
    audience = fields.Nested(AudienceRulesSchema, load_default=dict)
    category = fields.String(validate=validate.OneOf(CATEGORIES),
                             metadata={"description": "marketing/policy: per-channel counts leave out the opted-out"})


# --- operator responses ----------------------------------------------------------------------------------------


class WindowSchema(Schema):
    start_at = fields.Float(required=True, allow_none=True)
    end_at = fields.Float(required=True, allow_none=True)


class CampaignSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    channels = fields.List(fields.String(), required=True)
    effective_channels = fields.List(fields.String(), required=True, metadata={"description": "service campaigns add the inbox"})
    content = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    page = fields.String(required=True, allow_none=True)
    audience = fields.Dict(required=True)
    schedule = fields.Nested(WindowSchema, required=True)
    max_per_citizen = fields.Integer(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": " | ".join(STATUSES)})
    version = fields.Integer(required=True)
    author = fields.String(required=True)
    author_name = fields.String(required=True, allow_none=True, metadata={"description": "the creator's username"})
    authors = fields.List(fields.String(), required=True, metadata={
        "description": "the creator and every operator who changed the spec since; none of them may approve"})
    created_at = fields.Float(required=True)
    updated_at = fields.Float(required=True)
    approved_by = fields.String(required=True, allow_none=True)
    approved_by_name = fields.String(required=True, allow_none=True, metadata={"description": "the approver's username"})
    approved_at = fields.Float(required=True, allow_none=True)
    rejection = fields.String(required=True, allow_none=True)
    paused_reason = fields.String(required=True, allow_none=True)
    plan_state = fields.String(required=True, allow_none=True)
    resumed_batches = fields.Integer(metadata={"description": "resume only: parked batches sent back to the queues"})


class FiguresSchema(Schema):
    audience = fields.Integer(required=True)
    planned = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    clicked = fields.Integer(required=True)


class CampaignSummarySchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    channels = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    author = fields.String(required=True)
    author_name = fields.String(required=True, allow_none=True)
    approved_by = fields.String(required=True, allow_none=True)
    approved_by_name = fields.String(required=True, allow_none=True)
    schedule = fields.Nested(WindowSchema, required=True)
    created_at = fields.Float(required=True)
    updated_at = fields.Float(required=True)
    figures = fields.Nested(FiguresSchema, required=True)


class CampaignListSchema(Schema):
    items = fields.List(fields.Nested(CampaignSummarySchema), required=True)


_COUNTS = fields.Dict(keys=fields.String(), values=fields.Integer())


class ChannelPlanSchema(Schema):
    channel = fields.String(required=True)
    candidates = fields.Integer(required=True)
    enqueued = fields.Integer(required=True, metadata={"description": "would be sent"})
    deferred_until = fields.Float(required=True, allow_none=True, metadata={"description": "quiet hours: sent then"})
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class PreviewSchema(Schema):
    campaign_id = fields.String(required=True)
    audience = fields.Integer(required=True, metadata={"description": "citizens matching the rules"})
    reach = fields.Integer(required=True, metadata={"description": "citizens who would get at least one message"})
    enqueued = fields.Integer(required=True)
    quiet_hours_deferred = fields.Integer(required=True)
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "opted_out, no_channel_address, duplicate, frequency_cap, not_subscribed, quota_exhausted"})
    channels = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelPlanSchema), required=True)
    samples = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True, metadata={"description": "rendered payload per channel"})
    seconds = fields.Float(required=True)
    dry_run = fields.Boolean(required=True)


class AuditEntrySchema(Schema):
    id = fields.String(required=True)
    at = fields.Float(required=True)
    actor = fields.String(required=True, metadata={"description": "operator account id, or `system` (worker)"})
    actor_name = fields.String(required=True, allow_none=True, metadata={"description": "the operator's username (`系统` for the worker)"})
    action = fields.String(required=True)
    from_ = fields.String(required=True, allow_none=True, attribute="from", data_key="from")
    to = fields.String(required=True)
    changes = fields.Raw(required=True, metadata={"description": "create/update: `fields` written; else reason, window"})
    version = fields.Integer(required=True, allow_none=True, metadata={"description": "the campaign version this change produced"})


class AuditSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)


class VersionSchema(Schema):
    version = fields.Integer(required=True, metadata={"description": "the campaign version this write produced"})
    written_by = fields.String(required=True, metadata={"description": "operator account id"})
    written_by_name = fields.String(required=True, allow_none=True, metadata={"description": "the operator's username"})
    fields_ = fields.List(fields.String(), required=True, attribute="fields", data_key="fields",
                          metadata={"description": "spec fields this write changed (all given ones at creation)"})
    at = fields.Float(required=True)
    spec = fields.Raw(required=True, metadata={"description": "the normalised spec as written"})


class VersionsSchema(Schema):
    items = fields.List(fields.Nested(VersionSchema), required=True)


class DeadLetterRetriedSchema(Schema):
    at = fields.Float(required=True)
    actor = fields.String(required=True, metadata={"description": "operator account id"})
    actor_name = fields.String(required=True, allow_none=True, metadata={"description": "the operator's username"})
    requeued = fields.Integer(required=True, metadata={"description": "messages sent back to the queue"})


class DeadLetterSchema(Schema):
    id = fields.String(required=True, metadata={"description": "dead-letter entry id (`<ms>-<seq>`)"})
    campaign_id = fields.String(required=True)
    channel = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "the last failure code (`-1`, `45009`, `processing_error`, …)"})
    attempts = fields.Integer(required=True)
    at = fields.Float(required=True)
    messages = fields.Integer(required=True, metadata={"description": "messages in the entry"})
    retried = fields.Nested(DeadLetterRetriedSchema, required=True, allow_none=True,
                            metadata={"description": "null until an operator retried it (once only)"})


class DeadLetterListSchema(Schema):
    items = fields.List(fields.Nested(DeadLetterSchema), required=True)


class DeadLetterRetryResultSchema(Schema):
    entry_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    channel = fields.String(required=True)
    requeued = fields.Integer(required=True, metadata={"description": "messages back in the queue for another round of attempts"})
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "messages left dead, by reason: sent, unknown, in_flight, no_consent, not_dead"})
    status = fields.String(required=True, metadata={"description": "the campaign's status (paused: sent on resume)"})


class SeriesPointSchema(Schema):
    minute = fields.Integer(required=True, metadata={"description": "start of the minute, Unix seconds"})
    planned = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    clicked = fields.Integer(required=True)


class StatsSchema(Schema):
    campaign_id = fields.String(required=True)
    status = fields.String(required=True)
    audience = fields.Integer(required=True)
    reach = fields.Integer(required=True)
    planned = fields.Integer(required=True)
    deferred = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    delivery_failed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    unknown = fields.Integer(required=True)
    retries = fields.Integer(required=True)
    dead = fields.Integer(required=True)
    dead_retried = fields.Integer(required=True, metadata={"description": "dead letters re-queued by operators"})
    cancelled = fields.Integer(required=True)
    expired = fields.Integer(required=True)
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "by reason: opted_out, no_channel_address, duplicate, frequency_cap, not_subscribed, quota_exhausted"})
    skipped_by_channel = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()), required=True)
    quiet_hours_deferred = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    clicked = fields.Integer(required=True)
    outstanding = fields.Integer(required=True)
    attempts = fields.Integer(required=True)
    errors = fields.Integer(required=True)
    error_rate = fields.Float(required=True)
    channels = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()), required=True)
    failed_codes = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()), required=True)
    series = fields.List(fields.Nested(SeriesPointSchema), required=True)


class CountySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)
    kind = fields.String(required=True)


class CitySchema(CountySchema):
    children = fields.List(fields.Nested(CountySchema), required=True)


class RegionTreeSchema(CountySchema):
    children = fields.List(fields.Nested(CitySchema), required=True)


class EstimateResultSchema(Schema):
    audience = fields.Integer(required=True, metadata={"description": "citizens matching the rules"})
    reachable = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                            metadata={"description": "per channel: with an address (and not opted out for the category); "
                                      "WeChat/Alipay consent is per template and shown by the campaign preview"})


class TemplateSchema(Schema):
    channel = fields.String(required=True)
    template_id = fields.String(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    keys = fields.List(fields.String(), required=True)


class TemplateListSchema(Schema):
    items = fields.List(fields.Nested(TemplateSchema), required=True)
