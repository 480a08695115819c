"""Search execution: one tantivy query, grouping to one entry per basic item,
ranking (`ranking.py`), facets, highlighting, and the answer when little or nothing matched.

Region semantics are resolved at index time (`serves`), so a region search is
the text query AND `serves:<region>`: at most a few thousand entries (one
implementation per basic item, times its 办理项) can match, all of them are
collected, grouped by basic item through the `basic_ord` fast field, and
ranked in Python.

A page is never empty while any part of the query names a known need: the
ranker keeps the items matching most of the query's meaning (`relaxed`), a
filter that excludes them all yields the closest items without it, and such
answers carry the matching 一件事 themes and the 12345 help line.
"""
from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any, Iterable

from tantivy import DocAddress, Occur, Query

from catalog import schema as f
from catalog import textproc
from catalog.generator import CANONICAL, MAX_HANDLES
from catalog.index import OpenedBuild
from catalog.model import BasicItem
from catalog.query import AnalysedQuery, QueryBuilder, analyse
from catalog.ranking import EXACT, NONE, ItemProfiles, Ranked, candidates, rank
from catalog.results import HELP_LINE, Facets, SearchHit, SearchResult, ThemeRef

MAX_THEMES = 3
CLOSEST = "closest"  # nothing matched within the filters: the closest items without them


class SearchEngine:
    def __init__(self, build: OpenedBuild) -> None:
        self._searcher = build.searcher
        self._ref = build.ref
        self._lexicon = build.lexicon
        self.vocabulary = build.vocabulary
        self._queries = QueryBuilder(build.index.schema)
        self._profiles = ItemProfiles(build.ref)
        self._max_hits = len(build.ref.items) * MAX_HANDLES
        self._hotline = _hotline(build)

    def analyse(self, raw: object) -> AnalysedQuery:
        return analyse(raw, self.vocabulary)

    # -- search ---------------------------------------------------------------

    def search(self, query: AnalysedQuery, *, serve_key: str, filters: dict[str, str],
               page: int, page_size: int, elder: bool = False) -> SearchResult:
        ranked, match = self._ranked(query, serve_key, filters, elder)
        if not ranked and filters:
            ranked, match = self._ranked(query, serve_key, {}, elder)
            match = CLOSEST if ranked else NONE
        if query.understanding.only_fillers and self._hotline is not None:
            ranked = self._hotline_first(ranked, serve_key)
        start = (page - 1) * page_size
        items = tuple(self._hit(group, query, serve_key) for group in ranked[start:start + page_size])
        understood = query.understanding
        return SearchResult(
            query=query.text, total=len(ranked), page=page, page_size=page_size, items=items,
            facets=self._facets(group.ordinal for group in ranked), understood=understood.understood,
            match=match, did_you_mean=understood.did_you_mean,
            themes=self._themes(query, ranked) if match != EXACT else (),
            help=HELP_LINE if match != EXACT else None)

    def _ranked(self, query: AnalysedQuery, serve_key: str, filters: dict[str, str],
                elder: bool) -> tuple[list[Ranked], str]:
        covered: dict[int, float] | None = None
        if query.understanding.terms and not query.understanding.only_fillers:
            # Coverage is decided from the vocabulary alone; tantivy is asked only about the
            # items that can rank (required), its text clauses merely scoring them, so it walks
            # a few hundred entries rather than the postings of every bigram.
            covered, _ = candidates(query, self._profiles, self._profiles.allowed(filters))
            if not covered:
                return [], NONE
            codes = [self._ref.items[o].basic_code for o in sorted(covered)]
            tantivy_query = self._queries.filtered(
                self._queries.raw_terms(f.BASIC_CODE, codes), {f.SERVES: serve_key, **filters},
                scoring=self._queries.text_query(query, fuzzy=False))
        else:
            tantivy_query = self._queries.filtered(self._queries.text_query(query), {f.SERVES: serve_key, **filters})
        hits = self._searcher.search(tantivy_query, limit=self._max_hits, count=False).hits
        return rank(self._group(hits), query, self._profiles, covered=covered, elder=elder,
                    shows_variant=lambda address: self._shows_variant(address, query, serve_key))

    def _hotline_first(self, ranked: list[Ranked], serve_key: str) -> list[Ranked]:
        """Nothing but question words (怎么办): the 12345 line is what helps."""
        entries = self.serving_entries(serve_key, [self._ref.items[self._hotline].basic_code])
        others = [r for r in ranked if r.ordinal != self._hotline]
        if not entries:
            return others
        address = self._address_of(serve_key, self._hotline)
        return [Ranked(self._hotline, address, 0.0, 0, 0.0), *others] if address else others

    def _address_of(self, serve_key: str, ordinal: int) -> DocAddress | None:
        query = Query.boolean_query([
            (Occur.Must, self._queries.raw_term(f.BASIC_CODE, self._ref.items[ordinal].basic_code)),
            (Occur.Must, self._queries.raw_term(f.SERVES, serve_key))])
        hits = self._searcher.search(query, limit=1, count=False).hits
        return hits[0][1] if hits else None

    def _themes(self, query: AnalysedQuery, ranked: list[Ranked]) -> tuple[ThemeRef, ...]:
        """一件事 themes whose name or aliases spell a term of the query, then those of the
        best items."""
        words = {alt for term in query.understanding.terms for alt in term.alternatives
                 if len(alt) > 1 and not alt.isascii()}
        scores: Counter[str] = Counter()
        for theme in self._ref.themes:
            text = "|".join((theme.name, *theme.aliases))
            scores[theme.code] += 3 * sum(word in text for word in words)
        for position, group in enumerate(ranked[:3]):
            for code in self._ref.items[group.ordinal].themes:
                scores[code] += 3 - position
        chosen = [code for code, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])) if score > 0]
        return tuple(ThemeRef(code=code, name=self._ref.theme(code).name) for code in chosen[:MAX_THEMES])

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

    def _hit(self, group: Ranked, query: AnalysedQuery, serve_key: str) -> SearchHit:
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


def _hotline(build: OpenedBuild) -> int | None:
    """The 12345 line's item (the one carrying the token 12345 that most people use)."""
    ordinals = build.vocabulary.latin_tokens.get("12345", frozenset())
    if not ordinals:
        return None
    return max(ordinals, key=lambda o: (build.ref.items[o].hot, -o))


def _by_count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
