"""What we text back to a guest's reply: each names the sender, as carriers require."""

from __future__ import annotations

from store.enums import Channel, RsvpStatus
from store.models import Organisation
from store.repositories.inbound import Replier


class Answers:
    """What we text back. GSM-7 characters only (no curly quotes), so each stays one
    segment's worth of cost, and each names the sender, as carriers require."""

    def __init__(self, organisation: Organisation, guest: Replier | None, channel: Channel) -> None:
        self.organisation = organisation
        # The couple the guest is invited by (None: no guest known).
        self.couple = guest.couple_names if guest else None
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
        about = f" for {self.couple}'s wedding" if self.couple else ""
        return self._say(
            f"Guest messages{about}. Questions: {self._contact()}. "
            "Reply STOP to unsubscribe. Msg&data rates may apply."
        )

    def rsvp(self, status: RsvpStatus, party_size: int) -> str | None:
        couple = f"{self.couple}'s wedding" if self.couple else "the wedding"
        if status == RsvpStatus.DECLINED:
            return self._say(
                f"Thank you for letting us know. We have noted that you cannot come to "
                f"{couple}. Reply YES if that changes."
            )
        party = f" (party of {party_size})" if party_size > 1 else ""
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
