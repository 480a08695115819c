"""Text for text-to-speech: numbers, dates, times, money, phone numbers and codes spelled out in Chinese.

A TTS engine guesses how to read ``12345`` (一万二千三百四十五? 一二三四五?) and ``2026-11-21``
(a subtraction?). The BFF removes the guess (duty B8): every Arabic digit in a ``speech_text`` is
written out the way a person would read it aloud to an elderly caller::

    12345 (hotline)         → 幺二三四五            digits, 1 read 幺 as on the phone
    0471-6106663            → 零四七幺，六幺零六六六三
    13812345678             → 幺三八，幺二三四，五六七八
    2026-11-21 / 2026年11月21日 → 二〇二六年十一月二十一日
    9:00-12:00, 13:30       → 九点到十二点, 十三点三十分
    15个工作日, 2次, 20元    → 十五个工作日, 两次, 二十元
    12.5%, ¥3.50            → 百分之十二点五, 三点五元
    B0096, 验证码 120033     → B零零九六, 验证码幺二零零三三

``speech_text(text)`` applies the rules in a fixed order (phones before dates before plain
numbers), each pass leaving only Chinese behind so a later pass cannot re-read a span.
The number helpers (``cardinal``, ``decimal``, ``digits``, ``year``) are public for callers that
build sentences from structured fields.
"""
from __future__ import annotations

import re

__all__ = ["PAUSE", "cardinal", "decimal", "digits", "year", "phone", "speech_text"]

# A short pause the TTS honours; between phone-number groups and after a spoken date.
PAUSE = "，"

_DIGIT = "零一二三四五六七八九"
_YEAR_DIGIT = "〇一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

# Measure words after which 2 is read 两 (两个, 两次, 两年), not 二 (二月, 二号, 二元 stays formal).
_LIANG_BEFORE = ("个", "次", "份", "张", "本", "位", "名", "趟", "件", "项", "天", "周", "年", "种",
                 "家", "小时", "分钟", "所", "处", "页", "岁", "周岁", "人", "户", "辆", "套", "千", "万", "亿")

_FULLWIDTH = str.maketrans("０１２３４５６７８９％．－", "0123456789%.-")
_TAG = re.compile(r"<[^>]+>")
_RANGE_DASH = r"[-~～—–至]"


def _section(n: int) -> str:
    """0 < n < 10000 without leading 零 handling across sections."""
    out: list[str] = []
    zero_gap = False
    for power in (3, 2, 1, 0):
        d = n // 10 ** power % 10
        if d == 0:
            zero_gap = bool(out)
            continue
        if zero_gap:
            out.append("零")
            zero_gap = False
        out.append(_DIGIT[d] + _SMALL_UNITS[power])
    return "".join(out)


def cardinal(n: int) -> str:
    """An integer as counted aloud: 15 → 十五, 105 → 一百零五, 20000 → 二万, 10010 → 一万零一十."""
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    if n >= 10 ** 16:
        return digits(str(n), yao=False)
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out: list[str] = []
    pending_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or group < 1000):
            out.append("零")
        out.append(_section(group) + _BIG_UNITS[index])
        pending_zero = False
    text = "".join(out)
    # 十五, not 一十五, when the number starts with ten (but 一百一十 keeps its 一);
    # a leading 2 before 千/万/亿 is read 两 (两千, 两万).
    if text.startswith("一十"):
        return text[1:]
    if text[:2] in ("二千", "二万", "二亿"):
        return "两" + text[1:]
    return text


def decimal(number: str, *, strip_zeros: bool = False) -> str:
    """A number as written (``"12.50"``, ``"1,200"``): integer part counted, fraction digit by digit."""
    number = number.replace(",", "")
    whole, _, fraction = number.partition(".")
    if strip_zeros:
        fraction = fraction.rstrip("0")
    text = cardinal(int(whole or "0"))
    if fraction:
        text += "点" + digits(fraction, yao=False)
    return text


def digits(text: str, *, yao: bool = True) -> str:
    """Digit by digit; 1 is 幺 (phones, codes) unless ``yao=False``. Non-digits are kept."""
    one = "幺" if yao else "一"
    return "".join(one if ch == "1" else _DIGIT[int(ch)] if ch.isascii() and ch.isdigit() else ch
                   for ch in text)


def year(text: str) -> str:
    """A calendar year digit by digit with 〇: 2026 → 二〇二六."""
    return "".join(_YEAR_DIGIT[int(ch)] for ch in text)


def phone(number: str) -> str:
    """A phone number in groups with pauses: 0471-6106663 → 零四七幺，六幺零六六六三."""
    compact = re.sub(r"[\s\-－()（）]", "", number)
    if "-" in number or "－" in number:
        groups = [g for g in re.split(r"[\-－]", re.sub(r"[\s()（）]", "", number)) if g]
    elif len(compact) == 11 and compact.startswith("1"):
        groups = [compact[:3], compact[3:7], compact[7:]]
    elif len(compact) == 10 and compact[:3] in ("400", "800"):
        groups = [compact[:3], compact[3:6], compact[6:]]
    else:
        groups = [compact]
    return PAUSE.join(digits(g) for g in groups)


# -- the passes -------------------------------------------------------------------------------

_CONTEXT_PHONE = re.compile(
    r"(电话|热线|拨打|致电|号码|手机号?|座机|联系方式|咨询|验证码|编号|代码)([：:\s]*)(\d[\d\-－ ]{1,}\d)")
