"""Email webhooks: guests' replies (``POST /email/inbound``) and Resend's delivery
events (``POST /email/events``).

A reply is read like a text (handlers/replies.py) once the quoted original
and the signature are gone, so "Yes 2" above "> Reply STOP to unsubscribe"
is an RSVP, not an opt-out. The effect commits before the 200 leaves. The
List-Unsubscribe mailto of our emails ("unsubscribe <token>" as the subject)
is an opt-out whatever its body says (Gmail writes one of its own); its
signed token names the guest, whose invited address is suppressed too when
the request came from another. Auto-replies are stored and change nothing.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.compose.unsubscribe_tokens import UnsubscribeClaim
from dispatch.errors import InvalidUnsubscribeToken
from handlers.guest_replies import ReplyOutcome, act_on_reply
from handlers.inbound_email import InboundEmail, check_basic_auth, read_inbound_email
from handlers.keys import SERVICES, SETTINGS, UNSUBSCRIBE_TOKENS
from handlers.metrics import METRICS
from handlers.replies import Reading
from handlers.reply_text import reply_text_off_loop
from handlers.resend_events import apply_event, parse_event, verified_event
from handlers.settings import AppSettings
from store.audit import Actor
from store.enums import Channel, InboundClass, SuppressionReason
from store.models import Guest, Organisation, Wedding
from store.repositories.email_routing import organisation_for_email
from store.repositories.inbound import (
    ArrivedMessage,
    guest_replying,
    record_arrival,
)
from store.repositories.suppressions import SuppressionLedger

BODY_LIMIT = 5000  # stored and read; the guest's own words are far shorter
MAILTO_SOURCE = "email_unsubscribe_mailto"
_MAILTO_SUBJECT = re.compile(
    r"^(?:re|fwd?|aw|wg|sv|vs|tr)?\s*:?\s*unsubscribe\s+([A-Za-z0-9_.-]{40,400})\s*$",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?|aw|wg|sv|vs|tr|antw|r)\s*(\[\d+\])?\s*:", re.IGNORECASE)


def register(router: web.UrlDispatcher) -> None:
    router.add_post("/email/inbound", inbound_email)
    router.add_post("/email/events", email_events)


async def inbound_email(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    check_basic_auth(request, settings.web)
    email = await read_inbound_email(request)
    mailto = _MAILTO_SUBJECT.match(email.subject.strip())
    claim = _claim(request, mailto.group(1)) if mailto else None
    body = "unsubscribe" if mailto else await _guest_words(email)
    async with request.app[SERVICES].database.transaction() as session:
        organisation = await _organisation(session, email, claim, settings)
        message = ArrivedMessage(
            channel=Channel.EMAIL,
            provider=email.provider,
            provider_message_id=email.message_id,
            from_address=email.sender,
            to_address=_to_address(email, organisation),
            body=body[:BODY_LIMIT],
        )
        if email.automatic and not mailto:
            outcome = await _store_only(session, message, organisation)
        else:
            outcome = await act_on_reply(session, message, organisation)
        invited = 0
        if claim is not None and not outcome.duplicate:
            invited = await _suppress_invited_address(session, claim, email.sender)
    _count(request, outcome, invited)
    kind = outcome.reading.kind.value if outcome.reading else None
    return web.json_response(
        {"status": "duplicate" if outcome.duplicate else "recorded", "classification": kind}
    )


async def _guest_words(email: InboundEmail) -> str:
    words = await reply_text_off_loop(email.text, email.html)
    # An empty body under a fresh subject ("Unsubscribe"): the subject is the message.
    # A reply's subject ("Re: …") is ours, not the guest's.
    if not words and not _REPLY_PREFIX.match(email.subject):
        return email.subject.strip()
    return words


def _claim(request: web.Request, token: str) -> UnsubscribeClaim | None:
    try:
        claim = request.app[UNSUBSCRIBE_TOKENS].verify(token)
    except InvalidUnsubscribeToken:  # expired or forged: still an opt-out, by the sender's address
        return None
    return claim if claim.channel == Channel.EMAIL else None


async def _organisation(
    session: AsyncSession,
    email: InboundEmail,
    claim: UnsubscribeClaim | None,
    settings: AppSettings,
) -> Organisation | None:
    if claim is not None:
        claimed = await session.get(Organisation, claim.organisation_id)
        if claimed is not None:
            return claimed
    platform = parseaddr(settings.dispatch.email_from or "")[1] or None
    return await organisation_for_email(session, email.recipients, email.sender, platform)


def _to_address(email: InboundEmail, organisation: Organisation | None) -> str:
    own = organisation.sender_email.lower() if organisation else ""
    if own and own in email.recipients:
        return own
    return email.recipients[0] if email.recipients else ""


async def _store_only(
    session: AsyncSession, message: ArrivedMessage, organisation: Organisation | None
) -> ReplyOutcome:
    """An auto-reply ("out of office"): kept, never read as an opt-out or an RSVP."""
    guest = (
        await guest_replying(session, organisation.id, Channel.EMAIL, message.from_address)
        if organisation
        else None
    )
    message_id = await record_arrival(
        session,
        organisation.id if organisation else None,
        message,
        guest_id=guest.id if guest else None,
        classification=InboundClass.OTHER,
    )
    if message_id is None:
        return ReplyOutcome(duplicate=True)
    return ReplyOutcome(reading=Reading(InboundClass.OTHER))


async def _suppress_invited_address(
    session: AsyncSession, claim: UnsubscribeClaim, sender: str
) -> int:
    """The token's guest may have been invited at an address that forwards to the sender's."""
    invited = await session.scalar(
        select(Guest.email)
        .join(Wedding, Wedding.id == Guest.wedding_id)
        .where(Guest.id == claim.guest_id, Wedding.organisation_id == claim.organisation_id)
    )
    if not invited or invited == sender:
        return 0
    added = await SuppressionLedger(session).suppress(
        Actor("guest", str(claim.guest_id)),
        organisation_id=claim.organisation_id,
        channel=Channel.EMAIL,
        address=invited,
        reason=SuppressionReason.UNSUBSCRIBE,
        source=MAILTO_SOURCE,
    )
    return int(added)


def _count(request: web.Request, outcome: ReplyOutcome, invited: int) -> None:
    metrics = request.app[METRICS]
    if invited:
        metrics.opt_outs.labels("email", SuppressionReason.UNSUBSCRIBE.value).inc(invited)
    if outcome.duplicate or outcome.reading is None:
        return
    metrics.inbound.labels("email", outcome.reading.kind.value).inc()
    if outcome.suppressed:
        metrics.opt_outs.labels("email", SuppressionReason.STOP.value).inc()
    if outcome.rsvp:
        metrics.rsvps.labels(outcome.rsvp.value, "email").inc()


async def email_events(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    # Read (within the app's size limit) before verifying: the signature covers the bytes.
    body = await request.read()
    event = parse_event(verified_event(settings.web.resend_webhook_secret, body, request.headers))
    if event is None:
        return web.json_response({"status": "ignored"})
    platform = parseaddr(settings.dispatch.email_from or "")[1] or None
    async with request.app[SERVICES].database.transaction() as session:
        effects = await apply_event(session, event, platform)
    metrics = request.app[METRICS]
    if effects.reported is not None:
        metrics.delivery_reports.labels("email", "resend", effects.reported.value).inc()
    for reason in effects.suppressed:
        metrics.opt_outs.labels("email", reason.value).inc()
    return web.json_response({"status": "recorded"})
