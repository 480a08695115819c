"""Ranking of the items a search reached (one best entry per basic item).

    tier   2 exact name (official, short or the displayed local name)
           1 exact colloquial phrase (alias / theme alias)
    score  coverage² × bm25^¼ × (1.1 if contained) × popularity × (elder boost)

coverage is the share of the query's meaningful terms the item matches, each term weighted by
its IDF over the catalogue (`understanding.Term`): the rare word decides. 药店经营许可 is 药店 +
经营 + 许可; 药店 is rare, so 药品零售经营许可 (药店 in its own text) outranks 食品经营许可, which
only shares the common words. That is the minimum-should-match relaxation too: a chatty query
(想和对象去领证) is not required to match everywhere, items are ordered by how much of the
*meaning* they match, and those under half the best coverage are dropped.

popularity only breaks ties (±15 %), and cannot lift an item over one that matches a more
distinctive term: coverage is squared. contained: every Han piece of the query occurs verbatim
in one of the item's names. BM25 is damped (¼ power): between items matching equally well its
differences are mostly field-length noise. Elder mode (长辈版) multiplies items the reference
data marks `elder_relevant` by 1.6: 补贴 gives 高龄津贴 before 育儿补贴 to a 70-year-old.
"""
from __future__ import annotations

from typing import NamedTuple

from tantivy import DocAddress

from catalog import schema as f
from catalog import textproc
from catalog.model import BasicItem, ReferenceData
from catalog.query import AnalysedQuery
from catalog.synonyms import SynonymTable
from catalog.understanding import THEME, WEAK

TIER_EXACT_NAME, TIER_EXACT_PHRASE = 2, 1
EXACT, RELAXED, NONE = "exact", "relaxed", "none"
_POPULARITY_SPAN = 0.3      # hot 0 → 0.85, hot 100 → 1.15
_CONTAINED, _ELDER_BOOST = 1.1, 1.6
_KEEP_SHARE, _KEEP_MIN = 0.5, 0.15
_FULL = 0.99
_MIN_BM25 = 0.5  # an item required through its terms but missed by every text clause


def item_filters(item: BasicItem) -> dict[str, tuple[str, ...]]:
    """The filterable values of an item, as indexed (`build._filter_values` uses this too)."""
    return {f.DEPARTMENT: (item.department,), f.ITEM_TYPE: (item.item_type,), f.AUDIENCE: item.audience,
            f.THEME: item.themes, f.ONLINE_DEPTH: (str(item.online_depth),)}


class Ranked(NamedTuple):
    ordinal: int
    address: DocAddress
    score: float
    tier: int
    coverage: float


class ItemProfiles:
    """Per-basic-item data the ranker needs, indexed by ordinal."""

    def __init__(self, ref: ReferenceData) -> None:
        self.popularity = [1 + _POPULARITY_SPAN * (item.hot - 50) / 100 for item in ref.items]
        self.elder = [item.elder_relevant for item in ref.items]
        self.names: list[tuple[str, ...]] = []
        self.official_names: dict[str, set[int]] = {}
        self.variant_names: dict[str, set[int]] = {}
        for ordinal, item in enumerate(ref.items):
            self.names.append(tuple(textproc.compact(name) for name in
                                    (item.name, item.short_name, *ref.variant_names(item.basic_code))))
            for name in (item.name, item.short_name):
                self.official_names.setdefault(textproc.compact(name), set()).add(ordinal)
            for name in ref.variant_names(item.basic_code):
                self.variant_names.setdefault(textproc.compact(name), set()).add(ordinal)
        self.phrases = SynonymTable(ref)
        self._name_masks: dict[str, int] = {}
        self.codes = [item.basic_code for item in ref.items]
        self.ordinals = {code: n for n, code in enumerate(self.codes)}
        self.filter_values = [item_filters(item) for item in ref.items]
        self._allowed: dict[tuple[tuple[str, str], ...], int] = {}

    def exact(self, query: AnalysedQuery) -> set[int]:
        """Items whose official, short or local name, or colloquial phrase, is the query."""
        found: set[int] = set()
        for form in query.understanding.exact_forms:
            found |= self.official_names.get(form, set()) | self.variant_names.get(form, set())
            found |= {self.ordinals[code] for code in self.phrases.items_for_phrase(form)}
        return found

    def allowed(self, filters: dict[str, str]) -> int:
        """Items (bit set) passing the search filters, decided from the reference data."""
        key = tuple(sorted(filters.items()))
        mask = self._allowed.get(key)
        if mask is None:
            mask = 0
            for ordinal, values in enumerate(self.filter_values):
                if all(value in values.get(field, ()) for field, value in filters.items()):
                    mask |= 1 << ordinal
            self._allowed[key] = mask
        return mask

    def containing(self, phrases: tuple[str, ...]) -> int:
        """Items (bit set) whose names contain every phrase verbatim."""
        if not phrases:
            return 0
        found = -1
        for phrase in phrases:
            found &= self._name_mask(phrase)
        return found

    def _name_mask(self, phrase: str) -> int:
        mask = self._name_masks.get(phrase)
        if mask is None:
            mask = 0
            for ordinal, names in enumerate(self.names):
                if any(phrase in name for name in names):
                    mask |= 1 << ordinal
            if len(self._name_masks) < 50_000:
                self._name_masks[phrase] = mask
        return mask


