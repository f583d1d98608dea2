"""How carriers count an SMS: encoding and segments, exactly as Twilio bills them.

GSM-7 packs a character into 7 bits (its extension table, ``^{}\\[~]|€`` and
form feed, takes an escape plus the character: 14 bits). One character
outside GSM-7 switches the whole message to UCS-2: 16 bits per UTF-16 code
unit, so an emoji outside the Basic Multilingual Plane costs 32. A message
of up to 140 octets is one segment (160 GSM-7 characters or 70 UCS-2 units);
a longer one is split, and each part carries a 6-octet header, leaving 153
and 67. Characters are counted as user-perceived characters (grapheme
clusters), which are never split between two segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import regex

Encoding = Literal["GSM-7", "UCS-2"]

SEGMENT_BITS = 140 * 8
HEADER_BITS = 6 * 8

# GSM 03.38 basic character set (the escape code 0x1B excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True, slots=True)
class SmsSegments:
    encoding: Encoding
    segments: int
    # Characters outside GSM-7, in the order they first appear: replace or
    # remove them and the message goes back to the cheaper GSM-7.
    ucs2_characters: tuple[str, ...]
    # Billable units: septets for GSM-7, UTF-16 code units for UCS-2.
    units: int


def _graphemes(text: str) -> list[str]:
    # A CRLF pair is one grapheme, but carriers see two characters.
    return [part for g in _GRAPHEME.findall(text) for part in (list(g) if g == "\r\n" else [g])]


def _utf16_units(grapheme: str) -> int:
    return len(grapheme.encode("utf-16-le")) // 2


def _is_gsm7(grapheme: str) -> bool:
    return grapheme in GSM7_BASIC or grapheme in GSM7_EXTENSION


def _bits(grapheme: str, encoding: Encoding) -> int:
    if encoding == "UCS-2":
        return 16 * _utf16_units(grapheme)
    return 14 if grapheme in GSM7_EXTENSION else 7


def sms_segments(text: str) -> SmsSegments:
    """The encoding, the number of segments, and the characters that forced UCS-2."""
    if _GSM7.issuperset(text):
        # Most texts: no GSM-7 character combines with another into one
        # grapheme (and CRLF counts as two anyway), so each character is one,
        # and the grapheme segmentation (most of the cost) can be skipped.
        sizes = [14 if character in GSM7_EXTENSION else 7 for character in text]
        return SmsSegments("GSM-7", _count_segments(sizes), (), sum(sizes) // 7)
    graphemes = _graphemes(text)
    forcing = tuple(dict.fromkeys(g for g in graphemes if not _is_gsm7(g)))
    encoding: Encoding = "UCS-2" if forcing else "GSM-7"
    sizes = [_bits(g, encoding) for g in graphemes]
    units = sum(sizes) // (16 if encoding == "UCS-2" else 7)
    return SmsSegments(encoding, _count_segments(sizes), forcing, units)


def _count_segments(sizes: list[int]) -> int:
    """Fill segments in order; once a second is needed, every segment carries a header.

    A character never straddles two segments; a single grapheme bigger than a
    whole segment (a letter with hundreds of combining marks) is split where
    it must be, 16-bit unit by unit.
    """
    if sum(sizes) <= SEGMENT_BITS:
        return 1
    capacity = SEGMENT_BITS - HEADER_BITS
    segments = 1
    free = capacity
    for size in sizes:
        if size > capacity:
            used = capacity - free + size
            segments += (used - 1) // capacity
            free = capacity - ((used - 1) % capacity + 1)
            continue
        if size > free:
            segments += 1
            free = capacity
        free -= size
    return segments
