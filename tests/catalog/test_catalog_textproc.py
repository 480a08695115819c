from catalog import textproc


def test_normalize_folds_width_and_case():
    assert textproc.normalize("  ＳＦＺ　办理 ") == "sfz 办理"


def test_query_normalisation_converts_traditional_to_simplified():
    assert textproc.normalize_query("身份證 辦理") == "身份证 办理"
    assert textproc.normalize_query("結婚登記") == "结婚登记"


def test_runs_split_han_and_latin():
    runs = textproc.runs(textproc.normalize_query("辦sfz！12345热线"))
    assert [(r.text, r.is_han) for r in runs] == [
        ("办", True), ("sfz", False), ("12345", False), ("热线", True)]


def test_char_grams_are_bigrams_or_a_single_unigram():
    assert textproc.char_grams("身份证") == ["身份", "份证"]
    assert textproc.char_grams("办") == ["办"]


def test_search_mode_words_keep_sub_words():
    assert {"身份", "身份证", "居民身份证"} <= set(textproc.words("居民身份证换领"))


def test_split_pinyin_accepts_full_pinyin_only():
    assert textproc.split_pinyin("shenfenzheng") == ["shen", "fen", "zheng"]
    assert textproc.split_pinyin("gongjijin") == ["gong", "ji", "jin"]
    assert textproc.split_pinyin("sfz") is None
    assert textproc.split_pinyin("12345rx") is None


def test_han_pinyin_resolves_heteronyms_by_phrase():
    assert textproc.han_pinyin("银行") == ["yin", "hang"]
    assert textproc.char_pinyin("《身份证》") == ["", "shen", "fen", "zheng", ""]


def test_compact_keeps_only_searchable_characters():
    assert textproc.compact("食品经营许可（新办）") == "食品经营许可新办"
