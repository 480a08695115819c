"""The tantivy schema and what text goes into each field.

Text fields hold pre-analysed, space-joined tokens (tantivy's built-in
`whitespace` tokenizer), so nothing custom has to be re-registered after
`Index.open` and the query side analyses with exactly the same functions:

  title_grams / extra_grams   Han character bigrams (unigram for 1-char runs)
  title_words / extra_words   jieba search-mode words, whole Han runs, Latin runs
  py_full                     pinyin of each title word and run (shenfenzheng)
  py_bigram                   pinyin syllable bigrams (any substring of a title's pinyin)
  py_initials                 initials of each title word and run (sfz)
  py_extra                    all three kinds for the extra text, incl. Latin aliases
"title" = official, local and short names; "extra" = plain name, aliases,
tags, 办理项, department and theme names/aliases.
Only entries that serve some region carry text: the rest (most township
entries) are stored for completeness but can never be a search result.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import tantivy

from catalog import textproc

WHITESPACE = "whitespace"

BASIC_CODE, BASIC_ORD, SERVES, ENTRY = "basic_code", "basic_ord", "serves", "entry"
DEPARTMENT, ITEM_TYPE, AUDIENCE, THEME, ONLINE_DEPTH = (
    "department", "item_type", "audience", "theme", "online_depth")
FILTER_FIELDS = (DEPARTMENT, ITEM_TYPE, AUDIENCE, THEME, ONLINE_DEPTH)
TITLE_GRAMS, TITLE_WORDS, EXTRA_GRAMS, EXTRA_WORDS = (
    "title_grams", "title_words", "extra_grams", "extra_words")
PY_FULL, PY_BIGRAM, PY_INITIALS, PY_EXTRA = "py_full", "py_bigram", "py_initials", "py_extra"
TEXT_FIELDS = (TITLE_GRAMS, TITLE_WORDS, EXTRA_GRAMS, EXTRA_WORDS,
               PY_FULL, PY_BIGRAM, PY_INITIALS, PY_EXTRA)


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in (BASIC_CODE, SERVES, *FILTER_FIELDS):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field(BASIC_ORD, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=WHITESPACE, index_option="freq")
    builder.add_bytes_field(ENTRY, stored=True)
    return builder.build()


@dataclass(frozen=True)
class _Tokens:
    grams: list[str]
    words: list[str]
    py_full: list[str]
    py_bigram: list[str]
    py_initials: list[str]


@lru_cache(maxsize=None)
def _analyse(text: str) -> _Tokens:
    tokens = _Tokens([], [], [], [], [])
    for run in textproc.runs(textproc.normalize(text)):
        if run.is_han:
            tokens.grams.extend(textproc.char_grams(run.text))
            syllables = textproc.han_pinyin(run.text)
            spans = textproc.word_spans(run.text)
            if not any(start == 0 and end == len(run.text) for _, start, end in spans):
                spans.append((run.text, 0, len(run.text)))
            for word, start, end in spans:
                tokens.words.append(word)
                word_syllables = syllables[start:end]
                if all(word_syllables):
                    tokens.py_full.append("".join(word_syllables))
                    tokens.py_initials.append("".join(s[0] for s in word_syllables))
            if all(syllables):
                tokens.py_bigram.extend(textproc.syllable_bigrams(syllables))
        else:
            tokens.words.append(run.text)
            syllables = textproc.split_pinyin(run.text)
            if syllables and len(syllables) > 1:
                tokens.py_full.append(run.text)
                tokens.py_bigram.extend(textproc.syllable_bigrams(syllables))
                tokens.py_initials.append("".join(s[0] for s in syllables))
            else:
                tokens.py_initials.append(run.text)
    return tokens


@lru_cache(maxsize=None)
def analysed_fields(titles: tuple[str, ...], extras: tuple[str, ...]) -> dict[str, str]:
    """Field name → space-joined tokens. Cached: the same few thousand
    (names, phrases) combinations repeat across ~500k entries."""
    title = [_analyse(text) for text in titles]
    extra = [_analyse(text) for text in extras]

    def join(parts: list[_Tokens], kind: str) -> str:
        return " ".join(dict.fromkeys(t for part in parts for t in getattr(part, kind)))

    return {
        TITLE_GRAMS: join(title, "grams"), TITLE_WORDS: join(title, "words"),
        EXTRA_GRAMS: join(extra, "grams"), EXTRA_WORDS: join(extra, "words"),
        PY_FULL: join(title, "py_full"), PY_BIGRAM: join(title, "py_bigram"),
        PY_INITIALS: join(title, "py_initials"),
        PY_EXTRA: " ".join(dict.fromkeys(
            token for kind in ("py_full", "py_initials", "py_bigram") for part in extra
            for token in getattr(part, kind))),
    }
