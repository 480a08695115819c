"""Search execution: one tantivy query, grouping to one entry per basic item,
ranking, facets, highlighting.

Region semantics are resolved at index time (`serves`), so a region search is
the text query AND `serves:<region>`: at most a few thousand entries (one
implementation per basic item, times its 办理项) can match, all of them are
collected, grouped by basic item through the `basic_ord` fast field, and
ranked in Python:

    tier   2 exact name (official, short or the displayed local name)
           1 exact colloquial phrase (alias / theme alias)
    score  bm25^¼ × (0.25 + 0.75 × coverage²) × (1.5 if contained) × (0.5 + hot/100)

coverage: share of the query's character bigrams found anywhere in the item's
text (best over colloquial rewrites). It keeps 残疾人证换领 below 居民身份证换领
for 身份证换领 although both match the rare bigram 换领, and drops items that
cover under 30% of a query of three or more bigrams (one stray 申请 or 登记).
contained: every multi-character Han run of the query occurs verbatim in one of
the item's names. BM25 is damped (¼ power) because between items matching
equally well its differences are mostly field-length noise, and popularity is
the better tie-breaker (身份证 → 居民身份证换领 first).
"""
from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any, Iterable, NamedTuple

from tantivy import DocAddress, Occur, Query

from catalog import schema as f
from catalog import textproc
from catalog.generator import CANONICAL, MAX_HANDLES
from catalog.index import OpenedBuild
from catalog.model import BasicItem, ReferenceData
from catalog.query import AnalysedQuery, QueryBuilder
from catalog.results import Facets, SearchHit, SearchResult
from catalog.synonyms import SynonymTable, colloquial_phrases

_TIER_EXACT_NAME, _TIER_EXACT_PHRASE = 2, 1
_LONG_QUERY_GRAMS, _MIN_COVERAGE = 3, 0.3


class _Group(NamedTuple):
    ordinal: int
    address: DocAddress
    score: float
    tier: int


class _ItemProfiles:
    """Per-basic-item data the ranker needs, indexed by ordinal."""

    def __init__(self, ref: ReferenceData) -> None:
        self.popularity = [0.5 + item.hot / 100 for item in ref.items]
        self.grams: list[frozenset[str]] = []
        self.names: list[tuple[str, ...]] = []
        self.official_names: dict[str, set[int]] = {}
        self.variant_names: dict[str, set[int]] = {}
        for ordinal, item in enumerate(ref.items):
            texts = [item.name, item.short_name, item.plain_name, *colloquial_phrases(item, ref),
                     *item.tags, *ref.variant_names(item.basic_code)]
            han = [run.text for text in texts for run in textproc.runs(textproc.normalize(text)) if run.is_han]
            self.grams.append(frozenset(g for run in han for g in (*run, *textproc.char_grams(run))))
            self.names.append(tuple(textproc.compact(name) for name in
                                    (item.name, item.short_name, *ref.variant_names(item.basic_code))))
            for name in (item.name, item.short_name):
                self.official_names.setdefault(textproc.compact(name), set()).add(ordinal)
            for name in ref.variant_names(item.basic_code):
                self.variant_names.setdefault(textproc.compact(name), set()).add(ordinal)

    def coverage(self, ordinal: int, query: AnalysedQuery) -> float:
        item_grams = self.grams[ordinal]
        best = 1.0 if not query.han_runs else 0.0
        for grams in query.gram_variants:
            if grams:
                best = max(best, len(grams & item_grams) / len(grams))
        return best

    def contains(self, ordinal: int, query: AnalysedQuery) -> bool:
        names = self.names[ordinal]
        return bool(query.phrase_runs) and all(
            any(run in name for name in names) for run in query.phrase_runs)