def coverage(ordinal: int, query: AnalysedQuery) -> float:
    terms = query.understanding.terms
    total = sum(t.weight for t in terms)
    if not total:
        return 1.0
    return sum(t.weight * t.credit(ordinal) for t in terms) / total


def coverages(query: AnalysedQuery) -> dict[int, float]:
    """`coverage` of every item matching at least one term (the hot loop: bit tests over the
    items each term reaches, no index access)."""
    terms = query.understanding.terms
    total = sum(t.weight for t in terms)
    found: dict[int, float] = {}
    if not total:
        return found
    for term in terms:
        share = term.weight / total
        for mask, credit in ((term.own, share), (term.weak, share * WEAK), (term.themes, share * THEME)):
            while mask:
                low = mask & -mask
                ordinal = low.bit_length() - 1
                mask ^= low
                found[ordinal] = found.get(ordinal, 0.0) + credit
    return found


def candidates(query: AnalysedQuery, profiles: ItemProfiles, allowed: int) -> tuple[dict[int, float], set[int]]:
    """Items worth asking the index about, with their coverage: within the filters (`allowed`),
    those covering at least half as much of the query as the best one, and exact names and
    phrases. Everything else could only be dropped by `rank`."""
    covered = {o: c for o, c in coverages(query).items() if allowed >> o & 1}
    exact = {o for o in profiles.exact(query) if allowed >> o & 1}
    if not covered:
        return covered, exact
    floor = _floor(max(covered.values()))
    return {o: c for o, c in covered.items() if c >= floor or o in exact}, exact


def _floor(best: float) -> float:
    return max(_KEEP_SHARE * best, _KEEP_MIN) if best > 0 else 0.0


def rank(groups: dict[int, tuple[float, DocAddress]], query: AnalysedQuery, profiles: ItemProfiles,
         *, covered: dict[int, float] | None, shows_variant, elder: bool) -> tuple[list[Ranked], str]:
    """Ranked groups and how the query matched: `exact` (some item matches all of its meaning),
    `relaxed` (the best items match only part of it) or `none`. `covered` None: the query has
    no meaningful term, every group counts as fully covered (BM25 and popularity decide)."""
    forms = query.understanding.exact_forms
    exact_official = set().union(*(profiles.official_names.get(f, set()) for f in forms))
    exact_variant = set().union(*(profiles.variant_names.get(f, set()) for f in forms))
    phrase_codes = set().union(*(profiles.phrases.items_for_phrase(f) for f in forms))
    ranked = []
    contained = profiles.containing(query.phrase_runs)
    for ordinal, (score, address) in groups.items():
        coverage_ = 1.0 if covered is None else covered.get(ordinal, 0.0)
        blended = coverage_ * coverage_ * max(score, _MIN_BM25) ** 0.25 * profiles.popularity[ordinal]
        if contained >> ordinal & 1:
            blended *= _CONTAINED
        if elder and profiles.elder[ordinal]:
            blended *= _ELDER_BOOST
        if ordinal in exact_official or (ordinal in exact_variant and shows_variant(address)):
            tier = TIER_EXACT_NAME
        elif profiles.codes[ordinal] in phrase_codes:
            tier = TIER_EXACT_PHRASE
        else:
            tier = 0
        ranked.append(Ranked(ordinal, address, blended, tier, coverage_))
    if not ranked:
        return [], NONE
    best = max(r.coverage for r in ranked)
    floor = _floor(best)
    kept = [r for r in ranked if r.tier or r.coverage >= floor]
    kept.sort(key=lambda r: (-r.tier, -r.score, r.ordinal))
    exact = best >= _FULL or any(r.tier for r in kept)
    return kept, EXACT if exact and not query.understanding.only_fillers else RELAXED
