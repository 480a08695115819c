"""The catalogue's own vocabulary: what query understanding resolves against.

Built partly at index time (`vocabulary.json`, because it needs pypinyin, which web workers do
not load) and partly when a build is opened (from the reference data, cheap):

* per item, its own text (names, short/plain name, aliases, tags, local names) and its themes'
  text, normalised; document frequency of any string over the items' own text → IDF, so a rare
  word (药店, 季度, 年审) weighs more than a common one (许可, 办理, 补贴);
* the Han trigrams and bigrams of that text, for homophone typo correction (公基金 → 公积金);
* full pinyin and initials of every vocabulary word (jieba words of that text), so Latin input
  inside a Han query resolves to Han words (办yyzz → 办营业执照, jie hun deng ji → 结婚登记);
* toneless readings of every common Han character, for "is this substitution a homophone?";
* the Latin tokens the items themselves carry (sfz, ktv, sc, 12345, 4050, c1, b2 …).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from catalog import textproc
from catalog.model import BasicItem, ReferenceData

VOCABULARY_FILE = "vocabulary.json"
_CJK_FIRST, _CJK_LAST = 0x4E00, 0x9FFF
_MASK_CACHE = 50_000


def own_texts(item: BasicItem, ref: ReferenceData) -> list[str]:
    return [item.name, item.short_name, item.plain_name, *item.aliases, *item.tags,
            *ref.variant_names(item.basic_code)]


def theme_texts(item: BasicItem, ref: ReferenceData) -> list[str]:
    texts = []
    for code in item.themes:
        theme = ref.theme(code)
        texts += [theme.name, *theme.aliases]
    return texts


def _fuzzy(syllable: str) -> str:
    for hard, soft in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(hard):
            syllable = soft + syllable[2:]
    if syllable.startswith("n"):
        syllable = "l" + syllable[1:]
    for hard, soft in (("ing", "in"), ("eng", "en"), ("ang", "an")):
        if syllable.endswith(hard):
            syllable = syllable[:-len(hard)] + soft
    return syllable


# -- build time ------------------------------------------------------------------------------


def build_vocabulary(ref: ReferenceData) -> dict[str, object]:
    """The pypinyin-dependent part, written next to the index as `vocabulary.json`."""
    from pypinyin import Style, pinyin

    chars: dict[str, list[str]] = {}
    for cp in range(_CJK_FIRST, _CJK_LAST + 1):
        readings = pinyin(chr(cp), style=Style.NORMAL, heteronym=True, errors=lambda _: [[]])[0]
        readings = sorted({r for r in readings if r and r.isascii() and r.isalpha()})
        if readings:
            chars[chr(cp)] = readings
    words: dict[str, str] = {}
    texts = {t for item in ref.items for t in own_texts(item, ref)}
    texts |= {t for theme in ref.themes for t in (theme.name, *theme.aliases)}
    for text in sorted(texts):
        for run in textproc.runs(textproc.normalize(text)):
            if not run.is_han:
                continue
            syllables = textproc.han_pinyin(run.text)
            for word, start, end in [*textproc.word_spans(run.text), (run.text, 0, len(run.text))]:
                if len(word) >= 2 and all(syllables[start:end]) and word not in words:
                    words[word] = " ".join(syllables[start:end])
    return {"chars": chars, "words": words}


def write_vocabulary(path: Path, ref: ReferenceData) -> None:
    path.write_text(json.dumps(build_vocabulary(ref), ensure_ascii=False), encoding="utf-8")


# -- runtime ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemText:
    own: str     # normalised own text, texts separated by "|"
    themes: str  # normalised theme names and aliases
    latin: frozenset[str]  # Latin runs of the own text


class Vocabulary:
    def __init__(self, ref: ReferenceData, built: dict[str, object] | None) -> None:
        self.items: list[ItemText] = []
        self._masks: dict[str, int] = {}
        self._theme_masks: dict[str, int] = {}
        self._readings: dict[str, frozenset[str]] = {}
        self.corrections: dict[str, str] = {}  # understanding.correct's memo
        han_texts: list[str] = []
        latin_items: dict[str, set[int]] = defaultdict(set)
        for ordinal, item in enumerate(ref.items):
            own = [textproc.normalize_query(t) for t in own_texts(item, ref)]
            latin = frozenset(r.text for t in own for r in textproc.runs(t) if not r.is_han)
            for token in latin:
                latin_items[token].add(ordinal)
            self.items.append(ItemText("|".join(own), "|".join(
                textproc.normalize_query(t) for t in theme_texts(item, ref)), latin))
            han_texts += [r.text for t in own for r in textproc.runs(t) if r.is_han]
        han_texts += [r.text for theme in ref.themes for t in (theme.name, *theme.aliases)
                      for r in textproc.runs(textproc.normalize(t)) if r.is_han]
        self.count = len(self.items)
        self.latin_tokens = {token: frozenset(ords) for token, ords in latin_items.items()}
        self.bigrams: set[str] = set()
        self.trigrams: set[str] = set()
        self._masked: dict[str, set[str]] = defaultdict(set)  # "a?c" / "?bc" / "ab?" → middle chars
        for run in han_texts:
            self.bigrams.update(run[i:i + 2] for i in range(len(run) - 1))
            for i in range(len(run) - 2):
                tri = run[i:i + 3]
                self.trigrams.add(tri)
                for pos in range(3):
                    self._masked[tri[:pos] + "?" + tri[pos + 1:]].add(tri[pos])
        for gram in self.bigrams:
            for pos in range(2):
                self._masked[gram[:pos] + "?" + gram[pos + 1:]].add(gram[pos])
        built = built or {}
        self._chars: dict[str, list[str]] = built.get("chars", {})  # type: ignore[assignment]
        self._words = frozenset(built.get("words", {}))  # type: ignore[arg-type]
        self.by_pinyin: dict[str, list[str]] = defaultdict(list)
        self.by_initials: dict[str, list[str]] = defaultdict(list)
        for word, spelled in built.get("words", {}).items():  # type: ignore[union-attr]
            syllables = spelled.split()
            self.by_pinyin["".join(syllables)].append(word)
            self.by_initials["".join(s[0] for s in syllables)].append(word)
        self._ranked: set[tuple[int, str]] = set()

    @classmethod
    def load(cls, ref: ReferenceData, build_root: Path) -> Vocabulary:
        path = build_root / VOCABULARY_FILE
        built = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        return cls(ref, built)

    # -- statistics --------------------------------------------------------------------------

    def mask(self, term: str) -> int:
        """Items whose own text contains `term`, as a bit set over item ordinals (memoised per
        build: queries repeat their words, and a term's items are then one dict lookup)."""
        found = self._masks.get(term)
        if found is None:
            found = 0
            for ordinal, item in enumerate(self.items):
                if term in item.own:
                    found |= 1 << ordinal
            if len(self._masks) < _MASK_CACHE:
                self._masks[term] = found
        return found

    def theme_mask(self, term: str) -> int:
        """Items whose 一件事 themes' names or aliases contain `term`."""
        found = self._theme_masks.get(term)
        if found is None:
            found = 0
            for ordinal, item in enumerate(self.items):
                if term in item.themes:
                    found |= 1 << ordinal
            if len(self._theme_masks) < _MASK_CACHE:
                self._theme_masks[term] = found
        return found

    def latin_mask(self, token: str) -> int:
        found = 0
        for ordinal in self.latin_tokens.get(token, ()):
            found |= 1 << ordinal
        return found

    def df(self, term: str) -> int:
        """How many items' own text contains `term`."""
        return self.mask(term).bit_count()

    def idf_of(self, mask: int) -> float:
        return math.log(1 + self.count / (1 + mask.bit_count()))

    def idf(self, term: str) -> float:
        return self.idf_of(self.mask(term))

    def known(self, term: str) -> bool:
        return self.df(term) > 0

    def is_word(self, text: str) -> bool:
        """A word (jieba, two or more characters) of the catalogue's own text."""
        return text in self._words

    def words_for_pinyin(self, spelled: str) -> list[str]:
        return self._most_used(self.by_pinyin, spelled)

    def words_for_initials(self, initials: str) -> list[str]:
        return self._most_used(self.by_initials, initials)

    def _most_used(self, table: dict[str, list[str]], key: str) -> list[str]:
        """Words spelled `key`, the one most items use first (sorted on first use: sorting all
        of them when a build opens would cost a second per worker)."""
        words = table.get(key)
        if not words:
            return []
        if (id(table), key) not in self._ranked:
            words.sort(key=lambda w: (-self.df(w), -len(w), w))
            self._ranked.add((id(table), key))
        return words

    # -- homophones --------------------------------------------------------------------------

    def readings(self, char: str) -> frozenset[str]:
        """Toneless readings, folded the way pinyin keyboards' fuzzy mode folds them (zh/z,
        ch/c, sh/s, ing/in, eng/en, ang/an, n/l): 经 and 金 are one slip apart."""
        found = self._readings.get(char)
        if found is None:
            found = self._readings[char] = frozenset(_fuzzy(r) for r in self._chars.get(char, ()))
        return found

    def homophones_in(self, masked: str, char: str) -> list[str]:
        """Characters that fill `masked` ("a?c") to a catalogue n-gram and sound like `char`."""
        sound = self.readings(char)
        return sorted(c for c in self._masked.get(masked, ()) if c != char and sound & self.readings(c))
