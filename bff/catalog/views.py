"""Thin views over ``catalog.service.Catalogue``; all catalogue answers are public and cached.

Every GET goes through ``bff.caching.views.cached`` (outside flask-smorest's decorators): a hit is a
ready response with its stored body and ETag. Variants (``bff.client_context``):

* ``X-Client-Mode: elder`` on search and item detail: the 长辈版 shapes of ``accessibility.elder``
  (≤ 5 results, plain names, speech text, materials as a checklist, help block);
* ``Accept-Language: mn``: Mongolian region names where the reference data has them, each localized
  string tagged (``mn-Mong``) and marked when it falls back to Chinese (``accessibility.mongolian``).

Answers that do not change with a dimension do not vary on it (one cache entry, no ``Vary``).
"""
from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from accessibility import elder_item_detail, elder_search, names_for
from bff import client_context
from bff.caching.views import cached
from bff.catalog import schemas
from bff.extensions import services

blp = Blueprint("catalog", __name__, url_prefix="/v1", description="Government service items and 一件事 themes")

MODE_AND_LANGUAGE = ("mode", "language")
LANGUAGE = ("language",)
HEADERS = client_context.openapi_parameters(("channel", "mode", "language"))
ELDER_PAGE_SIZE = 5


def _localized(payload: Any) -> Any:
    language = client_context.current().language
    if language == "zh":
        return payload
    return names_for(services().catalogue.get().ref).localize(payload, language)


def _elder() -> bool:
    return client_context.current().mode == "elder"


@blp.route("/items/search", parameters=HEADERS)
class ItemSearch(MethodView):
    @cached(blp, "items.search", query=schemas.SearchArgsSchema, depends_on=MODE_AND_LANGUAGE)
    @blp.arguments(schemas.SearchArgsSchema, location="query")
    @blp.response(200, schemas.SEARCH_RESPONSE)
    def get(self, args):
        """Search items the way citizens type (Chinese, pinyin, initials, typos), one entry per basic item.

        `X-Client-Mode: elder` answers the 长辈版 shape: the top 5 in plain words with speech text
        and the help block (`has_more` offers the next `page`); `page_size` is then fixed, and what
        elderly people need (养老认证, 高龄津贴, 医保…) ranks higher.

        Never an empty page while the query names a known need: question words are ignored,
        typos fixed (`did_you_mean`), and when no item matches all of it the closest ones are
        returned (`match`: `relaxed`/`closest`) with the matching 一件事 `themes` and the 12345
        `help` line. An empty parameter (`region=`) counts as not given.
        """
        query = args.pop("q")
        catalogue = services().catalogue.get()
        if _elder():
            args["page_size"] = ELDER_PAGE_SIZE
            result = catalogue.search(query, mode="elder", **args)
            payload = elder_search(result, region=args.get("region"))
            payload["has_more"] = args["page"] * ELDER_PAGE_SIZE < payload["total"]
            payload.update(match=result.match, did_you_mean=result.did_you_mean,
                           themes=[t.to_dict() for t in result.themes])
            return jsonify(schemas.ElderSearchResultSchema().dump(_localized(payload)))
        result = catalogue.search(query, **args)
        return jsonify(schemas.SearchResultSchema().dump(_localized(result.to_dict())))


@blp.route("/items/suggest", parameters=HEADERS)
class ItemSuggest(MethodView):
    @cached(blp, "items.suggest", query=schemas.SuggestArgsSchema, depends_on=())
    @blp.arguments(schemas.SuggestArgsSchema, location="query")
    @blp.response(200, schemas.SuggestResultSchema)
    def get(self, args):
        """Up to 10 completions while the citizen types."""
        suggestions = services().catalogue.get().suggest(args["q"], region=args.get("region"))
        return {"query": args["q"], "suggestions": [s.to_dict() for s in suggestions]}


@blp.route("/items/hot", parameters=HEADERS)
class HotItems(MethodView):
    @cached(blp, "items.hot", query=schemas.HotArgsSchema, depends_on=LANGUAGE)
    @blp.arguments(schemas.HotArgsSchema, location="query")
    @blp.response(200, schemas.HotResultSchema)
    def get(self, args):
        """The most needed items for a region."""
        items = services().catalogue.get().hot(region=args.get("region"), limit=args["limit"])
        return _localized({"region": args.get("region"), "items": [item.to_dict() for item in items]})


@blp.route("/items/<string:basic_code>", parameters=HEADERS)
class ItemDetail(MethodView):
    @cached(blp, "items.detail", query=schemas.RegionArgsSchema, depends_on=MODE_AND_LANGUAGE)
    @blp.arguments(schemas.RegionArgsSchema, location="query")
    @blp.response(200, schemas.ITEM_DETAIL_RESPONSE)
    def get(self, args, basic_code):
        """Full detail of the implementation that serves the region.

        `X-Client-Mode: elder` answers the 长辈版 shape: materials as a checklist, plain conditions,
        trips in words, where to go and whom to call, speech text, the help block (12345 first).
        """
        detail = services().catalogue.get().item_detail(basic_code, region=args.get("region"))
        if _elder():
            return jsonify(schemas.ElderItemDetailSchema().dump(_localized(elder_item_detail(detail))))
        return jsonify(schemas.ItemDetailSchema().dump(_localized(detail.to_dict())))


@blp.route("/themes", parameters=HEADERS)
class ThemeList(MethodView):
    @cached(blp, "themes.list", depends_on=())
    @blp.response(200, schemas.ThemeListSchema)
    def get(self):
        """一件事 bundles."""
        return {"themes": [theme.to_dict() for theme in services().catalogue.get().themes()]}


@blp.route("/themes/<string:code>", parameters=HEADERS)
class ThemeDetail(MethodView):
    @cached(blp, "themes.detail", query=schemas.RegionArgsSchema, depends_on=LANGUAGE)
    @blp.arguments(schemas.RegionArgsSchema, location="query")
    @blp.response(200, schemas.ThemeDetailSchema)
    def get(self, args, code):
        """A 一件事 bundle with its items as the region names them."""
        theme = services().catalogue.get().theme(code, region=args.get("region"))
        return _localized(theme.to_dict())
