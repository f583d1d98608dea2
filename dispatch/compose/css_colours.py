"""Reading CSS colours as email clients do, so contrast can be checked on what guests see."""

from __future__ import annotations

import colorsys
import re

import webcolors

RGB = tuple[int, int, int]


class UnknownColour(ValueError):
    """A colour value that cannot be evaluated (and so cannot be shown to be readable)."""


# Keywords that mean "what the parent has" for our purposes.
INHERITED = frozenset({"inherit", "initial", "unset", "currentcolor", "revert"})
_NUMBER = r"([+-]?[\d.]+)(%?)"


def parse_colour(value: str, behind: RGB) -> RGB | None:
    """The colour ``value`` paints over ``behind``; None means inherit. Raises UnknownColour."""
    text = value.lower().replace("!important", "").strip()
    if not text or text in INHERITED:
        return None
    if text == "transparent":
        return behind
    if text.startswith("#"):
        return _hex(text, behind)
    match = re.fullmatch(r"(rgba?|hsla?)\((.*)\)", text)
    if match:
        return _function(match.group(1), match.group(2), behind, text)
    try:
        named = webcolors.name_to_rgb(text)
    except ValueError:
        raise UnknownColour(value) from None
    return (named.red, named.green, named.blue)


def _hex(text: str, behind: RGB) -> RGB:
    digits = text[1:]
    if not re.fullmatch(r"[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8}", digits):
        raise UnknownColour(text)
    if len(digits) in {3, 4}:
        digits = "".join(c * 2 for c in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
    return _blend((red, green, blue), alpha, behind)


def _function(name: str, arguments: str, behind: RGB, original: str) -> RGB:
    parts = [p for p in re.split(r"[\s,/]+", arguments.strip()) if p]
    if len(parts) not in {3, 4}:
        raise UnknownColour(original)
    values: list[tuple[float, bool]] = []
    for part in parts:
        match = re.fullmatch(_NUMBER + r"(deg)?", part)
        if not match:
            raise UnknownColour(original)
        values.append((float(match.group(1)), match.group(2) == "%"))
    alpha = 1.0
    if len(values) == 4:
        number, percent = values[3]
        alpha = number / 100 if percent else number
    if name.startswith("rgb"):
        channels = [round(min(255.0, max(0.0, n * 2.55 if pct else n))) for n, pct in values[:3]]
        colour: RGB = (channels[0], channels[1], channels[2])
    else:
        hue = (values[0][0] % 360) / 360
        saturation = min(1.0, values[1][0] / 100)
        lightness = min(1.0, values[2][0] / 100)
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
        colour = (round(red * 255), round(green * 255), round(blue * 255))
    return _blend(colour, max(0.0, min(1.0, alpha)), behind)


def _blend(colour: RGB, alpha: float, behind: RGB) -> RGB:
    if alpha >= 1:
        return colour
    red, green, blue = (
        round(c * alpha + b * (1 - alpha)) for c, b in zip(colour, behind, strict=True)
    )
    return (red, green, blue)
