"""Request and response schemas of ``GET /v1/home`` (one success schema; sections per mode)."""
from marshmallow import Schema, fields

from bff.catalog.schemas import (LOCAL_NAME_DOC, REGION_CODE, ElderTileSchema, HelpSchema, LocalizedTextSchema,
                                 PresentationSchema)


class HomeArgsSchema(Schema):
    region = fields.String(validate=REGION_CODE, metadata={
        "description": "6-digit division code; default the citizen's home region, else 150000 (the whole region)",
        "example": "150102"})


class RegionBlockSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_local = fields.Nested(LocalizedTextSchema, metadata={"description": "only with `Accept-Language: mn`"})


class HomeItemSchema(Schema):
    basic_code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "short display name, the same on every channel"})
    link = fields.String(required=True, metadata={"description": "APP deep link (msb://item/…) or mini-program page path"})
    full_name = fields.String(metadata={"description": "APP only"})
    department = fields.String(metadata={"description": "APP only"})
    online_depth = fields.Integer(metadata={"description": "APP only"})
    visits = fields.Integer(metadata={"description": "APP only"})
    name_local = fields.Nested(LocalizedTextSchema, metadata=LOCAL_NAME_DOC)


class HomeThemeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    link = fields.String(required=True)
    item_count = fields.Integer(metadata={"description": "APP only"})


class RecommendationSchema(Schema):
    basic_code = fields.String(required=True)
    name = fields.String(required=True)
    reason = fields.String(required=True, metadata={"example": "本地区热门"})
    reason_code = fields.String(allow_none=True)
    link = fields.String(required=True)
    name_local = fields.Nested(LocalizedTextSchema, metadata=LOCAL_NAME_DOC)


class NoticeSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(allow_none=True)
    category = fields.String(required=True, metadata={"description": "always `policy`"})
    published_at = fields.Raw(allow_none=True, metadata={"description": "epoch seconds or ISO 8601, as published"})
    link = fields.String(required=True)


class MeSummarySchema(Schema):
    name_masked = fields.String(allow_none=True)
    realname_level = fields.Integer(required=True)
    realname_level_name = fields.String(required=True)
    bindings_count = fields.Integer(metadata={"description": "standard mode only"})
    enterprises_count = fields.Integer(metadata={"description": "standard mode only"})


class InboxSummarySchema(Schema):
    unread = fields.Integer(required=True)


class HomeSchema(Schema):
    channel = fields.String(required=True, metadata={"description": "app | wechat | alipay: the shape follows it"})
    mode = fields.String(required=True, metadata={"description": "standard | elder"})
    language = fields.String(required=True, metadata={"description": "zh | mn"})
    lang = fields.String(required=True, metadata={"description": "BCP 47 tag of the answer's own strings", "example": "zh-Hans"})
    region = fields.Nested(RegionBlockSchema, required=True)
    # standard mode
    hot = fields.List(fields.Nested(HomeItemSchema), metadata={"description": "standard mode"})
    themes = fields.List(fields.Nested(HomeThemeSchema), metadata={"description": "standard mode: 一件事"})
    recommendations = fields.List(fields.Nested(RecommendationSchema), metadata={"description": "standard mode"})
    # elder mode (长辈版): no marketing of any kind
    tiles = fields.List(fields.Nested(ElderTileSchema), metadata={"description": "elder mode: at most 8 large tiles"})
    help = fields.Nested(HelpSchema, metadata={"description": "elder mode: 12345 first"})
    presentation = fields.Nested(PresentationSchema, metadata={"description": "elder mode"})
    speech_text = fields.String(metadata={"description": "elder mode: the tiles read aloud"})
    # both
    notices = fields.List(fields.Nested(NoticeSchema), required=True, metadata={"description": "campaign notices of category policy"})
    personal = fields.Boolean(required=True, metadata={"description": "true when signed in: the answer is then `Cache-Control: private, no-store`"})
    me = fields.Nested(MeSummarySchema, required=True, allow_none=True)
    inbox = fields.Nested(InboxSummarySchema, required=True, allow_none=True)