_LANDLINE = re.compile(r"(?<![\d.])0\d{2,3}[-－]\d{7,8}(?:[-－]\d{1,5})?(?!\d)")
_MOBILE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)")
_SERVICE_NUMBER = re.compile(r"(?<![\d.])[48]00[-－]?\d{3}[-－]?\d{4}(?!\d)")
# 12345 政务服务便民热线, 12333 人社, 12393 医保, 12366 税务, 12315 …; 95xxx bank and utility lines.
_HOTLINE = re.compile(r"(?<![\d.])(?:12\d{3}|95\d{3})(?![\d.%％元万亿个人次件户份名项天年月日岁号])")
_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*(日|号)?")
_YEAR = re.compile(r"(?<![\d.])(\d{4})(?=\s*年)")
_TIME = re.compile(r"(?<![\d.])(\d{1,2})[:：](\d{2})(?![\d:])")
_TIME_RANGE = re.compile(r"(点|分)\s*" + _RANGE_DASH + r"\s*(?=[零一二三四五六七八九十])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]")
_CURRENCY = re.compile(r"[¥￥]\s*(\d[\d,]*(?:\.\d+)?)")
_MONEY = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?=\s*(?:元|块|角|万元|亿元))")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)")
_RANGE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*" + _RANGE_DASH + r"\s*(\d+(?:\.\d+)?)(?![\d.])")
_LIANG = re.compile(r"(?<![\d.\-~～—–至])2(?=" + "|".join(_LIANG_BEFORE) + ")")
_CODE = re.compile(r"[A-Za-z]+\d[A-Za-z\d]*|\d+[A-Za-z][A-Za-z\d]*")
_LONG_DIGITS = re.compile(r"(?<![\d.])(?:\d{7,}|0\d+)(?![\d.])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PER = re.compile(r"(?<=[元次件个])\s*/\s*(?=件|个|次|人|月|年|天|份|本|张|户|套|小时|平方米)")
_SYMBOLS = (("℃", "摄氏度"), ("~", "到"), ("～", "到"), ("%", "百分号"), ("×", "乘"), ("÷", "除以"))


def _date(match: re.Match[str]) -> str:
    y, m, d = match.group(1), int(match.group(2)), int(match.group(3))
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return match.group(0)
    return f"{year(y)}年{cardinal(m)}月{cardinal(d)}日"


def _year(match: re.Match[str]) -> str:
    value = match.group(1)
    return year(value) if 1000 <= int(value) <= 2999 else cardinal(int(value))


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 24 or minute > 59:
        return match.group(0)
    if minute == 0:
        return f"{cardinal(hour)}点"
    return f"{cardinal(hour)}点{'零' if minute < 10 else ''}{cardinal(minute)}分"


def _number(text: str) -> str:
    return decimal(text)


def _range(match: re.Match[str]) -> str:
    low, high = match.group(1), match.group(2)
    after = match.string[match.end():]
    high_words = "两" if high == "2" and after.startswith(_LIANG_BEFORE) else _number(high)
    return f"{_number(low)}到{high_words}"


def speech_text(text: str | None, *, kind: str | None = None) -> str:
    """``text`` with every number written out for TTS (see the module docstring).

    ``kind`` forces one reading for a whole value when the caller knows what it is:
    ``"phone"``, ``"code"`` (digit by digit), ``"date"``, ``"money"``, ``"number"``.
    """
    if not text:
        return ""
    text = _TAG.sub("", str(text)).translate(_FULLWIDTH)
    if kind == "phone":
        return phone(text)
    if kind == "code":
        return digits(text)
    if kind == "money":
        amount = text.strip().lstrip("¥￥").removesuffix("元").strip()
        return decimal(amount, strip_zeros=True) + "元"
    if kind == "number":
        return _NUMBER.sub(lambda m: _number(m.group(0)), text)

    text = _CONTEXT_PHONE.sub(lambda m: m.group(1) + m.group(2) + phone(m.group(3)), text)
    text = _LANDLINE.sub(lambda m: phone(m.group(0)), text)
    text = _SERVICE_NUMBER.sub(lambda m: phone(m.group(0)), text)
    text = _MOBILE.sub(lambda m: phone(m.group(0)), text)
    text = _HOTLINE.sub(lambda m: digits(m.group(0)), text)
    text = _DATE.sub(_date, text)
    text = _YEAR.sub(_year, text)
    text = _TIME.sub(_time, text)
    text = _TIME_RANGE.sub(r"\1到", text)
    text = _PERCENT.sub(lambda m: "百分之" + decimal(m.group(1)), text)
    text = _CURRENCY.sub(lambda m: decimal(m.group(1), strip_zeros=True) + "元", text)
    text = _THOUSANDS.sub(lambda m: decimal(m.group(0)), text)
    text = _RANGE.sub(_range, text)
    text = _LIANG.sub("两", text)
    text = _MONEY.sub(lambda m: decimal(m.group(1), strip_zeros=True), text)
    text = _CODE.sub(lambda m: digits(m.group(0)), text)
    text = _LONG_DIGITS.sub(lambda m: digits(m.group(0)), text)
    text = _NUMBER.sub(lambda m: _number(m.group(0)), text)
    text = _PER.sub("每", text)
    for symbol, words in _SYMBOLS:
        text = text.replace(symbol, words)
    return text
