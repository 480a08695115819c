"""As-you-type completions from an in-memory prefix table (no index access):
official names, short names, local names, aliases, and the pinyin and
initials of names. A few thousand keys, bisected; region-aware through the
same local-name rule as the index."""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from catalog import textproc
from catalog.model import ReferenceData
from catalog.results import Suggestion

# names before colloquial phrases before pinyin; popularity decides within a rank
_KIND_RANK = {"name": 0, "local_name": 0, "short_name": 0, "alias": 1, "pinyin": 2, "initials": 2}


@dataclass(frozen=True)
class _Key:
    key: str
    kind: str
    basic_code: str
    text: str  # the name this key belongs to (local_name keys: the variant)


class Suggester:
    def __init__(self, ref: ReferenceData, lexicon: dict[str, list[str]]) -> None:
        self._ref = ref
        keys: list[_Key] = []
        for item in ref.items:
            code = item.basic_code
            keys.append(_Key(textproc.compact(item.name), "name", code, item.name))
            keys.append(_Key(textproc.compact(item.short_name), "short_name", code, item.name))
            keys.extend(_Key(textproc.compact(a), "alias", code, item.name) for a in item.aliases)
            for name in (item.name, item.short_name):
                syllables = [s for s in lexicon.get(name, []) if s]
                if syllables:
                    keys.append(_Key("".join(syllables), "pinyin", code, item.name))
                    keys.append(_Key("".join(s[0] for s in syllables), "initials", code, item.name))
        for variant in ref.variants:
            keys.append(_Key(textproc.compact(variant.local_name), "local_name", variant.basic_code,
                             variant.local_name))
        keys.sort(key=lambda k: k.key)
        self._keys = keys
        self._sorted = [k.key for k in keys]
        # infix candidates by character, so "身份" scans dozens of keys, not thousands
        self._containing: dict[str, list[_Key]] = {}
        for key in keys:
            if key.kind not in ("pinyin", "initials"):
                for ch in set(key.key[1:]):
                    self._containing.setdefault(ch, []).append(key)
        self._hot = {item.basic_code: item.hot for item in ref.items}

    def suggest(self, query: str, *, region: str | None, limit: int) -> list[Suggestion]:
        """`query` is normalised and simplified; `region` a 6-digit code or None."""
        typed = textproc.compact(query)
        start = bisect.bisect_left(self._sorted, typed)
        prefixed = []
        for key in self._keys[start:]:
            if not key.key.startswith(typed):
                break
            prefixed.append(key)
        infixed = [k for k in self._containing.get(typed[:1], []) if typed in k.key[1:]]
        chosen: dict[str, Suggestion] = {}
        for group in (prefixed, infixed):
            for key in sorted(group, key=lambda k: (_KIND_RANK[k.kind], -self._hot[k.basic_code], k.key)):
                if len(chosen) >= limit:
                    break
                if key.basic_code in chosen or not self._applies(key, region):
                    continue
                chosen[key.basic_code] = Suggestion(text=self._shown(key, region), basic_code=key.basic_code,
                                                    kind=key.kind)
        return list(chosen.values())

    def _applies(self, key: _Key, region: str | None) -> bool:
        """A local name is offered where it is the name in use, or anywhere
        when no region is chosen."""
        if key.kind != "local_name" or region is None:
            return True
        return self._ref.local_name(key.basic_code, region) == key.text

    def _shown(self, key: _Key, region: str | None) -> str:
        if key.kind == "local_name":
            return key.text
        return self._ref.local_name(key.basic_code, region)
