"""Query understanding (fillers, spaced pinyin, Latin runs, homophone typos) and the ranking
it feeds: relaxation over meaningful terms, distinctive words over popular ones, elder mode,
the answer when little matches, and suggest on pinyin anywhere in a name."""
from __future__ import annotations

from pathlib import Path

import pytest

from catalog import textproc
from catalog.index import CURRENT
from catalog.model import ReferenceData
from catalog.understanding import understand
from catalog.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def vocab(catalog_index_dir: Path, ref: ReferenceData) -> Vocabulary:
    return Vocabulary.load(ref, (catalog_index_dir / CURRENT).resolve())


def understood(text: str, vocab: Vocabulary):
    return understand(textproc.normalize_query(text), vocab)


def top(cat, q: str, n: int = 1, **kwargs) -> list[str]:
    return [hit.basic_code for hit in cat.search(q, page_size=max(n, 1), **kwargs).items][:n]


# -- understanding -----------------------------------------------------------------------------


@pytest.mark.parametrize("query, meaning", [
    ("营业执照到期了怎么办", "营业执照到期"),
    ("去哪里开无犯罪证明", "开无犯罪证明"),
    ("想和对象去领证", "对象领证"),
    ("我家老人去世了户口要注销", "老人去世户口注销"),  # 去世 is a need, not the filler 去
    ("公司老板不给工资", "公司老板不给工资"),          # negation is kept
    ("户口本丢了咋办", "户口本丢了"),                  # 丢了 survives although 了 is a filler
])
def test_question_and_filler_words_are_dropped(vocab, query, meaning):
    assert understood(query, vocab).understood == meaning


@pytest.mark.parametrize("query, meaning", [
    ("jie hun deng ji", "结婚登记"), ("Shen Fen Zheng", "身份证"), ("di bao", "低保"),
    ("办yyzz", "办营业执照"), ("jhz丢了", "结婚证丢了"), ("换hz", "换护照"), ("sfz丢了", "身份证丢了"),
])
def test_latin_runs_resolve_to_catalogue_words(vocab, query, meaning):
    assert understood(query, vocab).understood == meaning


@pytest.mark.parametrize("typed, digits", [("七十岁驾照", "70岁驾照"), ("扣满十二分", "扣满12分"), ("一件事", "一件事"),
                                           ("二手房", "二手房")])
def test_numbers_in_characters_read_as_the_catalogue_writes_them(typed, digits):
    from catalog.understanding import arabic_numerals
    assert arabic_numerals(typed) == digits


def test_codes_stay_literal_and_match_the_items_carrying_them(vocab, ref):
    terms = {t.text: t for t in understood("4050人员补贴", vocab).terms}
    assert terms["4050"].latin == "4050"
    carrying = {item.basic_code for n, item in enumerate(ref.items) if terms["4050"].own >> n & 1}
    assert carrying == {"B0127", "B0128"}


@pytest.mark.parametrize("typed, fixed", [
    ("公基金提取", "公积金提取"), ("居住正", "居住证"), ("结昏登记", "结婚登记"), ("身分证", "身份证"),
    ("养老金人证", "养老金认证"), ("失业经申领", "失业金申领"), ("港奥通行证", "港澳通行证"),
])
def test_homophone_typos_are_corrected_per_piece(vocab, typed, fixed):
    result = understood(typed, vocab)
    assert result.understood == fixed and result.did_you_mean == fixed


@pytest.mark.parametrize("query", ["季度报税", "药店经营许可", "孩子上学", "车子年审", "居民身份证换领"])
def test_real_words_are_not_corrected(vocab, query):
    result = understood(query, vocab)
    assert result.did_you_mean is None and result.understood == query


@pytest.mark.parametrize("query", ["我想给我家孩子上个户口", "家里暖气不热想投诉", "想开家药房卖药"])
def test_chatty_words_are_not_turned_into_catalogue_words(vocab, query):
    assert understood(query, vocab).did_you_mean is None  # not 上岗, 热线, 开加(油站)


def test_the_rare_word_weighs_more(vocab):
    weights = {t.text: t.weight for t in understood("药店经营许可", vocab).terms}
    assert weights["药店"] > weights["许可"]


def test_only_question_words(vocab):
    result = understood("怎么办", vocab)
    assert result.only_fillers and result.terms == ()


