"""Reading guests' replies: 150+ real-world texts, and chatter that must not opt anyone out."""

from __future__ import annotations

import pytest

from handlers.replies import MOST_REMEMBERED, hinges_on_opt_out, read_reply
from store.enums import InboundClass as K
from store.enums import RsvpStatus

OPT_OUTS = [
    "STOP", "stop", "Stop", " stop ", "STOP.", "stop!", "STOP!!!", "Stop ", "\nSTOP\n",
    "'stop'", '"STOP"', "*STOP*", "STOP?", "STOPALL", "stopall", "StopAll", "STOP ALL",
    "stop all", "Stop all.", "stop-all", "UNSUBSCRIBE", "unsubscribe", "Unsubscribe!",
    "CANCEL", "cancel", "Cancel.", "END", "end", "End!", "QUIT", "quit", "REVOKE", "revoke",
    "OPTOUT", "optout", "OPT OUT", "opt out", "Opt-Out", "opt_out", "  sToP  ",
]  # fmt: skip
LIKELY_OPT_OUTS = [
    "please stop texting me", "Stop. Thank you", "stop please", "Stop pls", "please stop",
    "Stop texting me", "stop messaging me!", "Remove me", "remove me from this list",
    "take me off your list", "don't text me", "Do not text me again",
    "no more texts please", "leave me alone", "wrong number", "Unsubscribe me please",
    "stop it", "STOP NOW", "stop thanks", "I want to unsubscribe", "Stop sending me these",
    "dont text me", "STOP THANK YOU!!", "Please remove me", "opt me out",
]  # fmt: skip
CHATTER = [
    "don't stop the music", "I can't stop smiling", "we'll stop by the hotel first",
    "Can we stop at the church on the way?", "The bus stop is where?", "non-stop fun!",
    "Don't stop believing", "Please don't stop the party", "I'll stop at nothing",
    "Stopping by later", "stop by anytime", "Is there a stop on the shuttle route?",
    "end of the night?", "Cancel my plus one", "quit smoking for this!", "What time is it?",
    "Where do we park?", "Congrats!!", "Thank you!", "😍", "Is there a dress code?",
    "Can I bring my kids?", "ok", "Who is this?", "lol", "Love you guys", "See you soon",
    "Help me find the venue?", "info about parking?", "start time?",
    "No problem, see you there", "no worries!", "Hi, what time is dinner?",
]  # fmt: skip
OPT_INS = ["START", "start", "Start.", "UNSTOP", "unstop", "START!"]
HELPS = ["HELP", "help", "Help!", "INFO", "info?", "  Help  "]
YES = [
    ("YES", None), ("yes", None), ("Yes!", None), ("yes 2", 2), ("Yes 2", 2), ("YES 3", 3),
    ("yes, 2 of us", 2), ("yes +1", 2), ("Yes, two of us", 2), ("yes both of us", 2),
    ("We'll be there!", None), ("we will be there", None), ("I'll be there", None),
    ("Count me in", None), ("count us in 4", 4), ("yeah", None), ("Yep!", None),
    ("sure", None), ("Absolutely!", None), ("yes! can't wait", None),
    ("Yes we're coming", None), ("accept", None), ("Attending", None),
    ("wouldn't miss it", None), ("Y", None), ("We’ll be there, 3 of us", 3),
    ("yes just me", 1), ("Yes! The two of us", 2), ("yes 12", 12), ("yes 99", None),
    ("Hi! Yes 2", 2), ("Thank you, we'll be there", None), ("Actually, yes 3", 3),
]  # fmt: skip
NO = [
    "NO", "no", "No sorry", "no, sorry", "Sorry no", "nope", "Can't make it",
    "can't make it :(", "We can't make it unfortunately", "cannot make it",
    "I won't be able to make it", "unable to attend", "Regrets", "decline",
    "Not attending", "We won't be there", "nah", "No.", "Can’t make it, sorry!",
    "So sorry, can't make it after all", "Unfortunately we can't come", "Hi, no sorry",
    "actually we can't make it, so sorry", "I'm afraid we can't come",
]  # fmt: skip
MAYBE = ["maybe", "Maybe!", "not sure yet", "possibly", "tentative"]


