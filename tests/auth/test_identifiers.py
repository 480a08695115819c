from datetime import date

import pytest

from auth.errors import InvalidIdNumber, InvalidPhone, InvalidUscc
from auth.identifiers import (
    age,
    age_band,
    birth_date,
    id_check_char,
    is_region_code,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    normalize_phone,
    normalize_uscc,
    sex,
    uscc_check_char,
)
from tests.auth.conftest import ID_WULAN, ID_ZHANG

TODAY = date(2026, 11, 21)


class TestIdNumber:
    def test_published_sample_is_valid(self):
        # GB 11643 sample number (Beijing Chaoyang, 1949-12-31, check character X).
        assert normalize_id_number("11010519491231002X", today=TODAY) == "11010519491231002X"

    def test_lower_case_x_and_spaces_normalise(self):
        assert normalize_id_number(" 11010519491231002x ", today=TODAY) == "11010519491231002X"

    def test_check_character_is_mod_11_2(self):
        assert id_check_char("11010519491231002") == "X"
        assert ID_ZHANG.startswith("150102") and len(ID_ZHANG) == 18

    @pytest.mark.parametrize("position", range(17))
    def test_any_single_digit_change_breaks_the_check(self, position):
        digits = list(ID_ZHANG)
        digits[position] = str((int(digits[position]) + 1) % 10)
        with pytest.raises(InvalidIdNumber):
            normalize_id_number("".join(digits), today=TODAY)

    @pytest.mark.parametrize(
        "raw",
        ["", "1501021985031212", "15010219850312123X1", "15010219850312123A", "ABCDEFGHIJKLMNOPQR"],
    )
    def test_malformed(self, raw):
        with pytest.raises(InvalidIdNumber):
            normalize_id_number(raw, today=TODAY)

    def test_unknown_province_prefix(self):
        number = "99010219850312123"
        with pytest.raises(InvalidIdNumber):
            normalize_id_number(number + id_check_char(number), today=TODAY)

    @pytest.mark.parametrize("birth", ["19850230", "18991231", "20261122"])
    def test_impossible_or_future_birth_dates(self, birth):
        number = f"150102{birth}123"
        with pytest.raises(InvalidIdNumber):
            normalize_id_number(number + id_check_char(number), today=TODAY)

    def test_error_never_echoes_the_number(self):
        with pytest.raises(InvalidIdNumber) as caught:
            normalize_id_number(ID_ZHANG[:-1] + "0", today=TODAY)
        assert ID_ZHANG[:10] not in str(caught.value) and caught.value.details == {"field": "id_number"}

    def test_derived_attributes(self):
        assert birth_date(ID_ZHANG) == date(1985, 3, 12)
        assert sex(ID_ZHANG) == "male"  # 17th digit 3 is odd
        assert sex("11010519491231002X") == "female"
        assert age(ID_ZHANG, TODAY) == 41
        assert age(ID_ZHANG, date(2026, 3, 11)) == 40  # day before the birthday
        assert age_band(ID_ZHANG, TODAY) == "35-59"
        assert age_band(ID_WULAN, TODAY) == "60-79"
        assert age_band("11010519491231002X", TODAY) == "60-79"
        assert age_band("11010519491231002X", date(2029, 12, 31)) == "80+"


class TestUscc:
    def test_commonly_cited_sample_is_valid(self):
        assert normalize_uscc("91350100M000100Y43") == "91350100M000100Y43"
        assert uscc_check_char("91350100M000100Y4") == "3"

    def test_lower_case_normalises(self):
        assert normalize_uscc("91350100m000100y43") == "91350100M000100Y43"

    @pytest.mark.parametrize(
        "raw", ["91350100M000100Y44", "91350100M000100Y4", "91350100I000100Y43", "", "91350100M000100Y43X"]
    )
    def test_invalid(self, raw):
        with pytest.raises(InvalidUscc):
            normalize_uscc(raw)

    def test_check_zero_when_sum_is_multiple_of_31(self):
        # Search a prefix whose weighted sum is ≡ 0 mod 31: its check character must be "0", not 31.
        for tail in range(1000):
            prefix = f"91150100MA0N{tail:05d}"
            if uscc_check_char(prefix) == "0":
                assert normalize_uscc(prefix + "0")
                return
        pytest.fail("no prefix with check character 0 found")


class TestPhone:
    @pytest.mark.parametrize(
        "raw", ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "8613812345678", "(138)12345678"]
    )
    def test_normalises(self, raw):
        assert normalize_phone(raw) == "13812345678"

    @pytest.mark.parametrize("raw", ["", "12812345678", "1381234567", "138123456789", "+1 138 1234 5678", "abc"])
    def test_rejects(self, raw):
        with pytest.raises(InvalidPhone):
            normalize_phone(raw)


def test_masks():
    assert mask_id_number("150102198503121234") == "1501**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("乌兰其其格") == "乌****"


def test_region_code_format_only():
    assert is_region_code("150102")
    assert not is_region_code("15010")
    assert not is_region_code(150102)
    assert not is_region_code("15010a")
