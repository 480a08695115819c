"""Thin views over ``catalog.service.Catalogue``; all catalogue answers are public and cacheable."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from bff.catalog import schemas
from bff.extensions import catalogue_holder
from bff.http_cache import public_cache_control

blp = Blueprint("catalog", __name__, url_prefix="/v1", description="Government service items and 一件事 themes")


def _public(payload: dict) -> tuple[dict, int, dict[str, str]]:
    max_age = current_app.config["SETTINGS"].catalog_max_age_seconds
    return payload, 200, {"Cache-Control": public_cache_control(max_age)}


@blp.route("/items/search")
class ItemSearch(MethodView):
    @blp.arguments(schemas.SearchArgsSchema, location="query")
    @blp.response(200, schemas.SearchResultSchema)
    def get(self, args):
        """Search items the way citizens type (Chinese, pinyin, initials, typos), one entry per basic item."""
        query = args.pop("q")
        result = catalogue_holder.get().search(query, **args)
        return _public(result.to_dict())


@blp.route("/items/suggest")
class ItemSuggest(MethodView):
    @blp.arguments(schemas.SuggestArgsSchema, location="query")
    @blp.response(200, schemas.SuggestResultSchema)
    def get(self, args):
        """Up to 10 completions while the citizen types."""
        suggestions = catalogue_holder.get().suggest(args["q"], region=args.get("region"))
        return _public({"query": args["q"], "suggestions": [s.to_dict() for s in suggestions]})


@blp.route("/items/hot")
class HotItems(MethodView):
    @blp.arguments(schemas.HotArgsSchema, location="query")
    @blp.response(200, schemas.HotResultSchema)
    def get(self, args):
        """The most needed items for a region."""
        items = catalogue_holder.get().hot(region=args.get("region"), limit=args["limit"])
        return _public({"region": args.get("region"), "items": [item.to_dict() for item in items]})


@blp.route("/items/<string:basic_code>")
class ItemDetail(MethodView):
    @blp.arguments(schemas.RegionArgsSchema, location="query")
    @blp.response(200, schemas.ItemDetailSchema)
    def get(self, args, basic_code):
        """Full detail of the implementation that serves the region."""
        detail = catalogue_holder.get().item_detail(basic_code, region=args.get("region"))
        return _public(detail.to_dict())


@blp.route("/themes")
class ThemeList(MethodView):
    @blp.response(200, schemas.ThemeListSchema)
    def get(self):
        """一件事 bundles."""
        return _public({"themes": [theme.to_dict() for theme in catalogue_holder.get().themes()]})


@blp.route("/themes/<string:code>")
class ThemeDetail(MethodView):
    @blp.arguments(schemas.RegionArgsSchema, location="query")
    @blp.response(200, schemas.ThemeDetailSchema)
    def get(self, args, code):
        """A 一件事 bundle with its items as the region names them."""
        theme = catalogue_holder.get().theme(code, region=args.get("region"))
        return _public(theme.to_dict())
