"""Citizen and enterprise identifiers: validation, normalisation, masking, derived attributes.

Pure functions, no I/O: called before any upstream call so a malformed number never leaves the BFF.
"""

from __future__ import annotations

import re
from datetime import date

from auth.errors import InvalidIdNumber, InvalidPhone, InvalidUscc

# --- Resident identity card number (GB 11643, ISO 7064 MOD 11-2) ------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
# First two digits: provinces (GB/T 2260) plus 71/81/82/83 used by the Taiwan, Hong Kong and Macao
# residence permits. Anything else cannot be a mainland-issued number.
_PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11]


def normalize_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the canonical 18-character ID number (upper-case X) or raise InvalidIdNumber."""
    value = (raw or "").strip().upper()
    if not _ID_PATTERN.match(value):
        raise InvalidIdNumber()
    if value[:2] not in _PROVINCE_PREFIXES:
        raise InvalidIdNumber()
    if id_check_char(value[:17]) != value[17]:
        raise InvalidIdNumber("身份证号码校验位不正确")
    birth = _parse_birth(value)
    if birth is None or birth.year < 1900 or birth > (today or date.today()):
        raise InvalidIdNumber("身份证号码中的出生日期不正确")
    return value


def _parse_birth(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def birth_date(id_number: str) -> date:
    """Birth date of a number already accepted by ``normalize_id_number``."""
    birth = _parse_birth(id_number)
    if birth is None:
        raise InvalidIdNumber()
    return birth


def sex(id_number: str) -> str:
    """``"male"`` or ``"female"``: the 17th digit (sequence code) is odd for men."""
    return "male" if int(id_number[16]) % 2 else "female"


def age(id_number: str, today: date) -> int:
    birth = birth_date(id_number)
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# Coarse on purpose: push targeting and recommendations need no more (PIPL art. 6). 60 and 80 are
# where elder services (老年优待, 高龄津贴) start.
AGE_BANDS = ((0, "0-17"), (18, "18-34"), (35, "35-59"), (60, "60-79"), (80, "80+"))


def age_band(id_number: str, today: date) -> str:
    years = age(id_number, today)
    label = AGE_BANDS[0][1]
    for lower, band in AGE_BANDS:
        if years >= lower:
            label = band
    return label


# --- Unified social credit code (GB 32100) ----------------------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_PATTERN = re.compile(rf"^[{USCC_CHARSET}]{{18}}$")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(char) * weight for char, weight in zip(first17, _USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    value = (raw or "").strip().upper()
    if not _USCC_PATTERN.match(value):
        raise InvalidUscc()
    if uscc_check_char(value[:17]) != value[17]:
        raise InvalidUscc("统一社会信用代码校验位不正确")
    return value


# --- Mainland mobile numbers ------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Return the 11-digit mainland mobile number; accepts +86 / 0086 / 86 prefixes and separators."""
    value = _PHONE_SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "0086", "86"):
        if value.startswith(prefix) and len(value) == 11 + len(prefix):
            value = value[len(prefix) :]
            break
    if not _MOBILE_PATTERN.match(value):
        raise InvalidPhone()
    return value


# --- Region codes -------------------------------------------------------------------------------

_REGION_PATTERN = re.compile(r"^\d{6}$")


def is_region_code(value: object) -> bool:
    """Format only (6 digits); whether the code exists is the catalogue's business."""
    return isinstance(value, str) and bool(_REGION_PATTERN.match(value))


# --- Masking (display only; first 4 + last 4 is the prevailing convention) -------------------


def mask_id_number(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_name(name: str) -> str:
    """Keep the first character (usually the surname): 张三 → 张*, 乌兰其其格 → 乌****."""
    return name[:1] + "*" * max(1, len(name) - 1)
