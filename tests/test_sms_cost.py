"""What an SMS campaign costs, and which characters would make it cheaper."""

from __future__ import annotations

from decimal import Decimal

from dispatch.compose.cost import PricedSms, estimate_sms_cost, without_ucs2

PRICES = {"US": Decimal("0.0083"), "GB": Decimal("0.04"), "default": Decimal("0.05")}


def test_cost_is_segments_times_recipients_times_the_countrys_price() -> None:
    messages = [PricedSms("+12015550100", "a" * 161)] * 10 + [
        PricedSms("+442079460000", "hello")
    ] * 2
    cost = estimate_sms_cost(messages, PRICES)
    assert (cost.messages, cost.segments) == (12, 22)
    assert cost.total == Decimal("0.25")  # 20 × 0.0083 + 2 × 0.04 = 0.246
    assert cost.amount == "$0.25"  # the same words in the preview's finding and summary
    assert cost.savings == ()


def test_the_character_that_forces_ucs2_is_named_with_its_price() -> None:
    text = "Your ride leaves at 3 🚗 " + "x" * 60
    cost = estimate_sms_cost([PricedSms("+12015550100", text)] * 212, PRICES)
    assert [str(hint) for hint in cost.savings] == [
        "“🚗” forces UCS-2: 2 segments instead of 1 for 212 guests"
    ]


def test_smart_punctuation_has_free_gsm_replacements() -> None:
    assert without_ucs2("It’s “lovely” — isn’t it…", ["’", "“", "”", "—", "…"]) == (
        "It's \"lovely\" - isn't it..."
    )


def test_unknown_countries_use_the_default_price() -> None:
    cost = estimate_sms_cost([PricedSms("+33612345678", "salut")], PRICES)
    assert cost.total == Decimal("0.05")


def test_no_saving_is_promised_by_changing_a_guests_name() -> None:
    planner = "Dinner’s at 8, "
    messages = [
        PricedSms("+12015550100", planner + "Zoë" + "x" * 60, frozenset("Zoë")),
        PricedSms("+12015550101", planner + "Ann" + "x" * 60, frozenset("Ann")),
    ]
    cost = estimate_sms_cost(messages, PRICES, changeable=frozenset(planner))
    # Only Ann's text gets cheaper without the ’: Zoë's name keeps hers in UCS-2.
    assert [str(hint) for hint in cost.savings] == [
        "“’” forces UCS-2: 2 segments instead of 1 for 1 guest"
    ]
    # Both texts are in UCS-2 because of the planner's ’; Zoë's also because of her ë.
    assert (cost.ucs2_texts, cost.ucs2_texts_by_planner) == (2, 2)
    assert cost.guest_ucs2_characters == ("ë",)
    only_names = estimate_sms_cost(
        [PricedSms("+12015550100", "Dinner at 8, Zoë", frozenset("Zoë"))],
        PRICES,
        changeable=frozenset("Dinner at 8, "),
    )
    assert (only_names.ucs2_texts, only_names.ucs2_texts_by_planner) == (1, 0)
