"""Twilio's webhooks: guests' texts (``POST /twilio/sms``) and delivery reports
(``POST /twilio/status``).

Both are signed (see ``twilio_signature``). The effect of a text commits
before its TwiML answer leaves, so an opt-out is final before the guest can
read its confirmation; the dispatch claim re-checks the ledger, so no text
to that number is claimed after this answer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from dispatch.delivery_reports import apply_report
from handlers.guest_replies import ReplyOutcome
from handlers.keys import SERVICES
from handlers.metrics import METRICS
from handlers.sms_intake import sms_intake
from handlers.twilio_signature import signed_form
from store.addresses import AddressError, normalise_phone
from store.audit import Actor
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.models.base import utcnow
from store.repositories.inbound import ArrivedMessage
from store.repositories.provider_reports import Report

TWIML = "application/xml"
# Most answers are empty (Twilio confirms its own opt-out keywords): built once.
EMPTY_TWIML = str(MessagingResponse())
_EMPTY_TWIML_BODY = EMPTY_TWIML.encode()
# Twilio's final statuses that we record; the others (queued, sending, sent,
# accepted, read…) add nothing to "sent", which we recorded when Twilio
# accepted the message.
REPORTED = {
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
}
# Column sizes; Twilio's own values are far shorter, so longer is not Twilio.
_LIMITS = {
    "MessageSid": 128,
    "From": 320,
    "To": 320,
    "MessagingServiceSid": 64,
    "ErrorCode": 32,
    "OptOutType": 32,
}
STATUS_ACTOR = Actor("provider", "twilio")
_NANP_E164 = re.compile(r"\+1[2-9]\d{2}[2-9]\d{6}")


def register(router: web.UrlDispatcher) -> None:
    router.add_post("/twilio/sms", incoming_text)
    router.add_post("/twilio/status", delivery_report)


class IncompleteTwilioRequest(web.HTTPBadRequest):
    def __init__(self, why: str) -> None:
        super().__init__(
            text=json.dumps({"error": "bad_request", "message": why}),
            content_type="application/json",
        )


def _required(form: Mapping[str, str], name: str) -> str:
    value = _optional(form, name)
    if value is None:
        raise IncompleteTwilioRequest(f"The field {name} is missing.")
    return value


def _optional(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    if len(value) > _LIMITS.get(name, 2000):
        raise IncompleteTwilioRequest(f"The field {name} is too long.")
    return value or None


def _phone(raw: str) -> str:
    # A North American number in E.164 is its own normal form (phonenumbers
    # gives it back unchanged, valid or not), and most texts are from one:
    # skipping the parse saves 40 µs a number on the webhooks' hot path.
    if _NANP_E164.fullmatch(raw):
        return raw
    # Twilio sends E.164; a short code or sender name stays as it came.
    try:
        return normalise_phone(raw, "US")
    except AddressError:
        return raw


async def incoming_text(request: web.Request) -> web.Response:
    form = await signed_form(request)
    message = ArrivedMessage(
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id=_required(form, "MessageSid"),
        from_address=_phone(_required(form, "From")),
        to_address=_phone(_required(form, "To")),
        body=form.get("Body", "")[:2000],
    )
    # Committed, with the texts that arrived meanwhile, before the answer leaves.
    outcome = await sms_intake(request.app[SERVICES].database).act_on_text(
        message,
        messaging_service_sid=_optional(form, "MessagingServiceSid"),
        opt_out_type=_optional(form, "OptOutType"),
    )
    _count(request, outcome)
    body = _twiml(outcome.answer) if outcome.answer else _EMPTY_TWIML_BODY
    return web.Response(body=body, content_type=TWIML, charset="utf-8")


@functools.lru_cache(maxsize=1024)
def _twiml(answer: str) -> bytes:
    """The TwiML that texts ``answer`` back. Answers are few (each organisation's
    confirmations, the couple's names, party sizes) and building the XML costs
    15–20 µs, so each is built once."""
    response = MessagingResponse()
    response.message(answer)
    return str(response).encode()


def _count(request: web.Request, outcome: ReplyOutcome) -> None:
    if outcome.duplicate or outcome.reading is None:
        return
    metrics = request.app[METRICS]
    metrics.count(metrics.inbound, "sms", outcome.reading.kind.value)
    if outcome.suppressed:
        metrics.count(metrics.opt_outs, "sms", SuppressionReason.STOP.value)
    if outcome.lifted:
        metrics.count(metrics.opt_ins, "sms")
    if outcome.rsvp:
        metrics.count(metrics.rsvps, outcome.rsvp.value, "sms")


async def delivery_report(request: web.Request) -> web.Response:
    form = await signed_form(request)
    message_sid = _required(form, "MessageSid")
    status = REPORTED.get((form.get("MessageStatus") or "").strip().lower())
    if status is None:
        return web.Response(status=204)
    code = _optional(form, "ErrorCode")
    report = Report(
        "twilio",
        message_sid,
        status,
        error_code=code,
        error_message=f"Twilio reported {status.value}" + (f" (error {code})" if code else ""),
    )
    async with request.app[SERVICES].database.transaction() as session:
        applied = await apply_report(session, report, utcnow(), STATUS_ACTOR)
    metrics = request.app[METRICS]
    if applied.moved is not None:  # counted once committed, and only when the status moved
        metrics.delivery_reports.labels("sms", "twilio", status.value).inc()
    if applied.suppressed is not None:
        metrics.opt_outs.labels("sms", applied.suppressed.value).inc()
    return web.Response(status=204)