class SearchEngine:
    def __init__(self, build: OpenedBuild) -> None:
        self._searcher = build.searcher
        self._ref = build.ref
        self._lexicon = build.lexicon
        self._queries = QueryBuilder(build.index.schema)
        self._profiles = _ItemProfiles(build.ref)
        self._phrases = SynonymTable(build.ref)
        self._max_hits = len(build.ref.items) * MAX_HANDLES

    # -- search ---------------------------------------------------------------

    def search(self, query: AnalysedQuery, *, serve_key: str, filters: dict[str, str],
               page: int, page_size: int) -> SearchResult:
        tantivy_query = self._queries.filtered(self._queries.text_query(query),
                                               {f.SERVES: serve_key, **filters})
        hits = self._searcher.search(tantivy_query, limit=self._max_hits, count=False).hits
        groups = self._group(hits)
        ranked = self._rank(groups, query, serve_key)
        start = (page - 1) * page_size
        items = tuple(self._hit(group, query, serve_key) for group in ranked[start:start + page_size])
        return SearchResult(query=query.text, total=len(ranked), page=page, page_size=page_size,
                            items=items, facets=self._facets(group.ordinal for group in ranked))

    def _group(self, hits: list[tuple[float, DocAddress]]) -> dict[int, tuple[float, DocAddress]]:
        """Best-scoring entry per basic item; on a tie the first 办理项 (lowest
        doc id: entries are indexed in handle order)."""
        ordinals = self._searcher.fast_field_values(f.BASIC_ORD, [address for _, address in hits])
        best: dict[int, tuple[float, DocAddress]] = {}
        for (score, address), ordinal in zip(hits, ordinals):
            current = best.get(ordinal)
            if current is None or score > current[0] or (
                    score == current[0] and (address.segment_ord, address.doc) <
                    (current[1].segment_ord, current[1].doc)):
                best[ordinal] = (score, address)
        return best

    def _rank(self, groups: dict[int, tuple[float, DocAddress]], query: AnalysedQuery,
              serve_key: str) -> list[_Group]:
        profiles = self._profiles
        exact_official = profiles.official_names.get(query.compact, set())
        exact_variant = profiles.variant_names.get(query.compact, set())
        exact_phrase = {self._ref.ordinal(code) for code in self._phrases.items_for_phrase(query.compact)}
        long_query = len(query.gram_variants[0]) >= _LONG_QUERY_GRAMS
        ranked = []
        for ordinal, (score, address) in groups.items():
            coverage = profiles.coverage(ordinal, query)
            quality = (0.25 + 0.75 * coverage * coverage) * (1.5 if profiles.contains(ordinal, query) else 1.0)
            blended = score ** 0.25 * quality * profiles.popularity[ordinal]
            if ordinal in exact_official or (
                    ordinal in exact_variant and self._shows_variant(address, query, serve_key)):
                tier = _TIER_EXACT_NAME
            elif ordinal in exact_phrase:
                tier = _TIER_EXACT_PHRASE
            elif long_query and coverage < _MIN_COVERAGE:
                continue
            else:
                tier = 0
            ranked.append(_Group(ordinal, address, blended, tier))
        ranked.sort(key=lambda g: (-g.tier, -g.score, g.ordinal))
        return ranked

    def _shows_variant(self, address: DocAddress, query: AnalysedQuery, serve_key: str) -> bool:
        """A local name is an exact match where it is the name shown; without a
        region any region's local name counts (the canonical entry is indexed
        with all of them)."""
        if serve_key == CANONICAL:
            return True
        return textproc.compact(self.entry(address)["local_name"]) == query.compact

    def _facets(self, ordinals: Iterable[int]) -> Facets:
        department: Counter[str] = Counter()
        item_type: Counter[str] = Counter()
        theme: Counter[str] = Counter()
        depth: Counter[str] = Counter()
        for ordinal in ordinals:
            item = self._ref.items[ordinal]
            department[item.department] += 1
            item_type[item.item_type] += 1
            theme.update(item.themes)
            depth[str(item.online_depth)] += 1
        return Facets(department=_by_count(department), item_type=_by_count(item_type),
                      theme=dict(sorted(theme.items())), online_depth=dict(sorted(depth.items())))

    def _hit(self, group: _Group, query: AnalysedQuery, serve_key: str) -> SearchHit:
        item = self._ref.items[group.ordinal]
        entry = self.entry(group.address)
        shown = display_name(item, entry, serve_key)
        return SearchHit(
            basic_code=item.basic_code, implementation_code=entry["implementation_code"],
            name=item.name, local_name=shown, short_name=item.short_name,
            plain_name=item.plain_name, department=item.department, item_type=item.item_type,
            region_code=entry["region_code"], region_name=entry["region_name"],
            online_depth=item.online_depth, visits=item.visits,
            promised_days=item.promised_days,
            highlight=highlight(shown, query, self._lexicon.get(shown)),
        )

    # -- lookups by basic item ----------------------------------------------

    def entry(self, address: DocAddress) -> dict[str, Any]:
        return json.loads(self._searcher.doc(address).get_first(f.ENTRY))

    def serving_entries(self, serve_key: str, basic_codes: list[str]) -> dict[str, list[dict[str, Any]]]:
        """basic code → entries (one per 办理项, in handle order) serving `serve_key`."""
        if not basic_codes:
            return {}
        query = Query.boolean_query([
            (Occur.Must, self._queries.raw_terms(f.BASIC_CODE, basic_codes)),
            (Occur.Must, self._queries.raw_term(f.SERVES, serve_key)),
        ])
        hits = self._searcher.search(query, limit=len(basic_codes) * MAX_HANDLES, count=False).hits
        found: dict[str, list[dict[str, Any]]] = {}
        for _, address in hits:
            entry = self.entry(address)
            found.setdefault(entry["basic_code"], []).append(entry)
        for entries in found.values():
            entries.sort(key=lambda e: e["handle_index"])
        return found


def display_name(item: BasicItem, entry: dict[str, Any], serve_key: str) -> str:
    """Without a region the official name is shown; otherwise the name the
    serving implementation uses locally."""
    return item.name if serve_key == CANONICAL else entry["local_name"]


def highlight(text: str, query: AnalysedQuery, syllables: list[str] | None) -> str:
    """`text` with the parts matching the query wrapped in <em>…</em>: Han
    bigrams (or single characters) of the query, literal Latin runs, and
    character spans whose pinyin or initials spell a Latin run."""
    # normalised character by character, so positions stay aligned with `text`
    folded = "".join(n if len(n) == 1 else "\0" for n in (textproc.normalize(ch) for ch in text))
    marked = [False] * len(text)

    def mark(start: int, end: int) -> None:
        marked[start:end] = [True] * (end - start)

    for term in (*query.highlight_terms, *query.latin_runs):
        start = folded.find(term)
        while start >= 0:
            mark(start, start + len(term))
            start = folded.find(term, start + 1)
    if syllables and len(syllables) == len(text):
        for run in query.latin_runs:
            for start in range(len(text)):
                spelled = initials = ""
                for end in range(start, len(text)):
                    if not syllables[end]:
                        break
                    spelled += syllables[end]
                    initials += syllables[end][0]
                    if run in (spelled, initials):
                        mark(start, end + 1)
                        break
                    if len(initials) >= len(run):
                        break
    out, open_ = [], False
    for ch, on in zip(text, marked):
        if on != open_:
            out.append("<em>" if on else "</em>")
            open_ = on
        out.append(html.escape(ch))
    if open_:
        out.append("</em>")
    return "".join(out)


def _by_count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
