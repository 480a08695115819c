"""Query analysis and tantivy query construction.

The query parser is never used: on pre-tokenised fields it would turn a
Chinese string into a phrase query. Instead each Han run contributes its
character bigrams, jieba words, the whole run (also fuzzily, for one-character
typos: 身份正 → 身份证) and colloquial expansions; each Latin run is tried as
a literal alias token, pinyin initials and full pinyin. All are SHOULD clauses
with per-field boosts; ranking refinements happen in `search.py`. What the
query means (fillers out, typos fixed, Latin resolved) comes from
`understanding.py` first.
"""
from __future__ import annotations

from dataclasses import dataclass

import tantivy
from tantivy import Occur, Query

from catalog import schema as f
from catalog import textproc
from catalog.errors import InvalidQuery
from catalog.synonyms import expansions
from catalog.understanding import Understanding, understand
from catalog.vocabulary import Vocabulary

MAX_QUERY_CHARS = 50
_MIN_FUZZY_HAN, _MIN_FUZZY_LATIN = 3, 6

_BOOST_TITLE_GRAM, _BOOST_EXTRA_GRAM = 3.0, 1.0
_BOOST_TITLE_WORD, _BOOST_EXTRA_WORD = 2.0, 1.0
_BOOST_TITLE_FUZZY, _BOOST_EXTRA_FUZZY = 1.5, 0.5
_BOOST_EXPANSION_WORD, _BOOST_EXPANSION_GRAM = 1.0, 0.4
_BOOST_LATIN_WORD, _BOOST_INITIALS, _BOOST_PINYIN = 2.0, 2.0, 2.5
_BOOST_PINYIN_BIGRAM, _BOOST_PINYIN_FUZZY = 0.8, 0.5
_BOOST_PINYIN_EXTRA, _BOOST_PINYIN_EXTRA_BIGRAM = 1.0, 0.3


@dataclass(frozen=True)
class AnalysedQuery:
    text: str                                   # normalised, simplified
    compact: str                                # searchable characters only, as typed
    han_runs: tuple[str, ...]                   # Han pieces as understood (fillers out, typos fixed)
    phrase_runs: tuple[str, ...]                # pieces and resolved words of two or more characters
    latin_runs: tuple[str, ...]
    understanding: Understanding
    highlight_terms: tuple[str, ...]            # Han strings to mark in names


