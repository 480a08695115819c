"""Presentation tokens the elder clients render with (B4), WCAG contrast, and the fixed help block (B10).

Sizes follow the MIIT APP spec (工信厅信管函〔2021〕67号 附件2): body text ≥ 18 dp (§1.1),
main-function text ≥ 30 dp (§1.1), line spacing ≥ 1.3 (§1.2), contrast ≥ 4.5:1 (§1.3),
elder-UI components ≥ 60×60 dp (§2.1). Every colour pair is checked against WCAG 2.2's contrast
formula when this module is imported, so a bad pair cannot ship.
"""
from __future__ import annotations

from typing import Any

from accessibility.spoken import speech_text

__all__ = ["relative_luminance", "contrast_ratio", "PRESENTATION", "COLOUR_PAIRS", "HOTLINE",
           "help_block", "MIN_CONTRAST", "MIN_CONTRAST_LARGE"]

MIN_CONTRAST = 4.5          # MIIT §1.3 and WCAG 1.4.3 (AA) for body text
MIN_CONTRAST_LARGE = 3.0    # text larger than 18 dp/pt


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    text = colour.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"colour must be #rgb or #rrggbb, got {colour!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour ``#rrggbb``: 0 (black) … 1 (white)."""
    r, g, b = (_channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """(L_lighter + 0.05) / (L_darker + 0.05): 1.0 … 21.0, order of the arguments irrelevant."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


# (role, foreground, background): every pair the elder UI uses for text or icons.
_PAIRS = (
    ("body", "#1A1A1A", "#FFFFFF"),
    ("secondary", "#4A4A4A", "#FFFFFF"),
    ("tile", "#1A1A1A", "#EAF2FF"),
    ("primary_button", "#FFFFFF", "#0B57D0"),
    ("link", "#0B57D0", "#FFFFFF"),
    ("notice", "#7A4100", "#FFF4E5"),
    ("error", "#B3261E", "#FFFFFF"),
    ("success", "#1B5E20", "#FFFFFF"),
    ("help_button", "#FFFFFF", "#C62828"),
)

COLOUR_PAIRS: tuple[dict[str, Any], ...] = tuple(
    {"role": role, "foreground": fg, "background": bg, "contrast": round(contrast_ratio(fg, bg), 2)}
    for role, fg, bg in _PAIRS
)
for _pair in COLOUR_PAIRS:
    if _pair["contrast"] < MIN_CONTRAST:  # pragma: no cover - guarded by tests
        raise ValueError(f"colour pair {_pair} is below {MIN_CONTRAST}:1")

PRESENTATION: dict[str, Any] = {
    "min_body_dp": 18,
    "body_dp": 20,
    "min_title_dp": 30,
    "touch_target_dp": 60,
    "min_touch_target_dp": 44,
    "line_height": 1.3,
    "paragraph_spacing": 1.3,
    "tiles_per_row": 2,
    "max_tiles": 8,
    "min_contrast": MIN_CONTRAST,
    "colours": [dict(pair) for pair in COLOUR_PAIRS],
    "no_popups": True,
    "font_family": "sans-serif",
}

HOTLINE = {"name": "12345政务服务便民热线", "spoken_name": "政务服务便民热线", "phone": "12345"}


def _tel(number: str) -> str:
    return "tel:" + "".join(ch for ch in number if ch.isdigit() or ch == "+")


def _contact(kind: str, name: str, number: str, spoken_name: str | None = None) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "phone": number,
        "tel": _tel(number),
        "a11y_label": f"拨打{name}" + ("" if number in name else f"，{number}"),
        "speech_text": f"{speech_text(spoken_name or name)}，电话{speech_text(number, kind='phone')}",
    }


def help_block(*, department: str | None = None, phone: str | None = None) -> dict[str, Any]:
    """Help by phone, always in the same order (WCAG 3.2.6): the 12345 hotline, then the department.

    The department entry appears only when its phone is known.
    """
    contacts = [_contact("hotline", HOTLINE["name"], HOTLINE["phone"], HOTLINE["spoken_name"])]
    if phone:
        contacts.append(_contact("department", department or "办理部门", phone))
    spoken = "；".join(f"可以拨打{c['speech_text']}" for c in contacts)
    return {
        "title": "有问题请打电话",
        "contacts": contacts,
        "speech_text": f"有问题请打电话。{spoken}。",
    }
