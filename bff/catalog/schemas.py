"""Request and response schemas of the catalogue endpoints (one success schema per endpoint)."""
from marshmallow import Schema, fields, pre_load, validate

REGION_CODE = validate.Regexp(r"^15\d{4}$", error="region must be a 6-digit Inner Mongolia division code, e.g. 150203")
MAX_QUERY_CHARS = 50
AUDIENCES = ("自然人", "法人")


class QueryArgsSchema(Schema):
    """Query arguments where an empty value (`region=`, `department=  `) means "not given": a
    client that clears a picker sends the name with nothing after it, and that is no error."""

    @pre_load
    def drop_empty(self, data, **kwargs):
        # data[key] through webargs' MultiDictProxy gives what the field expects (one value)
        return {key: data[key] for key in data
                if not (isinstance(data[key], str) and not data[key].strip())}


class RegionArgsSchema(QueryArgsSchema):
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


class LocalizedTextSchema(Schema):
    """A display string in the requested language, with its BCP 47 tag (WCAG 3.1.2)."""

    text = fields.String(required=True)
    lang = fields.String(required=True, metadata={"description": "`mn-Mong` or `zh-Hans`", "example": "mn-Mong"})
    fallback = fields.Boolean(required=True, metadata={"description": "Mongolian was asked for; this is the Chinese text"})


LOCAL_REGION_DOC = {"description": "only with `Accept-Language: mn`: the region name in Mongolian where known"}
LOCAL_NAME_DOC = {"description": "only with `Accept-Language: mn`: the item name in Mongolian (Chinese fallback, marked)"}


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
    name_local = fields.Nested(LocalizedTextSchema, metadata=LOCAL_NAME_DOC)
    region_name_local = fields.Nested(LocalizedTextSchema, allow_none=True, metadata=LOCAL_REGION_DOC)


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


class ThemeRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class HelpLineSchema(Schema):
    name = fields.String(required=True, metadata={"example": "12345政务服务便民热线"})
    phone = fields.String(required=True, metadata={"example": "12345"})
    tel = fields.String(required=True, metadata={"example": "tel:12345"})
    text = fields.String(required=True)


MATCH_DOC = {"description": "how the query matched: `exact` (items match all of its meaning), `relaxed` "
                            "(the closest items match part of it), `closest` (nothing within the filters: "
                            "the closest items without them), `none` (nothing recognised)",
             "example": "exact"}


class SearchResultSchema(Schema):
    query = fields.String(required=True)
    total = fields.Integer(required=True)
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(fields.Nested(SearchHitSchema), required=True)
    facets = fields.Nested(FacetsSchema, required=True)
    understood = fields.String(required=True, metadata={"description": "the query as understood: question words dropped, typos fixed, pinyin and initials in Chinese", "example": "营业执照到期"})
    match = fields.String(required=True, validate=validate.OneOf(("exact", "relaxed", "closest", "none")), metadata=MATCH_DOC)
    did_you_mean = fields.String(required=True, allow_none=True, metadata={"description": "the corrected query when a typo was fixed", "example": "公积金提取"})
    themes = fields.List(fields.Nested(ThemeRefSchema), required=True, metadata={"description": "unless `exact`: matching 一件事 themes"})
    help = fields.Nested(HelpLineSchema, required=True, allow_none=True, metadata={"description": "unless `exact`: the 12345 help line"})


class SuggestionSchema(Schema):
    text = fields.String(required=True)
    basic_code = fields.String(allow_none=True)
    kind = fields.String()


class SuggestResultSchema(Schema):
    query = fields.String(required=True)
    suggestions = fields.List(fields.Nested(SuggestionSchema), required=True)


class HotResultSchema(Schema):
    region = fields.String(allow_none=True)
    region_name_local = fields.Nested(LocalizedTextSchema, allow_none=True, metadata=LOCAL_REGION_DOC)
    items = fields.List(fields.Nested(ItemSummarySchema), required=True)


class HandleItemSchema(Schema):
    index = fields.Integer(required=True)
    name = fields.String(required=True)
    implementation_code = fields.String(required=True)


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
    region_name_local = fields.Nested(LocalizedTextSchema, allow_none=True, metadata=LOCAL_REGION_DOC)
    items = fields.List(fields.Nested(ItemSummarySchema), required=True)


# -- elder mode (长辈版, `X-Client-Mode: elder`): see accessibility/README.md --------------------


class SpokenTextSchema(Schema):
    text = fields.String(required=True)
    speech_text = fields.String(required=True, metadata={"description": "for text-to-speech: numbers, dates and phones written out"})


class ContactSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "`hotline` (12345, always first) or `department`"})
    name = fields.String(required=True)
    phone = fields.String(required=True)
    tel = fields.String(required=True, metadata={"example": "tel:12345"})
    a11y_label = fields.String(required=True)
    speech_text = fields.String(required=True)


class HelpSchema(Schema):
    title = fields.String(required=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)
    speech_text = fields.String(required=True)


class ColourPairSchema(Schema):
    role = fields.String(required=True)
    foreground = fields.String(required=True)
    background = fields.String(required=True)
    contrast = fields.Float(required=True)


