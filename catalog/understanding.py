"""Query understanding: what the citizen asked for, before the index is asked.

    营业执照到期了怎么办  → pieces 营业执照 到期          (question and filler words dropped)
    jie hun deng ji      → jiehundengji → 结婚登记       (spaced pinyin joined, resolved)
    办yyzz / jhz丢了      → 办 营业执照 / 结婚证 丢了     (Latin runs resolved against the vocabulary)
    公基金提取            → 公积金提取                    (homophone typo, corrected per piece)

The result is a list of weighted `Term`s (how distinctive each is: IDF over the catalogue) that
the ranker matches against each item's own text, plus the strings an exact name or colloquial
phrase is compared with. Negation (不, 没, 无) is kept: it is never a filler.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from catalog import textproc
from catalog.synonyms import expansions
from catalog.typos import correct, join_singles, support
from catalog.vocabulary import Vocabulary

# Whole jieba tokens that only carry the asking, never the need. Kept short on purpose: a word
# here is dropped from every query, so anything that names a need (去世, 要求, 办) stays out.
FILLERS = frozenset("""
怎么 怎么办 怎么样 怎样 咋 咋办 咋弄 如何 怎么弄 想 想要 想问 想问下 要 需要 去 了 哪里 哪儿 在哪 在哪里 在哪儿 哪 哪个
什么 啥 请问 问下 问一下 你好 我 我的 我们 我家 我要 帮 帮我 帮忙 吗 呢 啊 吧 呀 嘛 一下 下 一个 可以 能 能不能
的 得 地 和 与 及 给 把 让 跟 在 是 有 办理 材料 条件 流程 手续 时间 了解 知道 应该 怎么样 多久 这个 那个 那边 这边
刚 刚刚 已经 今年 明年 打算 准备 还 也 都 就 又 再 自己 如何 去哪 去哪里 哪些 那些 些
""".split())
# Prefixes jieba glues to the next word (想开 → 开, 要办 → 办) when the glued form is unknown.
_FILLER_PREFIXES = ("想", "要", "去", "我", "给", "帮")
# Colloquial pairs jieba splits but that must survive filler removal (丢 + 了 = 丢了 → 补领).
_KEEP_PAIRS = frozenset({"丢了", "掉了", "坏了", "没了", "到了", "满了", "过了"})
# Negation keeps the word it negates (不给工资 must not become 不 … 工资).
NEGATIONS = frozenset({"不", "没", "没有", "未", "无", "别", "不能", "不会", "不用"})
_INITIAL_CHOICES = 3
_SINGLE_CHAR_WEIGHT = 0.5
WEAK, THEME = 0.6, 0.5  # credit for a less likely reading / a match through a 一件事 only


@dataclass(frozen=True)
class Term:
    """One meaningful part of the query, weighted by how distinctive it is (IDF of the items it
    can match). Item sets are bit sets over item ordinals: `own` items spell the term (or its
    correction, colloquial expansion, Latin resolution) in their own text; `weak` ones only a
    less likely reading of it (hz → 换证 rather than 护照); `themes` ones only through a 一件事."""
    text: str
    alternatives: tuple[str, ...]
    weight: float
    own: int
    weak: int = 0
    themes: int = 0
    latin: str | None = None

    def credit(self, ordinal: int) -> float:
        bit = 1 << ordinal
        if self.own & bit:
            return 1.0
        if self.weak & bit:
            return WEAK
        if self.themes & bit:
            return THEME
        return 0.0


@dataclass(frozen=True)
class Understanding:
    pieces: tuple[str, ...]          # Han pieces after filler removal and correction
    latin: tuple[str, ...]           # Latin runs (spaced pinyin joined)
    resolved: tuple[str, ...]        # Han words the Latin runs resolved to
    terms: tuple[Term, ...]
    exact_forms: tuple[str, ...]     # compact strings compared with names and phrases
    understood: str                  # the query as understood, for display
    did_you_mean: str | None         # set when a typo was corrected
    only_fillers: bool               # nothing but question words (怎么办)

    @property
    def reachable(self) -> int:
        """Items matching at least one term (bit set over ordinals)."""
        found = 0
        for term in self.terms:
            found |= term.own | term.weak | term.themes
        return found


def understand(text: str, vocab: Vocabulary) -> Understanding:
    """`text` is normalised and simplified (`textproc.normalize_query`)."""
    segments = _segments(_join_spaced_pinyin(arabic_numerals(text)))
    cleaned: list[tuple[str, str]] = []   # ("han" | "latin", text), in query order
    corrected_any = False
    for kind, value in segments:
        if kind == "latin":
            cleaned.append((kind, value))
            continue
        for piece in _strip_fillers(value, vocab):
            fixed = correct(piece, vocab)
            corrected_any |= fixed != piece
            cleaned.append(("han", fixed))
            if fixed != piece:
                cleaned.append(("orig", piece))
    only_fillers = not any(kind != "orig" for kind, _ in cleaned)
    if only_fillers:  # 怎么办 alone: search what was typed, marked as carrying no need
        cleaned = [(kind, value) for kind, value in segments]
    resolved_by_position: dict[int, list[str]] = {}
    for position, (kind, value) in enumerate(cleaned):
        if kind == "latin":
            resolved_by_position[position] = resolve_latin(value, vocab, _neighbours(cleaned, position))
    terms: list[Term] = []
    for position, (kind, value) in enumerate(cleaned):
        if kind == "han":
            following = cleaned[position + 1] if position + 1 < len(cleaned) else ("", "")
            terms += _han_terms(value, following[1] if following[0] == "orig" else None, vocab)
        elif kind == "latin" and resolved_by_position[position] and _is_pinyin(value):
            # full pinyin spells Han text: understood word by word, like typed Han
            terms += _han_terms(resolved_by_position[position][0], None, vocab) or [
                _latin_term(value, resolved_by_position[position], vocab)]
        elif kind == "latin":
            terms.append(_latin_term(value, resolved_by_position[position], vocab))
    understood_parts = [resolved_by_position.get(n, [v])[0] if k == "latin" and resolved_by_position.get(n) else v
                        for n, (k, v) in enumerate(cleaned) if k != "orig"]
    understood = "".join(understood_parts)
    raw_compact = "".join(v for _, v in segments)
    forms = dict.fromkeys([raw_compact, understood,
                           "".join(v for k, v in cleaned if k != "orig")])
    return Understanding(
        pieces=tuple(v for k, v in cleaned if k == "han"),
        latin=tuple(v for k, v in cleaned if k == "latin"),
        resolved=tuple(w for words in resolved_by_position.values() for w in words[:1]),
        terms=tuple(_merge(terms)), exact_forms=tuple(f for f in forms if f), understood=understood,
        did_you_mean=understood if corrected_any else None, only_fillers=only_fillers,
    )


_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_HAN_NUMBER = re.compile(r"[零一二两三四五六七八九十百千]+")


def arabic_numerals(text: str) -> str:
    """Numbers written in characters as the catalogue writes them, in digits: 八十多 → 80多,
    七十岁 → 70岁, 扣满十二分 → 扣满12分. Only compound numbers (with 十/百/千) or ages (…岁), so
    一件事, 二手房, 三孩 stay as they are."""
    def convert(match: re.Match[str]) -> str:
        run = match.group()
        after = text[match.end():match.end() + 2]
        if not any(u in run for u in _UNITS) and not after.startswith(("岁", "周岁")):
            return run
        value = _han_number(run)
        return str(value) if value is not None else run
    return _HAN_NUMBER.sub(convert, text)


def _han_number(run: str) -> int | None:
    total, digit = 0, None
    for ch in run:
        if ch in _DIGITS:
            if digit is not None and not any(u in run for u in _UNITS):
                digit = digit * 10 + _DIGITS[ch]  # 六五岁 → 65
            else:
                digit = _DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
    return total + (digit or 0)


# -- segments ----------------------------------------------------------------------------------


def _join_spaced_pinyin(text: str) -> str:
    """`jie hun deng ji` → `jiehundengji` when every part is pinyin (`c1 b2` stays apart)."""
    words = text.split(" ")
    out: list[str] = []
    for word in words:
        if (out and word.isascii() and word.isalpha() and out[-1].isascii() and out[-1].isalpha()
                and textproc.split_pinyin(word) and textproc.split_pinyin(out[-1])):
            out[-1] += word
        else:
            out.append(word)
    return " ".join(out)


def _segments(text: str) -> list[tuple[str, str]]:
    return [("han" if run.is_han else "latin", run.text) for run in textproc.runs(text)]


def _neighbours(cleaned: list[tuple[str, str]], position: int) -> tuple[str, str]:
    before = next((v for k, v in reversed(cleaned[:position]) if k == "han"), "")
    after = next((v for k, v in cleaned[position + 1:] if k == "han"), "")
    return before, after


def _strip_fillers(run: str, vocab: Vocabulary) -> list[str]:
    """Han pieces left once question and filler tokens are removed; a removed token splits the
    run, so the words around it are never glued into a false bigram."""
    tokens = textproc.cut(run)
    pieces: list[str] = []
    current = ""
    for n, token in enumerate(tokens):
        pair = token + tokens[n + 1] if n + 1 < len(tokens) else ""
        if pair in _KEEP_PAIRS:
            tokens[n + 1] = pair
            continue
        negated = n > 0 and tokens[n - 1] in NEGATIONS
        if token in FILLERS and not negated:
            if current:
                pieces.append(current)
            current = ""
            continue
        if len(token) > 1 and token[0] in _FILLER_PREFIXES and not vocab.known(token):
            if current:
                pieces.append(current)
            current = ""
            token = token[1:]
        current += token
    if current:
        pieces.append(current)
    return pieces


# -- Latin ---------------------------------------------------------------------------------------


def resolve_latin(token: str, vocab: Vocabulary, around: tuple[str, str] = ("", "")) -> list[str]:
    """Han words a Latin run stands for, best first: full pinyin (jiehundengji → 结婚登记), else
    pinyin initials (yyzz → 营业执照). Codes with digits (4050, 12345, c1) stay literal: []. Among
    words with the same initials the one that joins the Han neighbours into catalogue text wins
    (换hz → 护照, since 换护 is a catalogue bigram and 换换 is not)."""
    if any(ch.isdigit() for ch in token):
        return []
    if _is_pinyin(token):
        spelled = _segment(textproc.split_pinyin(token) or [], vocab.words_for_pinyin)
        if spelled:
            return ["".join(spelled)]
    if len(token) < 2:
        return []
    options = vocab.words_for_initials(token)[:8]
    if not options:
        parts = _segment(list(token), vocab.words_for_initials, min_len=2)
        return ["".join(parts)] if parts else []
    before, after = around

    def fit(word: str) -> tuple[float, int]:
        joined = before[-2:] + word + after[:2]
        return (support(joined, vocab) - support(word, vocab), vocab.df(word))

    return sorted(options, key=fit, reverse=True)[:_INITIAL_CHOICES]


def _is_pinyin(token: str) -> bool:
    """Full pinyin rather than initials: `hukou`, `dibao`, `shenfenzheng` (not `sfz`, `hz`)."""
    syllables = textproc.split_pinyin(token)
    return bool(syllables) and (len(syllables) > 1 or len(token) >= 3)


def _segment(units: list[str], lookup, min_len: int = 1) -> list[str] | None:
    """Fewest vocabulary words spelling `units` (syllables or initials), most frequent reading."""
    n = len(units)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - 8), end - min_len + 1):
            head = best[start]
            words = lookup("".join(units[start:end]))
            if head is not None and words:
                candidate = head + [words[0]]
                if best[end] is None or len(candidate) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = candidate
    return best[n]


# -- terms ---------------------------------------------------------------------------------------


def _han_terms(piece: str, original: str | None, vocab: Vocabulary) -> list[Term]:
    """Non-overlapping words of a piece, weighted by IDF. Single characters jieba left apart are
    joined when the catalogue spells them together (年 审 → 年审). A word the catalogue never uses
    counts through its colloquial expansions (药房 → 药店) or the known words inside it; an
    unknown two-character word is dropped rather than split into noisy characters (季度 must not
    turn into 度 and match 年度报告)."""
    terms = []
    position = 0
    for word in join_singles(textproc.cut(piece), vocab, FILLERS):
        start, position = position, position + len(word)
        if word in FILLERS:
            continue
        if vocab.known(word) or expansions(word):
            parts = [word]
        elif len(word) > 2:
            parts = [p for p in _known_parts(word, vocab) if len(p) > 1]
        else:
            parts = []
        typed = original[start:position] if original and len(original) == len(piece) else None
        for part in parts:
            alternatives = [part, *expansions(part)]
            if typed and typed != word and part == word:
                alternatives.append(typed)
            own = 0
            for alternative in alternatives:
                own |= vocab.mask(alternative)
            themes = 0
            for alternative in alternatives:
                themes |= vocab.theme_mask(alternative)
            split = _split_mask(part, vocab) & ~own
            weight = vocab.idf_of(own | split or themes) * (_SINGLE_CHAR_WEIGHT if len(part) == 1 else 1.0)
            if own or themes or split:
                terms.append(Term(part, tuple(dict.fromkeys(alternatives)), weight, own, split, themes & ~own & ~split))
    return terms


def _split_mask(word: str, vocab: Vocabulary) -> int:
    """Items spelling every known part of a compound, apart (建筑施工 → 建筑 … 施工): jieba glues
    words one item happens to use together, the query may mean them separately."""
    if len(word) < 4:
        return 0
    parts = _known_parts(word, vocab)
    if len(parts) < 2 or any(len(p) < 2 for p in parts):
        parts = [w for w in textproc.words(word) if len(w) >= 2 and w != word]
        if len(parts) < 2:
            return 0
    found = -1
    for part in parts:
        found &= vocab.mask(part)
    return max(found, 0)


def _known_parts(word: str, vocab: Vocabulary) -> list[str]:
    """Longest known sub-words left to right, else single characters."""
    parts, i = [], 0
    while i < len(word):
        for end in range(len(word), i + 1, -1):
            if vocab.known(word[i:end]):
                parts.append(word[i:end])
                i = end
                break
        else:
            parts.append(word[i])
            i += 1
    return parts


def _latin_term(token: str, resolved: list[str], vocab: Vocabulary) -> Term:
    own = vocab.latin_mask(token)
    if resolved:
        own |= vocab.mask(resolved[0])
    weak = 0
    for word in resolved[1:]:
        weak |= vocab.mask(word)
    weak &= ~own
    themes = 0
    for word in resolved[:1]:
        themes |= vocab.theme_mask(word)
    weight = vocab.idf_of(own) if own else 1.0
    return Term(token, tuple(dict.fromkeys([token, *resolved])), weight, own, weak, themes & ~own, latin=token)


def _merge(terms: list[Term]) -> list[Term]:
    """The same word twice counts once (公积金 … 公积金)."""
    seen: dict[str, Term] = {}
    for term in terms:
        seen.setdefault(term.text, term)
    return list(seen.values())
