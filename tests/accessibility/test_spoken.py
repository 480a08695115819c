"""speech_text: every number a TTS would guess at is written out in Chinese."""
from __future__ import annotations

import json
import re

import pytest

from accessibility.spoken import cardinal, decimal, digits, phone, speech_text, year
from catalog.details import _CONDITIONS_BY_HANDLE, _OFFICE_HOURS
from catalog.model import PACKAGED_DATA

ARABIC = re.compile(r"[0-9０-９]")


@pytest.mark.parametrize("number, words", [
    (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"), (110, "一百一十"),
    (1001, "一千零一"), (2000, "两千"), (10010, "一万零一十"), (20000, "两万"), (100000, "十万"),
    (100100, "十万零一百"), (1000001, "一百万零一"), (120000000, "一亿二千万"), (-3, "负三"),
])
def test_cardinal(number, words):
    assert cardinal(number) == words


@pytest.mark.parametrize("text, spoken", [
    # phones, hotlines and codes: digit by digit, 1 as 幺
    ("拨打12345政务服务便民热线", "拨打幺二三四五政务服务便民热线"),
    ("12345", "幺二三四五"),
    ("电话0471-6106663", "电话零四七幺，六幺零六六六三"),
    ("0471-1234567", "零四七幺，幺二三四五六七"),
    ("手机13812345678", "手机幺三八，幺二三四，五六七八"),
    ("400-123-4567", "四零零，幺二三，四五六七"),
    ("拨打110", "拨打幺幺零"),
    ("验证码 120033", "验证码 幺二零零三三"),
    ("B0096", "B零零九六"),
    # dates and times
    ("2026-11-21", "二〇二六年十一月二十一日"),
    ("2026/3/5", "二〇二六年三月五日"),
    ("2026年11月21日前", "二〇二六年十一月二十一日前"),
    ("2026年", "二〇二六年"),
    ("9:00", "九点"),
    ("13:30", "十三点三十分"),
    ("8:05", "八点零五分"),
    ("9:00-12:00", "九点到十二点"),
    # counts, money, percent
    ("15个工作日", "十五个工作日"),
    ("10-15个工作日", "十到十五个工作日"),
    ("1-2个工作日", "一到两个工作日"),
    ("2次", "两次"),
    ("20元", "二十元"),
    ("工本费20元（补领40元）", "工本费二十元（补领四十元）"),
    ("¥3.50", "三点五元"),
    ("¥1,200.00", "一千二百元"),
    ("1,200元", "一千二百元"),
    ("2万元", "两万元"),
    ("住宅80元/件", "住宅八十元每件"),
    ("12.5%", "百分之十二点五"),
    ("50％", "百分之五十"),
    ("12000人", "一万二千人"),
    ("满60岁", "满六十岁"),
    ("第1次", "第一次"),
    ("0.5", "零点五"),
    ("", ""),
])
def test_speech_text(text, spoken):
    assert speech_text(text) == spoken


def test_forced_kinds():
    assert speech_text("12345", kind="code") == "幺二三四五"
    assert speech_text("0471-6106663", kind="phone") == "零四七幺，六幺零六六六三"
    assert speech_text("20元", kind="money") == "二十元"
    assert speech_text("¥12.50", kind="money") == "十二点五元"
    assert speech_text("12345", kind="number") == "一万二千三百四十五"


def test_helpers():
    assert digits("2026", yao=False) == "二零二六"
    assert year("2026") == "二〇二六"
    assert decimal("12.50") == "十二点五零"
    assert decimal("12.50", strip_zeros=True) == "十二点五"
    assert phone("13812345678") == "幺三八，幺二三四，五六七八"


def test_markup_is_not_read():
    assert speech_text("<em>养老金</em>发放") == "养老金发放"


def _reference_texts() -> list[str]:
    items = json.loads((PACKAGED_DATA / "items.json").read_text(encoding="utf-8"))
    texts = list(_OFFICE_HOURS) + list(_CONDITIONS_BY_HANDLE.values())
    for item in items:
        texts += [item["name"], item["plain_name"], item["short_name"], item["fee"] or "", *item["materials"]]
    return texts


def test_no_arabic_digit_survives_in_reference_texts():
    leftovers = {t: speech_text(t) for t in _reference_texts() if ARABIC.search(speech_text(t))}
    assert leftovers == {}
