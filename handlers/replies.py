"""Reading a guest's reply: opt-out, likely opt-out, opt-in, help, RSVP, or other.

The rules of DESIGN.md ("Reading guests' replies"): keywords count only as
the whole message (after trimming spaces and punctuation, any case); free
text that asks to stop is taken as an opt-out (err on the guest's side) but
sent to the planners for review; ordinary chatter that merely contains
"stop" ("don't stop the music") is not. An RSVP may carry a party size
("yes 2", "yes +1", "two of us").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from store.enums import InboundClass, RsvpStatus

# Twilio answers these itself (on its own opt-out handling), so our answer is empty.
TWILIO_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_OUT_KEYWORDS = TWILIO_KEYWORDS | {"STOP ALL", "OPT OUT"}
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# From a sender on the ledger these mean START (as Twilio reads them); from others, an RSVP.
YES_FROM_OPTED_OUT = frozenset({"YES", "Y"})
_TWILIO_TYPES = frozenset({"STOP", "START", "HELP"})

_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_SPACES = re.compile(r"\s+")

_LIKELY_OPT_OUT = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # "Stop. Thank you", "stop please", "STOP!!", "stop now", "stop it"
        r"^stop\b[\s\W]*(please|pls|plz|now|it|thanks?|thank you|thx|asap|immediately)?"
        r"[\s\W]*(please|thanks?|thank you|thx)?[\s\W]*$",
        r"^(please|pls|plz)\s+stop\b",
        r"\bstop\s+(texting|messaging|sending|contacting|txting|msging)\b",
        r"\b(don'?t|do not|dont|never)\s+(text|message|contact|sms|txt|email)\s+me\b",
        r"\b(remove|delete|unsubscribe|opt)\s+me\b",
        r"\btake\s+me\s+off\b",
        r"\bno\s+more\s+(texts|messages|sms|txts)\b",
        r"\bleave\s+me\s+alone\b",
        r"\bwrong\s+number\b",
        r"\bunsubscribe\b",
        r"^stop\s+(all|them|these|this)\b",
    )
]

_YES = re.compile(
    r"^(yes|yes please|yea|yeah|yep|yup|y|sure|absolutely|of course|definitely|accept|accepted|"
    r"attending|confirmed?|count (me|us) in|we('ll| will) be there|i('ll| will) be there|"
    r"we('re| are) coming|i('m| am) coming|will attend|we will attend|wouldn'?t miss it)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    # "No problem, see you there" is not a no.
    r"^(no(?![\s,]+(problem|problems|prob|worries|doubt|biggie|question))|nope|nah|n|"
    r"decline|declined|regrets|sorry,? no|no,? sorry|not attending|"
    r"(i|we) can'?t (make it|come|attend)|can'?t make it|cannot make it|"
    r"(i|we) (won'?t|will not) be (able to (make it|come|attend)|there|attending)|"
    r"unable to (attend|come|make it)|(i|we)'?m not (able to )?(come|coming|make it))\b",
    re.IGNORECASE,
)
_COURTESY = re.compile(
    r"^(hi|hello|hey|dear all|(so |very |really |terribly )?sorry|unfortunately|sadly|oh no|"
    r"alas|thanks?( you)?( so much)?|ok|okay|actually|i'?m afraid|afraid)\b[\s,.!:;-]*"
)
_MAYBE = re.compile(r"^(maybe|not sure|possibly|perhaps|tentative|tbc|undecided)\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "just me": 1, "both of us": 2, "the two of us": 2, "a couple": 2,
}  # fmt: skip
_PARTY = re.compile(r"\b(\d{1,2})\b")
_PLUS = re.compile(r"\+\s*(\d{1,2})")
MAX_PARTY = 20


@dataclass(frozen=True, slots=True)
class Reading:
    kind: InboundClass
    keyword: str | None = None  # the opt-out/in/help keyword, as normalised
    rsvp: RsvpStatus | None = None
    party_size: int | None = None
    maybe: bool = False  # "maybe": no change of status, but the planners hear of it


def normalise(text: str) -> str:
    """Trim spaces and punctuation at both ends, read inner hyphens as spaces ("opt-out"),
    fold inner spaces, upper-case."""
    return _SPACES.sub(" ", _EDGES.sub("", text).replace("-", " ").replace("_", " ")).upper()


def read_reply(text: str, *, opted_out: bool = False, opt_out_type: str | None = None) -> Reading:
    """Classify one inbound text. ``opted_out``: the sender is on the ledger (a YES then
    opts them back in, as Twilio does). ``opt_out_type``: Twilio's OptOutType, when sent."""
    if len(text) <= MOST_REMEMBERED:
        return _read_remembered(text, opted_out, opt_out_type)
    return _read(text, opted_out, opt_out_type)


