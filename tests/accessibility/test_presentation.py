"""Presentation tokens meet the MIIT minimums; contrast follows WCAG 2.2; help order is fixed."""
from __future__ import annotations

import pytest

from accessibility.presentation import (COLOUR_PAIRS, MIN_CONTRAST, PRESENTATION, contrast_ratio,
                                        help_block, relative_luminance)


@pytest.mark.parametrize("fg, bg, expected", [
    ("#000000", "#FFFFFF", 21.0),
    ("#FFFFFF", "#000000", 21.0),      # order does not matter
    ("#777777", "#777777", 1.0),
    ("#767676", "#FFFFFF", 4.54),      # the lightest grey that passes AA on white
    ("#777777", "#FFFFFF", 4.48),      # … and the first that fails
    ("#0000FF", "#FFFFFF", 8.59),
    ("#F00", "#FFF", 4.0),
])
def test_contrast_ratio_matches_wcag(fg, bg, expected):
    assert contrast_ratio(fg, bg) == pytest.approx(expected, abs=0.01)


def test_relative_luminance_uses_the_srgb_curve():
    assert relative_luminance("#000000") == 0.0
    assert relative_luminance("#FFFFFF") == pytest.approx(1.0)
    # 0x0A = 10/255 ≈ 0.0392 is on the linear segment (≤ 0.04045): 0.0392 / 12.92
    assert relative_luminance("#0A0A0A") == pytest.approx(10 / 255 / 12.92)


def test_bad_colour_rejected():
    with pytest.raises(ValueError):
        contrast_ratio("#12345", "#FFFFFF")


def test_every_colour_pair_passes_and_is_recomputed():
    assert COLOUR_PAIRS and PRESENTATION["colours"]
    for pair in PRESENTATION["colours"]:
        ratio = contrast_ratio(pair["foreground"], pair["background"])
        assert ratio >= MIN_CONTRAST >= 4.5
        assert pair["contrast"] == round(ratio, 2)


def test_miit_minimums():
    assert PRESENTATION["min_body_dp"] >= 18
    assert PRESENTATION["body_dp"] >= PRESENTATION["min_body_dp"]
    assert PRESENTATION["min_title_dp"] >= 30
    assert PRESENTATION["touch_target_dp"] >= 60
    assert PRESENTATION["line_height"] >= 1.3
    assert PRESENTATION["max_tiles"] <= 8
    assert PRESENTATION["no_popups"] is True


def test_help_block_hotline_first_then_department():
    block = help_block(department="新城区民政局", phone="0471-6155587")
    kinds = [c["kind"] for c in block["contacts"]]
    assert kinds == ["hotline", "department"]
    hotline, department = block["contacts"]
    assert hotline["phone"] == "12345" and hotline["tel"] == "tel:12345"
    assert department["tel"] == "tel:04716155587"
    assert "幺二三四五" in hotline["speech_text"]
    assert "零四七幺，六幺五五五八七" in department["speech_text"]
    assert block["speech_text"].index("幺二三四五") < block["speech_text"].index("零四七幺")


def test_help_block_without_known_phone_has_only_the_hotline():
    assert [c["kind"] for c in help_block()["contacts"]] == ["hotline"]
    assert [c["kind"] for c in help_block(department="某局")["contacts"]] == ["hotline"]
