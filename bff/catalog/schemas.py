"""Request and response schemas of the catalogue endpoints (one success schema per endpoint)."""
from marshmallow import Schema, fields, validate

REGION_CODE = validate.Regexp(r"^15\d{4}$", error="region must be a 6-digit Inner Mongolia division code, e.g. 150203")
MAX_QUERY_CHARS = 50
AUDIENCES = ("自然人", "法人")


class RegionArgsSchema(Schema):
    region = fields.String(validate=REGION_CODE, metadata={"description": "6-digit division code of the citizen's place", "example": "150203"})


class SearchArgsSchema(RegionArgsSchema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=MAX_QUERY_CHARS), metadata={"description": "what the citizen typed: Chinese, pinyin, initials, mixed", "example": "办身份证"})
    department = fields.String(validate=validate.Length(min=1, max=40))
    item_type = fields.String(validate=validate.Length(min=1, max=20), metadata={"example": "行政许可"})
    audience = fields.String(validate=validate.OneOf(AUDIENCES))
    online_depth = fields.Integer(validate=validate.Range(min=1, max=4))
    theme = fields.String(validate=validate.Regexp(r"^T\d{2}$", error="theme must look like T01"))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class SuggestArgsSchema(RegionArgsSchema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=MAX_QUERY_CHARS), metadata={"example": "shen"})


class HotArgsSchema(RegionArgsSchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class ItemSummarySchema(Schema):
    basic_code = fields.String(required=True)
    implementation_code = fields.String()
    name = fields.String(required=True)
    local_name = fields.String(allow_none=True)
    short_name = fields.String(allow_none=True)
    plain_name = fields.String(allow_none=True)
    department = fields.String()
    item_type = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    online_depth = fields.Integer()
    visits = fields.Integer()
    promised_days = fields.Integer()
    popularity = fields.Integer()


class SearchHitSchema(ItemSummarySchema):
    implementation_code = fields.String(required=True)
    department = fields.String(required=True)
    region_code = fields.String(required=True)
    online_depth = fields.Integer(required=True)
    visits = fields.Integer(required=True)
    promised_days = fields.Integer(required=True)
    highlight = fields.String(required=True, metadata={"description": "display name with matches wrapped in <em>"})


class FacetsSchema(Schema):
    department = fields.Dict(keys=fields.String(), values=fields.Integer())
    item_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    theme = fields.Dict(keys=fields.String(), values=fields.Integer())
    online_depth = fields.Dict(keys=fields.String(), values=fields.Integer())


class SearchResultSchema(Schema):
    query = fields.String(required=True)
    total = fields.Integer(required=True)
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(fields.Nested(SearchHitSchema), required=True)
    facets = fields.Nested(FacetsSchema, required=True)


class SuggestionSchema(Schema):
    text = fields.String(required=True)
    basic_code = fields.String(allow_none=True)
    kind = fields.String()


class SuggestResultSchema(Schema):
    query = fields.String(required=True)
    suggestions = fields.List(fields.Nested(SuggestionSchema), required=True)


class HotResultSchema(Schema):
    region = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemSummarySchema), required=True)


class HandleItemSchema(Schema):
    index = fields.Integer(required=True)
    name = fields.String(required=True)
    implementation_code = fields.String(required=True)


class ThemeRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ItemDetailSchema(ItemSummarySchema):
    implementation_code = fields.String(required=True)
    department = fields.String(required=True)
    department_full = fields.String(metadata={"description": "the implementing body, e.g. 昆都仑区农牧局"})
    department_code = fields.String()
    audience = fields.List(fields.String())
    level = fields.String(metadata={"description": "province / city / county / township"})
    region_code = fields.String(required=True)
    is_online = fields.Boolean(required=True)
    online_url = fields.String(allow_none=True)
    mobile_path = fields.String(allow_none=True)
    legal_days = fields.Integer()
    fee = fields.String(allow_none=True, metadata={"description": "null when free"})
    materials = fields.List(fields.String(), required=True)
    conditions = fields.String()
    address = fields.String(metadata={"description": "where to go"})
    office_hours = fields.String()
    phone = fields.String(metadata={"description": "consultation phone of the implementing body"})
    handle_items = fields.List(fields.Nested(HandleItemSchema))
    themes = fields.List(fields.Nested(ThemeRefSchema))
    tags = fields.List(fields.String())
    elder_relevant = fields.Boolean()


class ThemeSummarySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    audience = fields.List(fields.String())
    origin = fields.String()
    description = fields.String()
    aliases = fields.List(fields.String())
    item_count = fields.Integer()


class ThemeListSchema(Schema):
    themes = fields.List(fields.Nested(ThemeSummarySchema), required=True)


class ThemeDetailSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    audience = fields.List(fields.String())
    origin = fields.String()
    description = fields.String()
    aliases = fields.List(fields.String())
    region = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemSummarySchema), required=True)
