"""Mongolian (traditional script, ``mn-Mong``) names with per-string Chinese fallback, and match keys.

Reference data is handed over (``MongolianNames(reference)``; the catalogue's ``ReferenceData``): the
regions have ``name_mn`` for 77 of 116 (the province, the 12 盟市, most 旗县). There is no Mongolian
item data, so item names always fall back to Chinese; no translation is invented here. An item's
``name_mn`` is used as soon as the reference set gains one.

Every localized string is ``{"text": ..., "lang": "mn-Mong" | "zh-Hans", "fallback": bool}``:
``fallback`` is true when Mongolian was asked for and Chinese is given instead (WCAG 3.1.2,
duty B14: each part carries its language).

``normalize`` builds *match keys* only, never display text (notes §5): it drops the format
controls (FVS1–FVS4, MVS, ZWJ/ZWNJ), NNBSP, spaces and punctuation, and folds o/u and ö/ü, which
share glyphs in most positions and are confused in input. Shape-exact keys would need
``mongol-norm`` (UTN #57); it is not a dependency of this project.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.model import ReferenceData

__all__ = ["MONGOLIAN", "CHINESE", "LANGUAGES", "MongolianNames", "language_tag", "localized", "names_for",
           "normalize"]

MONGOLIAN = "mn-Mong"
CHINESE = "zh-Hans"
LANGUAGES = ("zh", "mn")  # as in auth.preferences.LANGUAGES
_TAGS = {"zh": CHINESE, "mn": MONGOLIAN}

# Format controls that change shape, not meaning.
_FVS = {"\u180b", "\u180c", "\u180d", "\u180f"}
_MVS = "\u180e"
_NNBSP = "\u202f"
_JOINERS = {"\u200c", "\u200d", "\u2060"}
_DROP = frozenset(_FVS | {_MVS, _NNBSP} | _JOINERS)
_FOLD = str.maketrans({
    "\u1823": "\u1824",  # o → u
    "\u1825": "\u1826",  # ö → ü
    **{chr(0x1810 + d): str(d) for d in range(10)},  # Mongolian digits → ASCII
})
# Latin transliteration (name_mn_translit) folded to plain ASCII for typed Latin queries.
_LATIN_FOLD = str.maketrans({"ö": "o", "ü": "u", "γ": "g", "č": "c", "š": "s", "ǰ": "j", "ž": "z",
                             "ē": "e", "ā": "a"})


def language_tag(language: str) -> str:
    """``zh`` → ``zh-Hans``, ``mn`` → ``mn-Mong`` (the preference values in auth.preferences)."""
    try:
        return _TAGS[language]
    except KeyError:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}") from None


def localized(mongolian: str | None, chinese: str, language: str) -> dict[str, Any]:
    """One display string in ``language``; Chinese, marked ``fallback``, when Mongolian is missing."""
    language_tag(language)
    if language == "mn":
        if mongolian:
            return {"text": mongolian, "lang": MONGOLIAN, "fallback": False}
        return {"text": chinese, "lang": CHINESE, "fallback": True}
    return {"text": chinese, "lang": CHINESE, "fallback": False}


def normalize(text: str) -> str:
    """Match key: no FVS/MVS/NNBSP/joiners, no spaces or punctuation, o/u and ö/ü folded,
    Latin lowercased with transliteration diacritics removed. Never use it for display."""
    if not text:
        return ""
    kept = []
    for ch in text:
        if ch in _DROP:
            continue
        category = unicodedata.category(ch)
        if category[0] in "ZPC":
            continue
        kept.append(ch)
    folded = "".join(kept).translate(_FOLD).casefold().translate(_LATIN_FOLD)
    return unicodedata.normalize("NFKC", folded)


class MongolianNames:
    """Region and item names in Mongolian from the reference data the composition root hands over
    (``catalog.model.ReferenceData``); built once per reference set (``names_for``)."""

    def __init__(self, reference: ReferenceData) -> None:
        self._regions = {region.code: region for region in reference.regions.all()}
        self._items = {item.basic_code: item.name_mn for item in reference.items if item.name_mn}

    def region_name(self, code: str | None, language: str = "mn", *, zh_name: str | None = None) -> dict[str, Any] | None:
        """A region's name in ``language``; ``zh_name`` is used when the code is unknown (townships).

        None when neither the code nor ``zh_name`` gives a name.
        """
        region = self._regions.get(code or "")
        chinese = zh_name or (region.name if region else None)
        if chinese is None:
            return None
        return localized(region.name_mn if region else None, chinese, language)

    def item_name(self, basic_code: str, zh_name: str, language: str = "mn") -> dict[str, Any]:
        """An item's name; always the Chinese fallback today (no Mongolian item names in the reference data)."""
        return localized(self._items.get(basic_code), zh_name, language)

    def localize(self, payload: Any, language: str) -> Any:
        """A copy of a catalogue / elder response with localized names beside the Chinese ones.

        * a dict with ``region_code`` and ``region_name`` (items, hits, tiles, details) gains
          ``region_name_local``;
        * a dict with a top-level ``region`` code (hot list, theme, home) gains ``region_name_local``;
        * a dict with ``basic_code`` and ``name`` gains ``name_local`` (Chinese fallback today).

        Existing fields keep their Chinese values, so the response schema only grows.
        """
        language_tag(language)
        return self._walk(payload, language)

    def _walk(self, value: Any, language: str) -> Any:
        if isinstance(value, Mapping):
            out = {k: self._walk(v, language) for k, v in value.items()}
            if isinstance(out.get("region_code"), str) and isinstance(out.get("region_name"), str):
                out["region_name_local"] = self.region_name(out["region_code"], language, zh_name=out["region_name"])
            elif isinstance(out.get("region"), str) and "region_name_local" not in out:
                local = self.region_name(out["region"], language)
                if local is not None:
                    out["region_name_local"] = local
            if isinstance(out.get("basic_code"), str) and isinstance(out.get("name"), str):
                out["name_local"] = self.item_name(out["basic_code"], out["name"], language)
            return out
        if isinstance(value, (list, tuple)):
            return [self._walk(v, language) for v in value]
        return value


@lru_cache(maxsize=4)
def names_for(reference: ReferenceData) -> MongolianNames:
    """The names of one reference set (a rebuilt catalogue brings a new one; old ones age out)."""
    return MongolianNames(reference)
