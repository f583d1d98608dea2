"""SMS encoding and segments agree with Twilio's own calculator and the carriers' rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dispatch.compose import sms_segments
from tests.services import IN_CI

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms-segment-vectors.json"


def _vectors() -> list[Any]:
    if not VECTORS.exists():
        if IN_CI:
            raise FileNotFoundError(f"{VECTORS} is missing; CI must test against it")
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared is absent"))]
    vectors = json.loads(VECTORS.read_text())
    return [
        pytest.param(v, id=f"{n}-{v['encoding']}-{v['segments']}") for n, v in enumerate(vectors)
    ]


@pytest.mark.parametrize("vector", _vectors())
def test_agrees_with_twilios_calculator(vector: dict[str, Any]) -> None:
    result = sms_segments(vector["text"])
    assert (result.encoding, result.segments) == (vector["encoding"], vector["segments"])


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    result = sms_segments("a" * length)
    assert (result.encoding, result.segments, result.units) == ("GSM-7", segments, length)


@pytest.mark.parametrize("character", list("€[]{}^~|\\"))
def test_extension_characters_count_twice(character: str) -> None:
    assert sms_segments(character + "a" * 158).segments == 1  # 2 + 158 = 160 septets
    assert sms_segments(character + "a" * 159).segments == 2
    assert sms_segments(character * 80).units == 160
    assert sms_segments(character * 80).ucs2_characters == ()


def test_an_extension_character_is_not_split_from_its_escape() -> None:
    # 152 septets then "€" (2): it cannot straddle the first segment's end.
    text = "a" * 152 + "€" + "b" * 100
    assert sms_segments(text).segments == 2
    assert sms_segments("a" * 152 + "€" + "b" * 152).segments == 3


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_boundaries(length: int, segments: int) -> None:
    result = sms_segments("ж" * length)
    assert (result.encoding, result.segments) == ("UCS-2", segments)
    assert result.ucs2_characters == ("ж",)


def test_emoji_count_as_two_units_and_are_never_split() -> None:
    assert sms_segments("🚗" * 35).segments == 1  # 70 units
    assert sms_segments("🚗" * 35 + "a").segments == 2
    # After 66 units the emoji does not fit the first part's last unit, so it
    # opens the second part: 134 units that would fill two parts need three.
    assert sms_segments("a" * 66 + "🚗" + "a" * 65).segments == 2
    assert sms_segments("a" * 66 + "🚗" + "a" * 66).segments == 3
    assert sms_segments("ж" * 134).segments == 2


def test_the_characters_that_forced_ucs2_are_named_once_in_order() -> None:
    result = sms_segments("Parking’s free 🚗 see you there 🚗 — Alex")
    assert result.ucs2_characters == ("’", "🚗", "—")


def test_gsm_accents_stay_gsm_but_others_do_not() -> None:
    assert sms_segments("Zoë Müller, café à Nîmes").ucs2_characters == ("ë", "î")
    assert sms_segments("Åsa Ñúñez").ucs2_characters == ("ú",)
    assert sms_segments("Ça va, Ödön?").encoding == "GSM-7"


def test_a_grapheme_longer_than_a_segment_is_split_by_units() -> None:
    # 201 UTF-16 units in one user-perceived character: three 67-unit parts.
    assert sms_segments("a" + "\u0301" * 200).segments == 3
    assert sms_segments("a" + "\u0301" * 201).segments == 4