def test_there_are_over_150_cases() -> None:
    tables: list[list[str] | list[tuple[str, int | None]]] = [
        OPT_OUTS, LIKELY_OPT_OUTS, CHATTER, OPT_INS, HELPS, YES, NO, MAYBE
    ]  # fmt: skip
    total = sum(len(table) for table in tables)
    assert total >= 150


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_keywords_in_any_case_and_punctuation(text: str) -> None:
    assert read_reply(text).kind == K.OPT_OUT


@pytest.mark.parametrize("text", LIKELY_OPT_OUTS)
def test_asking_to_stop_in_other_words_is_a_likely_opt_out(text: str) -> None:
    assert read_reply(text).kind == K.LIKELY_OPT_OUT


@pytest.mark.parametrize("text", CHATTER)
def test_chatter_never_opts_anyone_out(text: str) -> None:
    assert read_reply(text).kind not in {K.OPT_OUT, K.LIKELY_OPT_OUT}


@pytest.mark.parametrize("text", OPT_INS)
def test_start_opts_back_in(text: str) -> None:
    assert read_reply(text).kind == K.OPT_IN


@pytest.mark.parametrize("text", ["YES", "yes", "Y", "Yes."])
def test_yes_from_an_opted_out_number_opts_back_in(text: str) -> None:
    assert read_reply(text, opted_out=True).kind == K.OPT_IN
    assert read_reply(text).kind == K.RSVP


@pytest.mark.parametrize("text", HELPS)
def test_help(text: str) -> None:
    assert read_reply(text).kind == K.HELP


@pytest.mark.parametrize(("text", "party"), YES)
def test_yes_with_a_party_size(text: str, party: int | None) -> None:
    reading = read_reply(text)
    assert (reading.kind, reading.rsvp, reading.party_size) == (K.RSVP, RsvpStatus.CONFIRMED, party)


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    reading = read_reply(text)
    assert (reading.kind, reading.rsvp) == (K.RSVP, RsvpStatus.DECLINED)


@pytest.mark.parametrize("text", MAYBE)
def test_maybe_changes_nothing_but_is_heard(text: str) -> None:
    reading = read_reply(text)
    assert (reading.kind, reading.rsvp, reading.maybe) == (K.RSVP, None, True)


@pytest.mark.parametrize(
    ("opt_out_type", "kind"), [("STOP", K.OPT_OUT), ("START", K.OPT_IN), ("HELP", K.HELP)]
)
def test_twilios_opt_out_type_wins(opt_out_type: str, kind: K) -> None:
    assert read_reply("arrêtez", opt_out_type=opt_out_type).kind == kind


@pytest.mark.parametrize("opt_out_type", [None, "STOP", "START", "HELP", "OTHER"])
def test_the_ledger_is_looked_up_exactly_for_texts_it_changes(opt_out_type: str | None) -> None:
    # The group commit skips the ledger look-up when this says no: it must never
    # say no for a text that reads differently from a sender on the ledger.
    texts = OPT_OUTS + LIKELY_OPT_OUTS + CHATTER + OPT_INS + HELPS + [t for t, _ in YES] + NO
    for text in [*texts, *MAYBE, "YES", "y", "Yes.", " yes! "]:
        on_ledger = read_reply(text, opted_out=True, opt_out_type=opt_out_type)
        off_ledger = read_reply(text, opted_out=False, opt_out_type=opt_out_type)
        assert hinges_on_opt_out(text, opt_out_type=opt_out_type) == (on_ledger != off_ledger), text


@pytest.mark.parametrize("opted_out", [False, True])
@pytest.mark.parametrize("opt_out_type", [None, "STOP", "START"])
def test_a_remembered_reading_is_the_reading(opted_out: bool, opt_out_type: str | None) -> None:
    # Short texts' readings are remembered; read again, or after other texts, or
    # long enough not to be remembered, a text reads the same.
    texts = OPT_OUTS + LIKELY_OPT_OUTS + CHATTER + OPT_INS + HELPS + [t for t, _ in YES] + NO
    for text in [*texts, *MAYBE]:
        first = read_reply(text, opted_out=opted_out, opt_out_type=opt_out_type)
        read_reply("something else entirely", opted_out=not opted_out)
        again = read_reply(text, opted_out=opted_out, opt_out_type=opt_out_type)
        padded = read_reply(
            text + " " * MOST_REMEMBERED, opted_out=opted_out, opt_out_type=opt_out_type
        )
        assert first == again == padded, text