class PresentationSchema(Schema):
    """Rendering tokens of the elder UI (MIIT 适老化 §1–§2); clients render, the BFF only advises."""

    min_body_dp = fields.Integer(required=True)
    body_dp = fields.Integer(required=True)
    min_title_dp = fields.Integer(required=True)
    touch_target_dp = fields.Integer(required=True)
    min_touch_target_dp = fields.Integer(required=True)
    line_height = fields.Float(required=True)
    paragraph_spacing = fields.Float(required=True)
    tiles_per_row = fields.Integer(required=True)
    max_tiles = fields.Integer(required=True)
    min_contrast = fields.Float(required=True)
    colours = fields.List(fields.Nested(ColourPairSchema), required=True)
    no_popups = fields.Boolean(required=True)
    font_family = fields.String(required=True)


class ElderTileSchema(Schema):
    basic_code = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "plain name"})
    name = fields.String(required=True, metadata={"description": "official name"})
    summary = fields.String(required=True, metadata={"description": "one plain sentence"})
    speech_text = fields.String(required=True)
    a11y_label = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "BFF detail route"})
    link = fields.String(metadata={"description": "home only: where the client opens it (deep link or mini-program page)"})
    region_code = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    name_local = fields.Nested(LocalizedTextSchema, metadata=LOCAL_NAME_DOC)
    region_name_local = fields.Nested(LocalizedTextSchema, allow_none=True, metadata=LOCAL_REGION_DOC)


class ElderSearchResultSchema(Schema):
    mode = fields.String(required=True, metadata={"example": "elder"})
    query = fields.String(required=True)
    total = fields.Integer(required=True)
    shown = fields.Integer(required=True)
    has_more = fields.Boolean(required=True)
    items = fields.List(fields.Nested(ElderTileSchema), required=True, metadata={"description": "at most 5"})
    speech_text = fields.String(required=True)
    help = fields.Nested(HelpSchema, required=True)
    presentation = fields.Nested(PresentationSchema, required=True)
    match = fields.String(validate=validate.OneOf(("exact", "relaxed", "closest", "none")), metadata=MATCH_DOC)
    did_you_mean = fields.String(allow_none=True, metadata={"description": "the corrected query when a typo was fixed"})
    themes = fields.List(fields.Nested(ThemeRefSchema), metadata={"description": "unless `exact`: matching 一件事 themes"})


class ChecklistEntrySchema(Schema):
    index = fields.Integer(required=True)
    text = fields.String(required=True, metadata={"description": "plain wording"})
    official = fields.String(required=True)
    optional = fields.Boolean(required=True)
    checked = fields.Boolean(required=True)
    speech_text = fields.String(required=True)


class VisitsSchema(Schema):
    count = fields.Integer(required=True)
    text = fields.String(required=True)
    speech_text = fields.String(required=True)


class DurationSchema(Schema):
    promised_days = fields.Integer(allow_none=True)
    text = fields.String(required=True)
    speech_text = fields.String(required=True)


class WhereSchema(Schema):
    address = fields.String(required=True)
    office_hours = fields.String(required=True)
    text = fields.String(required=True)
    speech_text = fields.String(required=True)


class CallSchema(Schema):
    department = fields.String(required=True)
    phone = fields.String(required=True)
    tel = fields.String(required=True)
    a11y_label = fields.String(required=True)
    speech_text = fields.String(required=True)


class OnlineSchema(Schema):
    available = fields.Boolean(required=True)
    path = fields.String(allow_none=True)
    text = fields.String(required=True)


class ElderItemDetailSchema(Schema):
    mode = fields.String(required=True, metadata={"example": "elder"})
    basic_code = fields.String(required=True)
    title = fields.String(required=True)
    name = fields.String(required=True)
    summary = fields.String(required=True)
    checklist = fields.List(fields.Nested(ChecklistEntrySchema), required=True, metadata={"description": "materials to bring"})
    conditions = fields.Nested(SpokenTextSchema, required=True)
    visits = fields.Nested(VisitsSchema, required=True)
    duration = fields.Nested(DurationSchema, required=True)
    fee = fields.Nested(SpokenTextSchema, required=True)
    where = fields.Nested(WhereSchema, required=True)
    call = fields.Nested(CallSchema, required=True, allow_none=True)
    online = fields.Nested(OnlineSchema, required=True)
    region_code = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    speech_text = fields.String(required=True)
    help = fields.Nested(HelpSchema, required=True)
    presentation = fields.Nested(PresentationSchema, required=True)
    name_local = fields.Nested(LocalizedTextSchema, metadata=LOCAL_NAME_DOC)
    region_name_local = fields.Nested(LocalizedTextSchema, allow_none=True, metadata=LOCAL_REGION_DOC)


# One success response per operation, in two documented shapes chosen by X-Client-Mode.
SEARCH_RESPONSE = {"oneOf": [SearchResultSchema, ElderSearchResultSchema]}
ITEM_DETAIL_RESPONSE = {"oneOf": [ItemDetailSchema, ElderItemDetailSchema]}
