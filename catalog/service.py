"""`Catalogue`: the facade the HTTP layer calls.

One immutable `_Snapshot` (index, searcher, reference data, derived tables)
per published build; `reload_if_changed()` swaps it in one assignment, so a
request that already holds the old snapshot finishes on it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog import query as query_analysis
from catalog import schema as f
from catalog import textproc
from catalog.errors import (
    IndexUnavailable,
    InvalidPagination,
    InvalidQuery,
    ItemNotFound,
    UnknownFilterValue,
)
from catalog.generator import CANONICAL
from catalog.index import OpenedBuild, current_build_id, open_build
from catalog.model import BasicItem, ReferenceData
from catalog.regions import COUNTY, PROVINCE, RegionTree
from catalog.results import (
    HandleItem,
    ItemDetail,
    ItemSummary,
    SearchResult,
    Suggestion,
    ThemeDetail,
    ThemeRef,
    ThemeSummary,
)
from catalog.search import SearchEngine, display_name
from catalog.suggest import Suggester

MAX_PAGE_SIZE = 50
MAX_SUGGESTIONS = 10
MAX_HOT = 50
MODES = ("standard", "elder")
_SUGGEST_TOP_UP = 3  # fewer completions than this: add what search finds


@dataclass(frozen=True)
class _Snapshot:
    build: OpenedBuild
    engine: SearchEngine
    suggester: Suggester
    indexed_counties: frozenset[str]

    @classmethod
    def load(cls, index_root: Path, build_id: str) -> _Snapshot:
        build = open_build(index_root, build_id)
        return cls(build=build, engine=SearchEngine(build), suggester=Suggester(build.ref, build.lexicon),
                   indexed_counties=frozenset(build.meta["counties"]))

    @property
    def ref(self) -> ReferenceData:
        return self.build.ref

    def serve_key(self, region: str | None) -> str:
        """Which `serves` value answers for `region`. The province has no local
        names and is answered by the canonical entries; at reduced scale a
        county that was not generated is answered like its city."""
        if region is None:
            return CANONICAL
        place = self.ref.regions.get(region)
        if place.level == PROVINCE:
            return CANONICAL
        if place.level == COUNTY and place.code not in self.indexed_counties:
            return place.parent  # type: ignore[return-value]
        return place.code


class Catalogue:
    def __init__(self, index_root: Path, snapshot: _Snapshot) -> None:
        self._root = index_root
        self._snapshot = snapshot
        self._reload_lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path) -> Catalogue:
        root = Path(index_dir)
        snapshot = _Snapshot.load(root, current_build_id(root))
        textproc.load_dictionaries()
        return cls(root, snapshot)

    @property
    def version(self) -> str:
        return self._snapshot.build.build_id

    @property
    def regions(self) -> RegionTree:
        return self._snapshot.ref.regions

    @property
    def ref(self) -> ReferenceData:
        """The reference data this build was made from (regions, items, themes, local wording)."""
        return self._snapshot.ref

    def reload_if_changed(self) -> bool:
        """One readlink(2) when nothing changed; reopens on a new build. If the
        link cannot be read, keep serving the build already open."""
        try:
            build_id = current_build_id(self._root)
        except IndexUnavailable:
            return False
        if build_id == self._snapshot.build.build_id:
            return False
        with self._reload_lock:
            if build_id == self._snapshot.build.build_id:
                return False
            self._snapshot = _Snapshot.load(self._root, build_id)
            return True

    # -- search --------------------------------------------------------------

    def search(self, q: str, *, region: str | None = None, department: str | None = None,
               item_type: str | None = None, audience: str | None = None,
               online_depth: int | str | None = None, theme: str | None = None,
               page: int = 1, page_size: int = 10, mode: str = "standard") -> SearchResult:
        """`mode` `elder` (长辈版) ranks what elderly people need higher."""
        snap = self._snapshot
        if mode not in MODES:
            raise InvalidQuery("mode 只能是 standard 或 elder", details={"mode": mode, "allowed": list(MODES)})
        analysed = snap.engine.analyse(q)
        serve_key = snap.serve_key(region)
        filters = _filters(snap.ref, department=department, item_type=item_type, audience=audience,
                           online_depth=online_depth, theme=theme)
        _check_page(page, page_size)
        return snap.engine.search(analysed, serve_key=serve_key, filters=filters,
                                  page=page, page_size=page_size, elder=mode == "elder")

    def suggest(self, q: str, *, region: str | None = None, limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        snap = self._snapshot
        text = query_analysis.check(q)
        if region is not None:
            snap.ref.regions.get(region)
        limit = max(1, min(int(limit), MAX_SUGGESTIONS))
        found = snap.suggester.suggest(text, region=region, limit=limit)
        if len(found) < _SUGGEST_TOP_UP:
            # nothing starts or contains what was typed (公积金提, a typo): what search understands
            seen = {s.basic_code for s in found}
            hits = snap.engine.search(snap.engine.analyse(q), serve_key=snap.serve_key(region), filters={},
                                      page=1, page_size=limit).items
            found += [Suggestion(text=hit.local_name, basic_code=hit.basic_code, kind="search")
                      for hit in hits if hit.basic_code not in seen][:limit - len(found)]
        return found

    # -- items and themes ----------------------------------------------------

    def item_detail(self, basic_code: str, *, region: str | None = None) -> ItemDetail:
        snap = self._snapshot
        item = snap.ref.item(basic_code)
        serve_key = snap.serve_key(region)
        entries = snap.engine.serving_entries(serve_key, [item.basic_code]).get(item.basic_code)
        if not entries:
            raise ItemNotFound(f"事项{basic_code}在该地区无实施清单",
                               details={"basic_code": basic_code, "region": region})
        return _detail(snap.ref, item, entries, serve_key)

    def themes(self) -> list[ThemeSummary]:
        return [ThemeSummary(code=t.code, name=t.name, audience=t.audience, origin=t.origin,
                             description=t.description, aliases=t.aliases, item_count=len(t.items))
                for t in self._snapshot.ref.themes]

    def theme(self, code: str, *, region: str | None = None) -> ThemeDetail:
        snap = self._snapshot
        theme = snap.ref.theme(code)
        items = _summaries(snap, list(theme.items), snap.serve_key(region))
        return ThemeDetail(code=theme.code, name=theme.name, audience=theme.audience,
                           origin=theme.origin, description=theme.description,
                           aliases=theme.aliases, region=region, items=tuple(items))

    def hot(self, *, region: str | None = None, limit: int = 10) -> list[ItemSummary]:
        snap = self._snapshot
        serve_key = snap.serve_key(region)
        limit = max(1, min(int(limit), MAX_HOT))
        top = sorted(snap.ref.items, key=lambda i: (-i.hot, i.basic_code))[:limit]
        return _summaries(snap, [i.basic_code for i in top], serve_key)


def _filters(ref: ReferenceData, **requested: Any) -> dict[str, str]:
    allowed: dict[str, list[str]] = {
        f.DEPARTMENT: list(ref.departments), f.ITEM_TYPE: list(ref.item_types),
        f.AUDIENCE: list(ref.audiences), f.THEME: [t.code for t in ref.themes],
        f.ONLINE_DEPTH: ["1", "2", "3", "4"],
    }
    filters = {}
    for field, value in requested.items():
        if value is None:
            continue
        text = str(value).strip()
        if text not in allowed[field]:
            raise UnknownFilterValue(field, value, allowed[field])
        filters[field] = text
    return filters


def _check_page(page: int, page_size: int) -> None:
    if not isinstance(page, int) or page < 1:
        raise InvalidPagination("page 必须是不小于1的整数", details={"page": page})
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidPagination(f"page_size 必须在1到{MAX_PAGE_SIZE}之间",
                                details={"page_size": page_size, "max": MAX_PAGE_SIZE})


def _summaries(snap: _Snapshot, basic_codes: list[str], serve_key: str) -> list[ItemSummary]:
    entries = snap.engine.serving_entries(serve_key, basic_codes)
    summaries = []
    for code in basic_codes:
        if code not in entries:
            continue
        item, entry = snap.ref.item(code), entries[code][0]
        summaries.append(ItemSummary(
            basic_code=code, implementation_code=entry["implementation_code"], name=item.name,
            local_name=display_name(item, entry, serve_key), short_name=item.short_name,
            plain_name=item.plain_name, department=item.department, item_type=item.item_type,
            region_code=entry["region_code"],
            region_name=entry["region_name"], online_depth=item.online_depth, visits=item.visits,
            promised_days=item.promised_days, popularity=item.hot))
    return summaries


def _detail(ref: ReferenceData, item: BasicItem, entries: list[dict[str, Any]], serve_key: str) -> ItemDetail:
    main = entries[0]
    return ItemDetail(
        basic_code=item.basic_code, implementation_code=main["implementation_code"],
        name=item.name, local_name=display_name(item, main, serve_key), short_name=item.short_name,
        plain_name=item.plain_name, department=item.department,
        department_full=main["department_full"], department_code=main["department_code"],
        item_type=item.item_type, audience=item.audience, level=main["level"],
        region_code=main["region_code"], region_name=main["region_name"],
        online_depth=item.online_depth, is_online=main["is_online"], online_url=main["online_url"],
        mobile_path=main["mobile_path"], visits=item.visits, legal_days=item.legal_days,
        promised_days=item.promised_days, fee=item.fee, materials=item.materials,
        conditions=main["conditions"], address=main["address"], office_hours=main["office_hours"],
        phone=main["phone"],
        handle_items=tuple(HandleItem(index=e["handle_index"], name=e["handle_name"],
                                      implementation_code=e["implementation_code"]) for e in entries),
        themes=tuple(ThemeRef(code=c, name=ref.theme(c).name) for c in item.themes),
        tags=item.tags, popularity=item.hot, elder_relevant=item.elder_relevant,
    )
