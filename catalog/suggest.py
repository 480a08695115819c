"""As-you-type completions from in-memory tables (no index access): official names, short
names, local names, aliases, and the pinyin and initials of all of them. Region-aware through
the same local-name rule as the index; with no region the official wording is shown.

Han input matches a key from its start or anywhere inside it (身份 → 居民身份证换领). Latin input
matches full pinyin or initials from the start of any syllable of a name or alias, so `weizhang`
finds 处理违章, `yiliaobaoxian` 城乡居民基本医疗保险…, `huzh` 办护照 (the last syllable may be
incomplete); spaced pinyin (`hu zhao`) is joined first. A few thousand keys and some tens of
thousands of syllable suffixes, bisected.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from catalog import textproc
from catalog.model import ReferenceData
from catalog.results import Suggestion

# names before colloquial phrases before pinyin; a match at the start of a key before one inside
_KIND_RANK = {"name": 0, "local_name": 0, "short_name": 0, "alias": 1, "pinyin": 2, "initials": 2}
_MIN_INFIX_LATIN = 3  # two letters inside a name match far too much (`hz`, `sh`)


@dataclass(frozen=True)
class _Key:
    key: str
    kind: str
    basic_code: str
    text: str      # the name this key belongs to (local_name keys: the variant)
    start: bool    # the key begins at the start of the name or alias


class Suggester:
    def __init__(self, ref: ReferenceData, lexicon: dict[str, list[str]]) -> None:
        self._ref = ref
        keys: list[_Key] = []
        latin: list[_Key] = []
        for item in ref.items:
            code = item.basic_code
            keys.append(_Key(textproc.compact(item.name), "name", code, item.name, True))
            keys.append(_Key(textproc.compact(item.short_name), "short_name", code, item.name, True))
            keys.extend(_Key(textproc.compact(a), "alias", code, item.name, True) for a in item.aliases)
            for text in (item.name, item.short_name, *item.aliases):
                latin += _spelled_keys(text, lexicon.get(text, []), code, item.name)
        for variant in ref.variants:
            keys.append(_Key(textproc.compact(variant.local_name), "local_name", variant.basic_code,
                             variant.local_name, True))
            latin += _spelled_keys(variant.local_name, lexicon.get(variant.local_name, []),
                                   variant.basic_code, variant.local_name, kind_prefix="local_")
        keys.sort(key=lambda k: k.key)
        self._keys, self._sorted = keys, [k.key for k in keys]
        # spellings from the start of a name, and from inner syllables (searched only when the
        # start ones do not fill the list and enough was typed: `sh` inside names is noise)
        starts = sorted((k for k in latin if k.start), key=lambda k: k.key)
        inner = sorted((k for k in latin if not k.start), key=lambda k: k.key)
        self._latin_start, self._latin_start_sorted = starts, [k.key for k in starts]
        self._latin_inner, self._latin_inner_sorted = inner, [k.key for k in inner]
        # infix candidates by character, so "身份" scans dozens of keys, not thousands
        self._containing: dict[str, list[_Key]] = {}
        for key in keys:
            for ch in set(key.key[1:]):
                self._containing.setdefault(ch, []).append(key)
        self._hot = {item.basic_code: item.hot for item in ref.items}

    def suggest(self, query: str, *, region: str | None, limit: int) -> list[Suggestion]:
        """`query` is normalised and simplified; `region` a 6-digit code or None."""
        typed = textproc.compact(query)
        prefixed = _with_prefix(self._keys, self._sorted, typed)
        infixed = [k for k in self._containing.get(typed[:1], []) if typed in k.key[1:]]
        groups = [prefixed, infixed]
        if typed.isascii() and typed.isalpha():
            groups.append(_with_prefix(self._latin_start, self._latin_start_sorted, typed))
            if len(typed) >= _MIN_INFIX_LATIN and len({k.basic_code for g in groups for k in g}) < limit:
                groups.append(_with_prefix(self._latin_inner, self._latin_inner_sorted, typed))
        chosen: dict[str, Suggestion] = {}
        for group in groups:
            for key in sorted(group, key=lambda k: (_KIND_RANK[_public(k.kind)],
                                                    -self._hot[k.basic_code], k.key)):
                if len(chosen) >= limit:
                    break
                if key.basic_code in chosen or not self._applies(key, region):
                    continue
                chosen[key.basic_code] = Suggestion(text=self._shown(key, region), basic_code=key.basic_code,
                                                    kind=_public(key.kind))
        return list(chosen.values())

    def _applies(self, key: _Key, region: str | None) -> bool:
        """A local name is offered where it is the name in use, or anywhere when no region is
        chosen (it is then shown under the official name)."""
        if not key.kind.startswith("local") or region is None:
            return True
        return self._ref.local_name(key.basic_code, region) == key.text

    def _shown(self, key: _Key, region: str | None) -> str:
        """The name the citizen will see on the item: the region's wording, else the official
        one, never one county's local name for the whole region."""
        if key.kind.startswith("local") and region is not None:
            return key.text
        return self._ref.local_name(key.basic_code, region)


def _public(kind: str) -> str:
    """Pinyin of a local name is reported as pinyin."""
    return kind.removeprefix("local_") if kind in ("local_pinyin", "local_initials") else kind


def _with_prefix(keys: list[_Key], ordered: list[str], typed: str) -> list[_Key]:
    start = bisect.bisect_left(ordered, typed)
    found = []
    for key in keys[start:]:
        if not key.key.startswith(typed):
            break
        found.append(key)
    return found


def _spelled_keys(text: str, syllables: list[str], code: str, name: str, kind_prefix: str = "") -> list[_Key]:
    """Full pinyin and initials of `text` from each syllable on (only Han stretches spell)."""
    spelled = [s for s in syllables if s]
    if len(spelled) < 1:
        return []
    keys = []
    for start in range(len(spelled)):
        at_start = start == 0
        keys.append(_Key("".join(spelled[start:]), kind_prefix + "pinyin", code, name, at_start))
        keys.append(_Key("".join(s[0] for s in spelled[start:]), kind_prefix + "initials", code, name, at_start))
    return keys
