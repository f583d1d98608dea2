"""The questions of the campaign conversation, and how each answer is read.

One question at a time, each saying what answers it accepts; an answer that
cannot be read is explained and the same question stands.
"""

from __future__ import annotations

import html

from bot.slack.errors import SlackBotError
from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.tokens import GUEST_FIELDS, WEDDING_TOKENS
from store.enums import Channel
from store.errors import SegmentError
from store.models import Wedding
from store.segments import parse_segment

NAME_LIMIT = 200
OWN = "own"


class UnclearAnswer(SlackBotError):
    """An answer the current question cannot take; the message says what it can."""


def wedding_question(weddings: list[Wedding]) -> str:
    lines = [
        f"{n}. {w.couple_names} ({w.slug}), {w.wedding_date:%d %B %Y}"
        for n, w in enumerate(weddings, 1)
    ]
    return "Which wedding is it for? Answer with its number or its short name:\n" + "\n".join(lines)


def read_wedding(answer: str, weddings: list[Wedding]) -> Wedding:
    word = answer.strip().lower()
    for number, wedding in enumerate(weddings, 1):
        if word in (str(number), wedding.slug.lower()):
            return wedding
    raise UnclearAnswer(f"“{answer}” is none of the weddings. " + wedding_question(weddings))


NAME_QUESTION = (
    "What should the campaign be called? Only your team sees the name, "
    "for example “RSVP reminder, May”."
)


def read_name(answer: str) -> str:
    name = " ".join(answer.split())
    if not name:
        raise UnclearAnswer("The name cannot be empty. " + NAME_QUESTION)
    if len(name) > NAME_LIMIT:
        raise UnclearAnswer(f"Please keep the name under {NAME_LIMIT} characters.")
    return name


CHANNELS_QUESTION = "Send it by `email`, `sms` or `both`?"
_CHANNELS = {
    "email": [Channel.EMAIL],
    "e-mail": [Channel.EMAIL],
    "sms": [Channel.SMS],
    "text": [Channel.SMS],
    "texts": [Channel.SMS],
    "both": [Channel.EMAIL, Channel.SMS],
    "email and sms": [Channel.EMAIL, Channel.SMS],
    "sms and email": [Channel.EMAIL, Channel.SMS],
}


def read_channels(answer: str) -> list[str]:
    found = _CHANNELS.get(" ".join(answer.lower().split()))
    if found is None:
        raise UnclearAnswer(f"I did not understand “{answer}”. " + CHANNELS_QUESTION)
    return [channel.value for channel in found]


AUDIENCE_QUESTION = (
    "Who should get it? Answer `everyone`, or a segment such as `rsvp=pending`, "
    '`group=family`, `group="bridal party"`, `dietary=vegetarian`, `plus_one=yes` or '
    "`channel=sms`; spaces combine them (`rsvp=pending group=family`)."
)


def read_audience(answer: str) -> str:
    expression = answer.strip().strip("`")
    try:
        parse_segment(expression)
    except SegmentError as error:
        raise UnclearAnswer(f"I could not read that audience: {error}") from None
    return "" if expression.lower() in ("everyone", "all") else expression


def content_question() -> str:
    templates = [
        f"{n}. `{t.key}` — {t.title}: {t.purpose}"
        for n, t in enumerate(BUILTIN_TEMPLATES.values(), 1)
    ]
    return (
        "What should it say? Answer with a template's number or name, or `own` to write "
        "your own text:\n" + "\n".join(templates) + "\n" + tokens_note()
    )


def tokens_note() -> str:
    tokens = ", ".join(f"{{{{{token}}}}}" for token in (*WEDDING_TOKENS, *GUEST_FIELDS))
    return (
        f"Your own text may use these tokens: {tokens}, and any extra column of the guest "
        "list (for example {{table_number}})."
    )


def read_content(answer: str) -> str:
    """A built-in template's key, or ``OWN``."""
    word = answer.strip().lower().strip("`")
    if word in (OWN, "own text", "write", "my own"):
        return OWN
    for number, key in enumerate(BUILTIN_TEMPLATES, 1):
        if word in (str(number), key):
            return key
    raise UnclearAnswer(f"“{answer}” is no template. " + content_question())


def looks_like_own_text(answer: str) -> bool:
    """Whether an answer to “what should it say?” is the message itself: a
    planner who types a sentence there means it, not a template's name —
    unless the sentence asks for a template (“use the reminder template”)."""
    if "{{" in answer:
        return True
    lowered = answer.lower().replace("_", " ")
    asks_for_one = "template" in lowered or any(
        word in lowered
        for template in BUILTIN_TEMPLATES.values()
        for word in (template.key.replace("_", " "), *template.title.lower().split())
        if len(word) > 3
    )
    return len(answer.split()) >= 4 and not asks_for_one


def own_text_first(channels: list[str]) -> str:
    """What to answer when own text came before `own` on a campaign with email,
    which needs a subject first."""
    then = "the email subject, the email text" + (
        " and the SMS text" if Channel.SMS.value in channels else ""
    )
    return f"That looks like your own text. Answer `own` and I ask for {then}, one at a time."


SUBJECT_QUESTION = "Write the email subject (tokens work here too, e.g. {{couple_names}})."
EMAIL_QUESTION = (
    "Write the email text. I add the footer with your postal address and the unsubscribe "
    "link myself."
)
SMS_QUESTION = (
    "Write the SMS text. I put your sender name first and “Reply STOP to opt out.” last, "
    "so leave those out."
)


def read_text(answer: str, what: str) -> str:
    text = answer.strip()
    if not text:
        raise UnclearAnswer(f"The {what} cannot be empty.")
    return text


def html_of(text: str) -> str:
    """An own email text as simple HTML paragraphs (the HTML part guests' apps show)."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        "<p>" + html.escape(p.strip(), quote=False).replace("\n", "<br>\n") + "</p>\n"
        for p in paragraphs
    )


REVIEW_OPTIONS = (
    "Answer here: `change audience`, `change text`, `test` (sends it to you only), "
    "`schedule saturday 10am`, `send now` (asks for approval), `preview` or `cancel`."
)