def check(raw: object) -> str:
    """The normalised query, or InvalidQuery for what cannot be searched at all."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidQuery("请输入搜索内容", details={"q": raw})
    trimmed = raw.strip()
    if len(trimmed) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"搜索内容不能超过{MAX_QUERY_CHARS}个字符",
                           details={"max_length": MAX_QUERY_CHARS, "length": len(trimmed)})
    text = textproc.normalize_query(trimmed)
    if not textproc.runs(text):
        raise InvalidQuery("搜索内容没有可检索的文字", details={"q": raw})
    return text


def analyse(raw: object, vocab: Vocabulary) -> AnalysedQuery:
    text = check(raw)
    understood = understand(text, vocab)
    han = understood.pieces
    phrases = [run for run in han if len(run) > 1] + [w for w in understood.resolved if len(w) > 1]
    marked = [*han, *understood.resolved]
    return AnalysedQuery(
        text=text, compact="".join(r.text for r in textproc.runs(text)), han_runs=han,
        phrase_runs=tuple(dict.fromkeys(phrases)), latin_runs=understood.latin, understanding=understood,
        highlight_terms=tuple(dict.fromkeys(g for run in marked for g in textproc.char_grams(run))),
    )


class QueryBuilder:
    def __init__(self, index_schema: tantivy.Schema) -> None:
        self._schema = index_schema

    def text_query(self, query: AnalysedQuery, *, fuzzy: bool = True) -> Query:
        """Every way the query can reach an item, as SHOULD clauses: the understood Han pieces,
        the Latin runs as typed, and the Han words terms resolve or expand to (办yyzz also
        asks for 营业执照, 药房 for 药店). How well each item matches is judged by the ranker.
        `fuzzy` False when the items are already chosen and the clauses only score them:
        fuzzy automata are the costliest clauses and add nothing to a score then."""
        clauses: list[Query] = []
        for run in query.han_runs:
            clauses += self._han_clauses(run, fuzzy)
        for run in query.latin_runs:
            clauses += self._latin_clauses(run, fuzzy)
        extra = {alt for term in query.understanding.terms for alt in term.alternatives[1:]
                 if not alt.isascii()} - set(query.han_runs)
        for word in sorted(extra):
            clauses.append(self._term(f.TITLE_WORDS, word, _BOOST_EXPANSION_WORD))
            clauses.append(self._term(f.EXTRA_WORDS, word, _BOOST_EXPANSION_WORD / 2))
            for gram in textproc.char_grams(word):
                clauses.append(self._term(f.TITLE_GRAMS, gram, _BOOST_EXPANSION_GRAM))
        return Query.boolean_query([(Occur.Should, c) for c in clauses])

    def filtered(self, text: Query, filters: dict[str, str], scoring: Query | None = None) -> Query:
        """`text` restricted by exact-valued fields; filters add no score. `scoring`, when
        given, only scores what the rest requires (it is optional)."""
        subqueries = [(Occur.Must, text)]
        if scoring is not None:
            subqueries.append((Occur.Should, scoring))
        for field, value in filters.items():
            subqueries.append((Occur.Must, Query.const_score_query(self.raw_term(field, value), 0.0)))
        return Query.boolean_query(subqueries)

    def raw_term(self, field: str, value: str) -> Query:
        return Query.term_query(self._schema, field, value, index_option="basic")

    def raw_terms(self, field: str, values: list[str]) -> Query:
        return Query.term_set_query(self._schema, field, values)

    def _term(self, field: str, token: str, boost: float) -> Query:
        return Query.boost_query(Query.term_query(self._schema, field, token, index_option="freq"), boost)

    def _const(self, field: str, token: str, score: float) -> Query:
        """Latin tokens (initials, pinyin, alias codes) are specific enough that
        BM25's length normalisation only adds noise between equal matches."""
        return Query.const_score_query(Query.term_query(self._schema, field, token, index_option="basic"), score)

    def _fuzzy(self, field: str, token: str, boost: float) -> Query:
        return Query.boost_query(Query.fuzzy_term_query(self._schema, field, token, distance=1), boost)

    def _han_clauses(self, run: str, fuzzy: bool = True) -> list[Query]:
        clauses = []
        grams = textproc.char_grams(run)
        for gram in grams:
            clauses.append(self._term(f.TITLE_GRAMS, gram, _BOOST_TITLE_GRAM))
            clauses.append(self._term(f.EXTRA_GRAMS, gram, _BOOST_EXTRA_GRAM))
        words = [w for w in textproc.words(run) if len(w) > 1 or len(run) == 1]
        for word in dict.fromkeys([*words, run]):
            clauses.append(self._term(f.TITLE_WORDS, word, _BOOST_TITLE_WORD))
            clauses.append(self._term(f.EXTRA_WORDS, word, _BOOST_EXTRA_WORD))
        if fuzzy and len(run) >= _MIN_FUZZY_HAN:
            clauses.append(self._fuzzy(f.TITLE_WORDS, run, _BOOST_TITLE_FUZZY))
            clauses.append(self._fuzzy(f.EXTRA_WORDS, run, _BOOST_EXTRA_FUZZY))
        for official in expansions(run):
            clauses.append(self._term(f.TITLE_WORDS, official, _BOOST_EXPANSION_WORD))
            clauses.append(self._term(f.EXTRA_WORDS, official, _BOOST_EXPANSION_WORD / 2))
            for gram in textproc.char_grams(official):
                clauses.append(self._term(f.TITLE_GRAMS, gram, _BOOST_EXPANSION_GRAM))
        return clauses

    def _latin_clauses(self, run: str, fuzzy: bool = True) -> list[Query]:
        clauses = [self._const(f.TITLE_WORDS, run, _BOOST_LATIN_WORD),
                   self._const(f.EXTRA_WORDS, run, _BOOST_LATIN_WORD / 2)]
        if run.isdigit():
            return clauses
        clauses.append(self._const(f.PY_INITIALS, run, _BOOST_INITIALS))
        clauses.append(self._const(f.PY_EXTRA, run, _BOOST_PINYIN_EXTRA))
        syllables = textproc.split_pinyin(run)
        if syllables:
            clauses.append(self._const(f.PY_FULL, run, _BOOST_PINYIN))
            if len(syllables) > 1:
                for bigram in textproc.syllable_bigrams(syllables):
                    clauses.append(self._const(f.PY_BIGRAM, bigram, _BOOST_PINYIN_BIGRAM))
                    clauses.append(self._const(f.PY_EXTRA, bigram, _BOOST_PINYIN_EXTRA_BIGRAM))
        if fuzzy and len(run) >= _MIN_FUZZY_LATIN:
            clauses.append(self._fuzzy(f.PY_FULL, run, _BOOST_PINYIN_FUZZY))
        return clauses