# Replies repeat — STOP, YES, "Yes, 2 of us", "Sorry, can't make it" — and reading
# one runs up to two dozen regular expressions (5 µs for STOP, 20–55 µs for an
# RSVP), on the webhooks' hot path. A reading depends on nothing but its
# arguments and is immutable, so short texts' readings are remembered; the
# bounds keep the memory small (about 1 MB at worst, far less for usual texts).
MOST_REMEMBERED = 160  # characters: one SMS segment
_REMEMBERED = 1024


@functools.lru_cache(maxsize=_REMEMBERED)
def _read_remembered(text: str, opted_out: bool, opt_out_type: str | None) -> Reading:
    return _read(text, opted_out, opt_out_type)


@functools.lru_cache(maxsize=_REMEMBERED)
def _normalised(text: str) -> str:
    return normalise(text)


def _read(text: str, opted_out: bool, opt_out_type: str | None) -> Reading:
    if opt_out_type:
        kind = opt_out_type.strip().upper()
        if kind == "STOP":
            return Reading(InboundClass.OPT_OUT, keyword=normalise(text) or "STOP")
        if kind == "START":
            return Reading(InboundClass.OPT_IN, keyword=normalise(text) or "START")
        if kind == "HELP":
            return Reading(InboundClass.HELP, keyword=normalise(text) or "HELP")
    word = normalise(text)
    if word in OPT_OUT_KEYWORDS:
        return Reading(InboundClass.OPT_OUT, keyword=word)
    if word in OPT_IN_KEYWORDS or (opted_out and word in YES_FROM_OPTED_OUT):
        return Reading(InboundClass.OPT_IN, keyword=word)
    if word in HELP_KEYWORDS:
        return Reading(InboundClass.HELP, keyword=word)
    stripped = text.strip()
    if any(pattern.search(stripped) for pattern in _LIKELY_OPT_OUT):
        return Reading(InboundClass.LIKELY_OPT_OUT)
    return _rsvp(stripped)


def hinges_on_opt_out(text: str, *, opt_out_type: str | None = None) -> bool:
    """Whether ``read_reply`` reads this text differently when the sender is on the ledger
    (only a bare YES does): for the rest — every STOP — nobody need look the sender up."""
    if opt_out_type and opt_out_type.strip().upper() in _TWILIO_TYPES:
        return False
    word = _normalised(text) if len(text) <= MOST_REMEMBERED else normalise(text)
    return word in YES_FROM_OPTED_OUT


def _rsvp(text: str) -> Reading:
    lowered = " ".join(text.lower().replace("’", "'").split())
    # "So sorry, can't make it", "Hi! Yes 2": the answer follows the courtesy.
    for _ in range(3):
        lowered = _COURTESY.sub("", lowered, count=1)
    if _NO.search(lowered):
        return Reading(InboundClass.RSVP, rsvp=RsvpStatus.DECLINED, party_size=None)
    if _YES.search(lowered):
        return Reading(InboundClass.RSVP, rsvp=RsvpStatus.CONFIRMED, party_size=_party(lowered))
    if _MAYBE.search(lowered):
        return Reading(InboundClass.RSVP, maybe=True)
    return Reading(InboundClass.OTHER)


def _party(text: str) -> int | None:
    plus = _PLUS.search(text)
    if plus:
        return min(MAX_PARTY, 1 + int(plus.group(1)))
    number = _PARTY.search(text)
    if number and 1 <= int(number.group(1)) <= MAX_PARTY:
        return int(number.group(1))
    for words, size in sorted(_NUMBER_WORDS.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{words}\b", text):
            return size
    return None
