"""Twilio's request signature, checked with the official ``RequestValidator``.

The URL Twilio signed is the one it was configured with: PUBLIC_BASE_URL plus
the path and query we received. Never the Host or X-Forwarded-* headers — a
caller chooses those.
"""

from __future__ import annotations

import hmac
import json
from typing import cast

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator, get_signature_algorithm

from handlers.keys import SETTINGS

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
FORM = "application/x-www-form-urlencoded"


class TwilioNotConfigured(web.HTTPServiceUnavailable):
    def __init__(self) -> None:
        super().__init__(
            text=json.dumps(
                {
                    "error": "not_configured",
                    "message": "TWILIO_AUTH_TOKEN is not set, so Twilio webhooks "
                    "cannot be verified.",
                }
            ),
            content_type="application/json",
        )


class ForgedTwilioRequest(web.HTTPForbidden):
    def __init__(self, why: str) -> None:
        super().__init__(
            text=json.dumps({"error": "forbidden", "message": why}),
            content_type="application/json",
        )


async def signed_form(request: web.Request) -> MultiDictProxy[str]:
    """The request's form fields, if Twilio signed them; 403 otherwise (nothing read on)."""
    settings = request.app[SETTINGS].dispatch
    if settings.twilio_auth_token is None:
        raise TwilioNotConfigured()
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise ForgedTwilioRequest("The X-Twilio-Signature header is missing.")
    if request.content_type != FORM:
        raise ForgedTwilioRequest("Twilio posts application/x-www-form-urlencoded forms.")
    try:
        form = await request.post()
    except ValueError:  # undecodable bytes: nobody signed this
        raise ForgedTwilioRequest("The form cannot be read.") from None
    # Every value of a url-encoded form is text (files need multipart): the form
    # as aiohttp read it, not a copy (the webhooks' hot path).
    fields = cast(MultiDictProxy[str], form)
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    url = settings.public_base_url + request.raw_path
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    if _signs(validator, url, fields, signature, algorithm):
        return fields
    # ``validate`` also tries the URL with the default port added or removed
    # (Twilio's signing is inconsistent there): two more HMACs, so only for
    # requests the URL as configured does not explain.
    if not validator.validate(url, fields, signature, algorithm):
        raise ForgedTwilioRequest("The X-Twilio-Signature does not match this request.")
    return fields


def _signs(
    validator: RequestValidator,
    url: str,
    fields: MultiDictProxy[str],
    signature: str,
    algorithm: str,
) -> bool:
    """Whether ``signature`` is Twilio's over exactly this URL and form (one HMAC)."""
    try:
        expected = validator.compute_signature(url, fields, algorithm)
    except ValueError:  # an algorithm the client does not know: validate() says no
        return False
    # aiohttp keeps undecodable header bytes as surrogates: encoded back, they compare.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape"))
