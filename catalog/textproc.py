"""Chinese text analysis shared by indexing and querying.

Everything is pre-tokenised here and handed to tantivy as space-joined tokens
(built-in `whitespace` tokenizer), so index and query analysis cannot drift
and nothing has to be re-registered after `Index.open`.

pypinyin is imported lazily: only the index build needs Han→pinyin; queries
only need to split Latin input into syllables, which uses the table below and
keeps ~50 MB of pinyin dictionaries out of every web worker.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import rjieba

if TYPE_CHECKING:
    from opencc_purepy import OpenCC

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_HAN}]+|[a-z0-9]+")
_SPACES = re.compile(r"\s+")

# Toneless syllables as pypinyin spells them (ü → v); interjection-only
# syllables (m, n, ng, hm, hng) are left out so that initials such as "sfz"
# or "hm" are never mistaken for full pinyin.
PINYIN_SYLLABLES = frozenset("""
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can
cang cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai
chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den
deng di dia dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang
fei fen feng fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang
gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo
ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke ken
keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia
lian liang liao lie lin ling liu lo long lou lu luan lue lve lun luo lv ma mai man mang mao
me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen neng
ni nian niang niao nie nin ning niu nong nou nu nuan nue nve nuo nv o ou pa pai pan pang
pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing
qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa
sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou shu shua
shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te
teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wu
xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin
ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang
zhao zhe zhei zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong
zou zu zuan zui zun zuo
""".split())
_LONGEST_SYLLABLE = max(map(len, PINYIN_SYLLABLES))


@dataclass(frozen=True)
class Run:
    """A maximal stretch of Han characters, or of Latin letters and digits."""
    text: str
    is_han: bool
    start: int


def normalize(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    from opencc_purepy import OpenCC
    return OpenCC("t2s")


def load_dictionaries() -> None:
    """Load the t2s and jieba dictionaries now (~0.2 s) rather than in the
    first request that needs them."""
    _t2s()
    rjieba.cut("预热")


def to_simplified(text: str) -> str:
    if not any(ord(ch) >= 0x3400 for ch in text):
        return text
    return _t2s().convert(text)


def normalize_query(text: str) -> str:
    """Queries may be traditional; the catalogue text is simplified only."""
    return normalize(to_simplified(text))


def runs(text: str) -> list[Run]:
    """Split normalised text into Han and Latin/digit runs (`办sfz` → 办, sfz);
    punctuation and spaces only separate."""
    return [Run(m.group(), not m.group()[0].isascii(), m.start()) for m in _RUN.finditer(text)]


def compact(text: str) -> str:
    """Searchable characters only, for exact-name comparison."""
    return "".join(run.text for run in runs(normalize(text)))


def char_grams(han: str) -> list[str]:
    """Character bigrams of a Han run; a one-character run stays a unigram."""
    if len(han) == 1:
        return [han]
    return [han[i:i + 2] for i in range(len(han) - 1)]


def word_spans(han: str) -> list[tuple[str, int, int]]:
    """jieba search-mode words with offsets (居民身份证 → 居民, 身份, 身份证,
    居民身份证), so sub-words of long dictionary words stay findable."""
    return [(w, start, end) for w, start, end in rjieba.tokenize(han, mode="search")]


def cut(han: str) -> list[str]:
    """jieba precise-mode words of a Han run: non-overlapping, in order."""
    return list(rjieba.cut(han))


def words(han: str) -> list[str]:
    return list(dict.fromkeys(w for w, _, _ in word_spans(han)))


def split_pinyin(latin: str) -> list[str] | None:
    """Split `shenfenzheng` into syllables (fewest syllables wins), or None
    when the letters are not a pinyin sequence (initials, English, digits)."""
    n = len(latin)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - _LONGEST_SYLLABLE), end):
            head = best[start]
            if head is not None and latin[start:end] in PINYIN_SYLLABLES:
                candidate = head + [latin[start:end]]
                if best[end] is None or len(candidate) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = candidate
    return best[n] if n else None


def syllable_bigrams(syllables: list[str]) -> list[str]:
    if len(syllables) == 1:
        return list(syllables)
    return [a + b for a, b in zip(syllables, syllables[1:])]


def char_pinyin(text: str) -> list[str]:
    """Syllable per character of `text` (Han only, "" elsewhere), aligned
    with the original characters. Build-time only."""
    aligned = [""] * len(text)
    per_char = [normalize(ch) for ch in text]
    folded = "".join(ch if len(ch) == 1 else " " for ch in per_char)
    for run in runs(folded):
        if run.is_han:
            aligned[run.start:run.start + len(run.text)] = han_pinyin(run.text)
    return aligned


def han_pinyin(han: str) -> list[str]:
    """One toneless syllable per character, heteronyms resolved by phrase
    (银行 → yin hang). Build-time only."""
    return list(_han_pinyin(han))


@lru_cache(maxsize=None)
def _han_pinyin(han: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin
    syllables = lazy_pinyin(han, errors=lambda chars: ["" for _ in chars])
    return tuple(syllables) if len(syllables) == len(han) else ("",) * len(han)
