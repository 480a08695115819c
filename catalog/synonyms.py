"""Colloquial phrasings (日常用语) → basic items.

Two sources, both applied at index time so a query needs no expansion to
reach the items: each item's own aliases, and the names and aliases of the
一件事 themes it belongs to (生孩子办什么 → every 新生儿出生一件事 item).
At query time the same table answers "is this exactly a known phrase?"
(a ranking tier below exact names), and a small hand lexicon adds official
words for colloquial ones that no alias spells out (驾照 → 驾驶证).
"""
from __future__ import annotations

from collections import defaultdict

from catalog.model import BasicItem, ReferenceData
from catalog.textproc import compact

# colloquial word → official wording used in item names
COLLOQUIAL_LEXICON: dict[str, tuple[str, ...]] = {
    "生孩子": ("出生", "生育"),
    "生娃": ("出生", "生育"),
    "宝宝": ("新生儿", "出生"),
    "娃": ("儿童", "新生儿"),
    "上户口": ("落户", "户口登记"),
    "报户口": ("落户", "户口登记"),
    "驾照": ("驾驶证",),
    "车本": ("驾驶证",),
    "开公司": ("企业开办", "设立登记"),
    "开店": ("个体工商户", "经营许可"),
    "退休金": ("养老金", "养老保险待遇"),
    "养老钱": ("养老金", "养老保险待遇"),
    "看病": ("就医", "医疗"),
    "报销": ("结算", "医疗费用"),
    "丢了": ("补领", "补办"),
    "过期": ("换领", "换证"),
    "结婚证": ("结婚登记",),
    "离婚证": ("离婚登记",),
    "房产证": ("不动产权证书", "不动产登记"),
    "买房": ("不动产", "转移登记"),
    "暖气": ("供热", "采暖"),
    "失业金": ("失业保险金",),
    "低保": ("最低生活保障",),
    "残疾证": ("残疾人证",),
    "出国": ("护照", "出入境"),
    "去香港": ("港澳通行证",),
    "去澳门": ("港澳通行证",),
    # everyday words for what names call otherwise (车子 is a 机动车, a 药房 a 药店)
    "车子": ("机动车", "车辆", "汽车"),
    "药房": ("药店", "药品"),
    "卖药": ("药店", "药品"),
    "饭馆": ("饭店", "餐馆", "餐饮"),
    "餐厅": ("饭店", "餐饮"),
    "老公": ("夫妻", "投靠"),
    "老婆": ("夫妻", "投靠"),
    "对象": ("结婚",),
    "罚单": ("罚款", "违章"),
    "被拍": ("违章", "交通违法"),
    "工资": ("欠薪", "薪"),
    "房本": ("不动产",),
    "老人": ("老年人",),
    "爸妈": ("父母",),
    "孩子": ("儿童", "子女"),
}


def colloquial_phrases(item: BasicItem, ref: ReferenceData) -> list[str]:
    """Every phrase that should find `item` besides its own names."""
    phrases = list(item.aliases)
    for code in item.themes:
        theme = ref.theme(code)
        phrases.append(theme.name)
        phrases.extend(theme.aliases)
    return phrases


class SynonymTable:
    def __init__(self, ref: ReferenceData) -> None:
        phrase_items: dict[str, set[str]] = defaultdict(set)
        for item in ref.items:
            for phrase in colloquial_phrases(item, ref):
                phrase_items[compact(phrase)].add(item.basic_code)
        self._phrase_items = {phrase: frozenset(codes) for phrase, codes in phrase_items.items()}

    def items_for_phrase(self, compact_query: str) -> frozenset[str]:
        return self._phrase_items.get(compact_query, frozenset())



def colloquial_matches(han_run: str) -> list[tuple[str, tuple[str, ...]]]:
    """(colloquial word, official words) for each lexicon word in the run."""
    return [(word, official) for word, official in COLLOQUIAL_LEXICON.items() if word in han_run]


def expansions(han_run: str) -> list[str]:
    """Official words for the colloquial words contained in a query run."""
    return list(dict.fromkeys(o for _, officials in colloquial_matches(han_run) for o in officials))
