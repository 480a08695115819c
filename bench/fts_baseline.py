"""The baseline a team would reach for instead of tantivy + our analysis: SQLite FTS5 with the
trigram tokenizer over the same catalogue text (names, plain name, aliases, tags, theme names).

Matching as such a team would write it: the query as one substring (trigram phrase) ranked by
bm25; when that finds fewer than three items, items sharing any trigram of the query, ranked by
bm25; queries under three characters (trigram's minimum) fall back to LIKE, most popular first.
Traditional characters are converted with the same OpenCC t2s the catalogue uses, so the baseline
is not penalised for a step any team would copy.
"""
from __future__ import annotations

import sqlite3

from catalog import textproc
from catalog.model import ReferenceData

_COLUMNS = ("name", "short_name", "plain_name", "aliases", "tags", "themes")


class FtsBaseline:
    def __init__(self, ref: ReferenceData) -> None:
        self._db = sqlite3.connect(":memory:")
        self._db.execute(f"create virtual table items using fts5(code unindexed, hot unindexed, "
                         f"{', '.join(_COLUMNS)}, tokenize='trigram')")
        rows = []
        for item in ref.items:
            themes = " ".join(ref.theme(code).name + " " + " ".join(ref.theme(code).aliases) for code in item.themes)
            rows.append((item.basic_code, item.hot, item.name, item.short_name, item.plain_name,
                         " ".join(item.aliases), " ".join(item.tags), themes))
        self._db.executemany(f"insert into items values ({', '.join('?' * (len(_COLUMNS) + 2))})", rows)
        # name columns weigh more, as a team would set them
        self._weights = "10.0, 6.0, 3.0, 3.0, 1.0, 1.0"

    def search(self, q: str, limit: int = 10) -> list[str]:
        text = textproc.normalize_query(q).replace('"', " ").strip()
        if len(text.replace(" ", "")) < 3:
            like = f"%{text}%"
            cur = self._db.execute(
                "select code from items where " + " or ".join(f"{c} like ?" for c in _COLUMNS)
                + " order by cast(hot as integer) desc limit ?", (*([like] * len(_COLUMNS)), limit))
            return [row[0] for row in cur]
        found = self._match(f'"{text}"', limit)
        if len(found) < 3:
            grams = {text[i:i + 3] for i in range(len(text) - 2) if " " not in text[i:i + 3]}
            if grams:
                extra = self._match(" OR ".join(f'"{g}"' for g in sorted(grams)), limit)
                found += [code for code in extra if code not in found]
        return found[:limit]

    def _match(self, expression: str, limit: int) -> list[str]:
        try:
            cur = self._db.execute(f"select code from items where items match ? "
                                   f"order by bm25(items, 0, 0, {self._weights}) limit ?", (expression, limit))
        except sqlite3.OperationalError:
            return []
        return [row[0] for row in cur]
