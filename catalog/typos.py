"""Homophone typo correction (the usual pinyin-keyboard slip), guided by the catalogue's own
n-grams and words: 公基金提取 → 公积金提取, 结昏登记 → 结婚登记, 养老金人证 → 养老金认证."""
from __future__ import annotations

from catalog import textproc
from catalog.vocabulary import Vocabulary

# Function characters are never the slip worth fixing (上个 must not become 上岗, 想 not 线).
_NEVER_CORRECTED = frozenset("个想要去了的我你他她给在是有和把也都就还再又吗呢啊吧呀")
_MAX_CORRECTIONS = 2
_CORRECTION_CACHE = 20_000


def support(text: str, vocab: Vocabulary) -> float:
    """How much of `text` reads like catalogue text: its known trigrams and bigrams."""
    tri = sum(text[i:i + 3] in vocab.trigrams for i in range(len(text) - 2))
    bi = sum(text[i:i + 2] in vocab.bigrams for i in range(len(text) - 1))
    return tri + 0.5 * bi


def correct(piece: str, vocab: Vocabulary) -> str:
    """Replace up to two characters by homophones (the usual pinyin-keyboard slip) when that
    turns unknown n-grams into catalogue ones: 公基金 → 公积金, 结昏 → 结婚, 居住正 → 居住证.
    A piece the catalogue already spells (or that no homophone improves) is returned as is.
    Memoised per build (a pure function of the piece)."""
    cache = vocab.corrections
    found = cache.get(piece)
    if found is None:
        found = _correct(piece, vocab)
        if len(cache) < _CORRECTION_CACHE:
            cache[piece] = found
    return found


def _correct(piece: str, vocab: Vocabulary) -> str:
    if len(piece) < 2 or vocab.known(piece):
        return piece
    current, score = piece, _fit(piece, vocab)
    for _ in range(_MAX_CORRECTIONS):
        best = (score, current)
        for i, char in enumerate(current):
            if char in _NEVER_CORRECTED or not _suspect(current, i, vocab):
                continue
            for masked in _masks(current, i):
                for candidate in vocab.homophones_in(masked, char):
                    changed = current[:i] + candidate + current[i + 1:]
                    if support(changed, vocab) <= score[1] or not _in_word(changed, i, vocab):
                        # no new catalogue n-gram, or the new character is in no catalogue word
                        # (开家 → 开加 only echoes 开加油站): cannot be the fix
                        continue
                    fit = _fit(changed, vocab)
                    better = fit[0] > score[0] or (fit[0] == score[0] and fit[1] - score[1] >= 1.0)
                    if better and fit > best[0]:
                        best = (fit, changed)
        if best[1] == current:
            break
        score, current = best
    return current


def _in_word(text: str, i: int, vocab: Vocabulary) -> bool:
    """Position `i` lies inside a word the catalogue's own text is segmented into."""
    for length in range(2, 6):
        for start in range(max(0, i - length + 1), min(i, len(text) - length) + 1):
            if vocab.is_word(text[start:start + length]):
                return True
    return False


def _fit(text: str, vocab: Vocabulary) -> tuple[int, float]:
    """(characters inside words the catalogue uses, catalogue n-grams): a correction must make
    more of the piece into catalogue words, or as many but clearly more catalogue n-grams
    (养老金人证 → 养老金认证: 人证 is a word too, but 金认证 is the catalogue's trigram)."""
    words = join_singles(textproc.cut(text), vocab)
    return sum(len(w) for w in words if len(w) > 1 and vocab.known(w)), support(text, vocab)


def _suspect(text: str, i: int, vocab: Vocabulary) -> bool:
    """A character is worth replacing only if some n-gram around it is not catalogue text."""
    if len(text) == 2:
        return text not in vocab.bigrams
    windows = [text[s:s + 3] for s in range(max(0, i - 2), min(i, len(text) - 3) + 1)]
    return any(w not in vocab.trigrams for w in windows)


def _masks(text: str, i: int) -> list[str]:
    """The catalogue n-grams position `i` could complete: inside, starting or ending a trigram,
    and the bigrams on either side."""
    masks = []
    if 0 < i < len(text) - 1:
        masks.append(text[i - 1] + "?" + text[i + 1])
    if i + 2 < len(text):
        masks.append("?" + text[i + 1:i + 3])
    if i >= 2:
        masks.append(text[i - 2:i] + "?")
    if i + 1 < len(text):
        masks.append("?" + text[i + 1])
    if i > 0:
        masks.append(text[i - 1] + "?")
    return masks


def join_singles(tokens: list[str], vocab: Vocabulary, stop: frozenset[str] = frozenset()) -> list[str]:
    """Single characters jieba left apart, joined when the catalogue spells them together
    (年 审 → 年审); tokens in `stop` never join."""
    out: list[str] = []
    for token in tokens:
        if out and (len(token) == 1 or len(out[-1]) == 1) and token not in stop \
                and out[-1] not in stop and vocab.known(out[-1] + token) and len(out[-1] + token) <= 4:
            out[-1] += token
        else:
            out.append(token)
    return out
