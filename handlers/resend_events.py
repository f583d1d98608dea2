"""Resend's delivery events (``POST /email/events``), verified with their Svix signature.

An event's effects are idempotent rather than the event being recorded:
Resend (Svix) retries an event with the same ``svix-id``, and a repeat finds
nothing left to do — status changes are guarded UPDATEs whose WHERE clause
names the states they may leave (so none moves backwards, and a "delivered"
after a bounce changes nothing), and the ledger adds an address once (INSERT
… ON CONFLICT DO NOTHING; no second audit row, no second count).

- ``email.delivered``, and ``email.opened`` (an open proves delivery; the
  delivery has no column of its own for opens): sent → delivered.
- ``email.bounced``: sent or delivered → undelivered, with the bounce's type
  and reason; a permanent (hard) bounce also suppresses the address. A
  transient or undetermined one does not: the address may work tomorrow.
- ``email.complained``: the guest marked it as spam — suppress.
- Anything else: acknowledged and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession
from svix.webhooks import Webhook, WebhookVerificationError

from dispatch.delivery_reports import apply_report
from handlers.inbound_email import bad_email, json_error
from store.addresses import AddressError, normalise_email
from store.audit import Actor
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.models.base import utcnow
from store.repositories.email_routing import organisation_for_email
from store.repositories.provider_reports import Report, reported_delivery
from store.repositories.suppressions import SuppressionLedger

PROVIDER = "resend"
SOURCE = "resend_event"
ACTOR = Actor("provider", PROVIDER)
HANDLED = frozenset({"email.delivered", "email.opened", "email.bounced", "email.complained"})
# An email may bounce after the receiving server first accepted it.
BOUNCE_FROM = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


@dataclass(frozen=True, slots=True)
class ResendEvent:
    type: str
    email_id: str
    sender: str  # data.from, as sent: "Name <address>"
    recipients: tuple[str, ...]
    bounce_type: str = ""  # Permanent, Transient, Undetermined
    bounce_subtype: str = ""
    bounce_message: str = ""

    @property
    def hard_bounce(self) -> bool:
        return self.type == "email.bounced" and self.bounce_type.lower() == "permanent"


def verified_event(secret: SecretStr | None, body: bytes, headers: Mapping[str, str]) -> Any:
    """The event's JSON if Svix signed it with our secret within 5 minutes; 403 otherwise
    (several signatures may be sent: one valid is enough); 503 with no secret."""
    if secret is None:
        raise json_error(
            web.HTTPServiceUnavailable,
            "not_configured",
            "RESEND_WEBHOOK_SECRET is not set, so Resend's events cannot be verified.",
        )
    try:
        webhook = Webhook(secret.get_secret_value())
    except Exception:  # an empty or non-base64 secret: svix raises several kinds
        raise json_error(
            web.HTTPServiceUnavailable,
            "not_configured",
            "RESEND_WEBHOOK_SECRET is not a Svix signing secret (whsec_…).",
        ) from None
    try:
        return webhook.verify(body, dict(headers))
    except json.JSONDecodeError:  # signed, but not JSON
        raise bad_email("The event is not JSON.") from None
    except (WebhookVerificationError, ValueError):  # ValueError: undecodable bytes, bad base64
        raise json_error(
            web.HTTPForbidden,
            "forbidden",
            "The svix-signature is missing, wrong or too old for this body.",
        ) from None


def parse_event(payload: Any) -> ResendEvent | None:
    """The event, or None for a type we do not act on."""
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise bad_email("The event has no type.")
    if payload["type"] not in HANDLED:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise bad_email("The event has no data.")
    email_id = data.get("email_id")
    if not isinstance(email_id, str) or not 0 < len(email_id) <= 128:
        raise bad_email("The event's data.email_id is missing.")
    to = data.get("to")
    recipients = [to] if isinstance(to, str) else to if isinstance(to, list) else []
    bounce = data.get("bounce")
    if not isinstance(bounce, dict):
        bounce = {}
    return ResendEvent(
        type=payload["type"],
        email_id=email_id,
        sender=str(data.get("from") or ""),
        recipients=tuple(r for r in recipients if isinstance(r, str)),
        bounce_type=str(bounce.get("type") or ""),
        bounce_subtype=str(bounce.get("subType") or ""),
        bounce_message=str(bounce.get("message") or "")[:500],
    )


@dataclass(frozen=True, slots=True)
class EventEffects:
    """What an event changed: the delivery's new status, if the event moved it, and
    the reasons of addresses newly suppressed."""

    reported: DeliveryStatus | None
    suppressed: list[SuppressionReason]


async def apply_event(
    session: AsyncSession, event: ResendEvent, platform_address: str | None
) -> EventEffects:
    """Do what the event says, in the caller's transaction."""
    now = utcnow()
    reported: DeliveryStatus | None = None
    report: Report | None = None
    if event.type in ("email.delivered", "email.opened", "email.complained"):
        # A complaint, too, proves the message arrived.
        report = Report(PROVIDER, event.email_id, DeliveryStatus.DELIVERED)
    if event.type == "email.bounced":
        kind = (event.bounce_type or "undetermined").lower()
        report = Report(
            PROVIDER,
            event.email_id,
            DeliveryStatus.UNDELIVERED,
            error_code=f"bounce_{kind}"[:32],
            error_message=f"{event.bounce_type or 'Undetermined'} bounce"
            + (f" ({event.bounce_subtype})" if event.bounce_subtype else "")
            + (f": {event.bounce_message}" if event.bounce_message else ""),
            from_states=BOUNCE_FROM,
        )
    if report is not None:
        applied = await apply_report(session, report, now, Actor("provider", PROVIDER))
        reported = report.status if applied.moved else None
    if event.hard_bounce:
        reason = SuppressionReason.BOUNCE
    elif event.type == "email.complained":
        reason = SuppressionReason.COMPLAINT
    else:
        return EventEffects(reported, [])
    added = await _suppress(session, event, reason, platform_address)
    return EventEffects(reported, [reason] * added)


async def _suppress(
    session: AsyncSession, event: ResendEvent, reason: SuppressionReason, platform: str | None
) -> int:
    """Suppress the address the email went to, for the organisation that sent it."""
    delivery = await reported_delivery(
        session, provider=PROVIDER, provider_message_id=event.email_id
    )
    if delivery is not None:
        targets = [(delivery.organisation_id, delivery.address)]
    else:
        # Not a campaign delivery we know (a test send, or one sent before its id
        # was recorded): the sender address names the organisation.
        addresses = [a for a in map(_address, event.recipients) if a]
        if not addresses:
            return 0
        organisation = await organisation_for_email(
            session, [_address(event.sender)], addresses[0], platform
        )
        if organisation is None:
            return 0
        targets = [(organisation.id, address) for address in addresses]
    detail = f"Resend: {event.type}" + (
        f" ({event.bounce_subtype})" if event.bounce_subtype else ""
    )
    ledger = SuppressionLedger(session)
    added = 0
    for organisation_id, address in targets:
        added += await ledger.suppress(
            ACTOR,
            organisation_id=organisation_id,
            channel=Channel.EMAIL,
            address=address,
            reason=reason,
            source=SOURCE,
            detail=detail,
        )
    return added


def _address(header: str) -> str:
    try:
        return normalise_email(parseaddr(header)[1])
    except AddressError:
        return ""
