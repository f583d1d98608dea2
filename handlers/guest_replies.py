"""Acting on a guest's reply: the ledger, the RSVP, the answer, and a note to the planners.

Channel-agnostic: the Twilio webhook and the inbound-email webhook both hand
an ``ArrivedMessage`` here, inside the transaction that records it, so the
effect commits with the record — and a retried webhook, whose record already
exists, has no effect at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.replies import TWILIO_KEYWORDS, Reading, read_reply
from store.audit import Actor
from store.enums import Channel, InboundClass, RsvpStatus, SuppressionReason
from store.models import ConsentRecord, Guest, Organisation, Wedding
from store.models.base import utcnow
from store.repositories.inbound import (
    ArrivedMessage,
    guest_replying,
    record_arrival,
    record_rsvp,
    tell_planners,
)
from store.repositories.suppressions import GUEST_LIFTABLE, SuppressionLedger

REPLIED = "guest.replied"


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    duplicate: bool = False
    reading: Reading | None = None
    answer: str | None = None  # what to text back; None: nothing
    suppressed: bool = False  # newly added to the ledger
    lifted: bool = False  # the guest's own opt-out was lifted
    rsvp: RsvpStatus | None = None  # recorded (changed or confirmed)


async def act_on_reply(
    session: AsyncSession,
    message: ArrivedMessage,
    organisation: Organisation | None,
    *,
    opt_out_type: str | None = None,
) -> ReplyOutcome:
    """Record the message and do what it asks; call inside one write transaction."""
    if organisation is None:
        # No organisation to hold a ledger entry or an RSVP: kept for operators.
        reading = read_reply(message.body, opt_out_type=opt_out_type)
        message_id = await record_arrival(session, None, message, classification=reading.kind)
        return ReplyOutcome(duplicate=message_id is None, reading=reading)

    # Read first, then record with what was read (one statement, not two): a
    # retried webhook finds its record already there and stops before any effect.
    ledger = SuppressionLedger(session)
    entry = await ledger.active(organisation.id, message.channel, message.from_address)
    opted_out = entry is not None and entry.reason in GUEST_LIFTABLE
    reading = read_reply(message.body, opted_out=opted_out, opt_out_type=opt_out_type)
    guest = await guest_replying(session, organisation.id, message.channel, message.from_address)
    message_id = await record_arrival(
        session,
        organisation.id,
        message,
        guest_id=guest.id if guest else None,
        classification=reading.kind,
    )
    if message_id is None:
        return ReplyOutcome(duplicate=True)
    actor = Actor("guest", f"inbound-{message_id}")
    wedding = await session.get(Wedding, guest.wedding_id) if guest else None
    answers = Answers(organisation, wedding, message.channel)
    source = f"{message.channel.value}_reply"

    outcome: ReplyOutcome
    if reading.kind in (InboundClass.OPT_OUT, InboundClass.LIKELY_OPT_OUT):
        added = await ledger.suppress(
            actor,
            organisation_id=organisation.id,
            channel=message.channel,
            address=message.from_address,
            reason=SuppressionReason.STOP,
            source=source,
            detail=reading.keyword or "free text read as an opt-out",
        )
        # Twilio confirms its own keywords itself (and every keyword when it
        # sends OptOutType): a second confirmation would be one text too many.
        twilio_answered = opt_out_type is not None or reading.keyword in TWILIO_KEYWORDS
        answer = answers.opted_out() if added and not twilio_answered else None
        outcome = ReplyOutcome(reading=reading, answer=answer, suppressed=added)
    elif reading.kind == InboundClass.OPT_IN:
        lifted = await ledger.lift(
            actor,
            organisation_id=organisation.id,
            channel=message.channel,
            address=message.from_address,
            source=source,
        )
        answer = answers.opted_in()
        if lifted and guest is not None:
            session.add(
                ConsentRecord(
                    organisation_id=organisation.id,
                    guest_id=guest.id,
                    channel=message.channel,
                    granted=True,
                    source=source,
                    text_shown=answer or "",
                    recorded_by="guest",
                    created_at=utcnow(),
                )
            )
        outcome = ReplyOutcome(
            reading=reading, answer=None if opt_out_type else answer, lifted=lifted
        )
    elif reading.kind == InboundClass.HELP:
        outcome = ReplyOutcome(reading=reading, answer=answers.help())
    elif reading.kind == InboundClass.RSVP and guest is not None and reading.rsvp is not None:
        await record_rsvp(session, actor, guest, organisation.id, reading.rsvp, reading.party_size)
        outcome = ReplyOutcome(reading=reading, answer=answers.rsvp(guest), rsvp=reading.rsvp)
    elif reading.kind == InboundClass.RSVP and guest is not None:
        outcome = ReplyOutcome(reading=reading, answer=answers.maybe())
    elif reading.kind == InboundClass.RSVP:
        outcome = ReplyOutcome(reading=reading, answer=answers.unknown_guest())
    else:
        outcome = ReplyOutcome(reading=reading)

    await tell_planners(
        session,
        organisation.id,
        REPLIED,
        inbound_message_id=message_id,
        guest_id=guest.id if guest else None,
        wedding_id=guest.wedding_id if guest else None,
        channel=message.channel.value,
        classification=reading.kind.value,
        # Free text read as an opt-out: the planners check it was meant so.
        review=reading.kind == InboundClass.LIKELY_OPT_OUT,
        suppressed=outcome.suppressed,
        rsvp=outcome.rsvp.value if outcome.rsvp else None,
    )
    return outcome


class Answers:
    """What we text back. GSM-7 characters only (no curly quotes), so each stays one
    segment's worth of cost, and each names the sender, as carriers require."""

    def __init__(
        self, organisation: Organisation, wedding: Wedding | None, channel: Channel
    ) -> None:
        self.organisation = organisation
        self.wedding = wedding
        # Email replies get no automatic answers: the guest reads the page or
        # the planners write back.
        self.texting = channel == Channel.SMS

    def _say(self, text: str) -> str | None:
        return f"{self.organisation.name}: {text}" if self.texting else None

    def _contact(self) -> str:
        organisation = self.organisation
        reachable = [
            organisation.contact_phone,
            organisation.contact_email or organisation.sender_email,
        ]
        return " or ".join(way for way in reachable if way) or "reply to this message"

    def opted_out(self) -> str | None:
        return self._say(
            "You are unsubscribed and will receive no more texts from us. "
            "Reply START to resubscribe."
        )

    def opted_in(self) -> str | None:
        return self._say(
            "You are subscribed again to texts from us. Reply STOP to unsubscribe, HELP for help."
        )

    def help(self) -> str | None:
        about = f" for {self.wedding.couple_names}'s wedding" if self.wedding else ""
        return self._say(
            f"Guest messages{about}. Questions: {self._contact()}. "
            "Reply STOP to unsubscribe. Msg&data rates may apply."
        )

    def rsvp(self, guest: Guest) -> str | None:
        couple = f"{self.wedding.couple_names}'s wedding" if self.wedding else "the wedding"
        if guest.rsvp_status == RsvpStatus.DECLINED:
            return self._say(
                f"Thank you for letting us know. We have noted that you cannot come to "
                f"{couple}. Reply YES if that changes."
            )
        party = f" (party of {guest.party_size})" if guest.party_size > 1 else ""
        return self._say(
            f"Thank you! We have you down as attending {couple}{party}. Reply NO if that changes."
        )

    def maybe(self) -> str | None:
        return self._say(
            "Thanks! We have noted that you are not sure yet. Reply YES or NO when you know."
        )

    def unknown_guest(self) -> str | None:
        return self._say(
            "Thanks! We could not find an invitation for this number. "
            f"Please contact {self._contact()}."
        )
