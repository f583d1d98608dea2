"""What the planners read about their guests' replies: who, what they wrote, what it did.

A guest's words are shown as written (they are the planner's own guest) but
escaped, so "<!channel>" in a text message cannot ping a whole channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.enums import Channel, InboundClass, RsvpStatus

KEEP_OPTED_OUT_ACTION = "optout_review_keep"
LONGEST_QUOTE = 600

_HOW = {Channel.SMS.value: "SMS", Channel.EMAIL.value: "email"}


@dataclass(frozen=True, slots=True)
class GuestNote:
    """One guest's event, with what a message about it needs."""

    event_id: int
    kind: str  # guest.replied, guest.unsubscribed, guest.resubscribed
    classification: str | None
    guest_id: int
    guest_name: str
    party_size: int
    channel: str  # sms, email
    body: str | None
    rsvp: str | None
    suppressed: bool

    @property
    def how(self) -> str:
        return _HOW.get(self.channel, self.channel)


def escape(text: str) -> str:
    """Slack's three control characters, so a guest's words stay words."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoted(body: str | None) -> str:
    words = " ".join((body or "").split())
    if len(words) > LONGEST_QUOTE:
        words = words[: LONGEST_QUOTE - 1] + "…"
    return f"“{escape(words)}”" if words else "an empty message"


def effect(note: GuestNote) -> str:
    kind = note.classification
    if kind == InboundClass.RSVP.value and note.rsvp == RsvpStatus.CONFIRMED.value:
        party = f", party of {note.party_size}" if note.party_size > 1 else ", just them"
        return f"RSVP: yes{party}. Their RSVP is recorded."
    if kind == InboundClass.RSVP.value and note.rsvp == RsvpStatus.DECLINED.value:
        return "RSVP: no. Their RSVP is recorded."
    if kind == InboundClass.RSVP.value:
        return "RSVP: not sure yet. Nothing changed; they were asked to reply YES or NO."
    if kind == InboundClass.HELP.value:
        if note.channel == Channel.SMS.value:
            return "Asked for help: I texted back who is writing, how to stop, and your contact."
        return "Asked for help by email: no automatic answer was sent, so please reply."
    return "Not something I can act on: if it needs an answer, please reply to them yourself."


def thread_note(note: GuestNote) -> str:
    return f"{escape(note.guest_name)} replied by {note.how}: {quoted(note.body)}\n{effect(note)}"


def _opt_out_item(note: GuestNote) -> str:
    if note.kind == "guest.unsubscribed":
        how = f"{note.how}, used the unsubscribe link"
    else:
        how = f"{note.how}, replied {quoted(note.body)}"
    if note.kind == "guest.replied" and not note.suppressed:
        how += ", already opted out"
    return f"{escape(note.guest_name)} ({how})"


def _opt_in_item(note: GuestNote) -> str:
    if note.kind == "guest.resubscribed":
        return f"{escape(note.guest_name)} ({note.how}, undid their unsubscribe on our page)"
    return f"{escape(note.guest_name)} ({note.how}, replied {quoted(note.body)})"


def _guests(count: int) -> str:
    return "1 guest" if count == 1 else f"{count:,} guests"


def opt_out_summary(
    couple_names: str, opted_out: list[GuestNote], opted_in: list[GuestNote]
) -> str:
    """One message for a wedding's opt-outs (and opt-ins) of one pass, not one per STOP."""
    parts = [f"Opt-outs for {escape(couple_names)}'s wedding:"]
    if opted_out:
        items = "; ".join(_opt_out_item(note) for note in opted_out)
        parts.append(
            f"{_guests(len(opted_out))} opted out: {items}. They get no more messages on "
            "that channel; only the guest can undo it."
        )
    if opted_in:
        items = "; ".join(_opt_in_item(note) for note in opted_in)
        parts.append(
            f"{_guests(len(opted_in))} opted back in: {items}. They get messages on that "
            "channel again."
        )
    return "\n".join(parts)


def review_card(note: GuestNote, review_id: int, sms_number: str | None) -> tuple[str, list[Any]]:
    """A likely opt-out: what they wrote, that they were opted out to be safe, and the
    one way back (the guest texting START). Nobody else may undo an opt-out."""
    start = f"text START to {sms_number}" if sms_number else "text START to our number"
    text = (
        f"Please review (#{review_id}): {escape(note.guest_name)} wrote by {note.how} "
        f"{quoted(note.body)}.\n"
        f"I read it as a request to stop, so to be safe they are opted out of {note.how} "
        "messages and get none from now on.\n"
        "If they did not mean it, only they can undo it: ask them (another way, such as a "
        f"call) to {start}.\n"
        f"Press Keep opted out, or type `/comms optouts keep {review_id}`, to mark this reviewed."
    )
    blocks: list[Any] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": KEEP_OPTED_OUT_ACTION,
                    "text": {"type": "plain_text", "text": "Keep opted out"},
                    "value": str(review_id),
                }
            ],
        },
    ]
    return text, blocks


def reviewed_card(review_id: int, guest_name: str, user_id: str) -> tuple[str, list[Any]]:
    """The card once someone dealt with it: the button gives way to who did."""
    text = (
        f"Reviewed (#{review_id}): <@{user_id}> kept {escape(guest_name)} opted out. "
        "Only the guest can undo it, by texting START."
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