# -- relaxation and ranking -------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    ("想和对象去领证", "B0070"), ("和邻居有矛盾找人调解", "B0210"), ("开车被拍了交罚款", "B0067"),
    ("想开家药房卖药", "B0240"), ("护照过期了怎么办", "B0033"), ("身份证丢了怎么办", "B0003"),
    ("奶奶八十多了能领什么补贴", "B0083"),
])
def test_chatty_queries_find_the_need(cat, query, expected):
    assert expected in top(cat, query, 3)


@pytest.mark.parametrize("query, expected, not_first, region", [
    ("药店经营许可", "B0240", "B0234", None),
    ("季度报税", "B0261", "B0231", None),
    ("车子年审", "B0062", "B0096", "150203"),
])
def test_distinctive_word_beats_popularity(cat, query, expected, not_first, region):
    first = top(cat, query, region=region)[0]
    assert first == expected and first != not_first


def test_children_going_to_school_is_not_their_health_insurance(cat):
    assert top(cat, "孩子上学")[0] in {"B0342", "B0343", "B0344", "B0345"}


@pytest.mark.parametrize("query, expected", [
    ("公基金提取", {"B0295", "B0296", "B0297", "B0298", "B0469", "B0299"}),
    ("居住正办理", {"B0018"}), ("结昏登记", {"B0070"}),
    ("办yyzz", {"B0215", "B0216", "B0219"}), ("KTV许可证", {"B0385"}), ("SC证办理", {"B0239"}),
    ("12345投诉", {"B0416"}), ("jie hun deng ji", {"B0070"}),
])
def test_typos_and_mixed_queries_rank_first(cat, query, expected):
    assert top(cat, query)[0] in expected


def test_typo_answer_says_what_it_searched(cat):
    result = cat.search("公基金提取")
    assert result.did_you_mean == "公积金提取" and result.total > 0


def test_elder_mode_puts_elder_needs_first(cat, ref):
    elder = top(cat, "补贴", 5, mode="elder")
    assert ref.item(elder[0]).elder_relevant
    standard = top(cat, "补贴", 20)
    assert "B0170" in standard  # 育儿补贴 is a subsidy too …
    assert "B0170" not in elder[:4]  # … but not what a 70-year-old needs first


def test_unknown_mode_is_rejected(cat):
    from catalog.errors import InvalidQuery
    with pytest.raises(InvalidQuery):
        cat.search("补贴", mode="senior")


# -- never an empty page ------------------------------------------------------------------------


def test_a_filter_that_excludes_everything_gives_the_closest_items(cat):
    result = cat.search("结婚登记", department="税务局")
    assert result.match == "closest" and result.items and result.items[0].basic_code == "B0070"
    assert result.help is not None and result.help.phone == "12345"
    assert "T20" in {t.code for t in result.themes}  # 结婚一件事


def test_partial_match_is_relaxed_with_help(cat):
    result = cat.search("想开家药房卖药")
    assert result.items and result.match in {"relaxed", "exact"}
    if result.match == "relaxed":
        assert result.help is not None


def test_nothing_recognised(cat):
    result = cat.search("zzzzqqqq")
    assert result.items == () and result.match == "none" and result.help is not None


def test_question_words_alone_offer_the_help_line(cat):
    result = cat.search("怎么办")
    assert result.items[0].basic_code == "B0416" and result.help is not None


# -- suggest ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, expected", [
    ("weizhang", {"B0067"}), ("huzh", {"B0032", "B0033", "B0034"}), ("hu zhao", {"B0032", "B0033", "B0034"}),
    ("yiliaobaoxian", {"B0151", "B0152", "B0153", "B0154", "B0255", "B0441"}),
])
def test_suggest_on_pinyin_anywhere_in_a_name(cat, typed, expected):
    assert {s.basic_code for s in cat.suggest(typed)[:3]} & expected


def test_suggest_without_region_uses_official_wording(cat, ref):
    for suggestion in cat.suggest("农药"):
        assert suggestion.text == ref.item(suggestion.basic_code).name


def test_suggest_tops_up_from_search(cat):
    found = cat.suggest("公积金提")
    assert found and {s.kind for s in found} & {"search", "alias", "name", "short_name"}


def test_no_empty_page_for_a_known_need_wrapped_in_chatter(cat, ref):
    """Every item's short name, asked chattily, still finds something, and mostly that item."""
    wraps = ("我想{}", "请问{}在哪里办", "{}需要什么材料", "想问下{}怎么办")
    found = 0
    for n, item in enumerate(ref.items):
        result = cat.search(wraps[n % len(wraps)].format(item.short_name), page_size=3)
        assert result.items, item.short_name
        found += item.basic_code in {hit.basic_code for hit in result.items}
    assert found / len(ref.items) >= 0.97
