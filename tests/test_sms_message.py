"""Every campaign text says who it is from first and how to stop last."""

from __future__ import annotations

from dispatch.compose.sms_message import compose_sms


def test_sender_first_and_stop_notice_last() -> None:
    assert compose_sms("Evergreen Weddings", "See you Saturday!") == (
        "Evergreen Weddings: See you Saturday! Reply STOP to opt out."
    )


def test_neither_is_repeated_when_the_planner_wrote_it() -> None:
    text = "Evergreen Weddings here: see you Saturday. Reply stop to opt out"
    assert compose_sms("Evergreen Weddings", text) == text


def test_line_breaks_and_stray_spaces_are_folded() -> None:
    assert compose_sms("EW", "  Hi\n\n  there  \n") == "EW: Hi there Reply STOP to opt out."


def test_the_notice_cannot_be_hidden_in_other_words() -> None:
    text = compose_sms("EW", "Do not reply stop, please.")
    assert text == "EW: Do not reply stop, please. Reply STOP to opt out."
