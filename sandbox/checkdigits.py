"""Check digits the government registers enforce (identity-and-security.md §6):
resident ID numbers (GB 11643), unified social credit codes (GB 32100), and
bank card numbers (Luhn)."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_PATTERN = re.compile(rf"^[{USCC_CHARSET}]{{18}}$")


def id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11]


def is_valid_id_number(value: str) -> bool:
    """18 characters, a real birth date, and the GB 11643 check character
    (upper-case X only: lower-case is a client normalisation bug to surface)."""
    if not _ID_PATTERN.match(value):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return id_check_char(value[:17]) == value[17]


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(ch) * weight for ch, weight in zip(first17, _USCC_WEIGHTS))
    check = 31 - total % 31
    return USCC_CHARSET[0 if check == 31 else check]


def is_valid_uscc(value: str) -> bool:
    return bool(_USCC_PATTERN.match(value)) and uscc_check_char(value[:17]) == value[17]


def luhn_check_digit(partial: str) -> str:
    total = 0
    for position, ch in enumerate(reversed(partial)):
        digit = int(ch)
        if position % 2 == 0:  # every second digit, starting next to the check digit
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_bank_card(value: str) -> bool:
    return value.isdigit() and 12 <= len(value) <= 19 and luhn_check_digit(value[:-1]) == value[-1]
