"""Reading an inbound-email webhook: its basic auth, and the email in either shape.

- SendGrid Inbound Parse: multipart/form-data with the fields ``from``,
  ``to``, ``subject``, ``text``, ``html``, ``headers``, ``envelope`` and
  ``charsets`` (or the whole message in ``email`` when "send raw" is on).
  Attachments arrive as file parts: they are streamed past, never kept, so a
  reply with a photo still gets read.
- Postmark's inbound JSON: ``FromFull``/``From``, ``ToFull``/``To``,
  ``OriginalRecipient``, ``Subject``, ``TextBody``, ``HtmlBody``,
  ``MessageID`` and ``Headers`` (a list of ``{"Name", "Value"}``).

Neither provider signs these posts; both put HTTP basic auth credentials in
the webhook URL, which is what is checked here. Postmark stops retrying on a
403, so wrong credentials are not retried forever.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from aiohttp import BodyPartReader, web

from handlers.settings import WebSettings
from store.addresses import AddressError, normalise_email

SENDGRID_FIELDS = frozenset(
    {"from", "to", "cc", "subject", "text", "html", "headers", "envelope", "charsets", "email"}
)
FIELD_LIMIT = 1_048_576  # a text field; replies are short, quoted history is cut anyway
RAW_LIMIT = 26_214_400  # SendGrid's raw message, attachments included (its limit is 30 MB)
JSON_LIMIT = 26_214_400  # Postmark's JSON, attachments included as base64
_CHUNK = 65_536
_ID_LENGTH = 128  # InboundMessage.provider_message_id
_AUTOMATIC_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})


@dataclass(frozen=True, slots=True)
class InboundEmail:
    provider: str  # sendgrid, postmark
    message_id: str  # the provider's id, or the Message-ID, or a hash of the content
    sender: str  # normalised
    recipients: tuple[str, ...]  # lower-cased: To, the envelope's, the original recipient
    subject: str
    text: str
    html: str
    automatic: bool  # an auto-reply (RFC 3834 Auto-Submitted, Precedence…)


def json_error(error: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    body = json.dumps({"error": code, "message": message})
    return error(text=body, content_type="application/json")


def bad_email(message: str) -> web.HTTPException:
    return json_error(web.HTTPBadRequest, "bad_request", message)


def check_basic_auth(request: web.Request, settings: WebSettings) -> None:
    """403 unless the request carries the configured credentials; 503 if none are set."""
    missing = [
        name
        for name, value in (
            ("INBOUND_EMAIL_USERNAME", settings.inbound_email_username),
            ("INBOUND_EMAIL_PASSWORD", settings.inbound_email_password),
        )
        if not value
    ]
    if missing or settings.inbound_email_password is None:
        raise json_error(
            web.HTTPServiceUnavailable,
            "not_configured",
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, "
            "so /email/inbound accepts no email.",
        )
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    username, colon, password = given.partition(b":")
    # Compared as digests, in constant time: neither the content nor the length leaks.
    same_username = _same(username, (settings.inbound_email_username or "").encode())
    same_password = _same(password, settings.inbound_email_password.get_secret_value().encode())
    if scheme.lower() != "basic" or not colon or not (same_username & same_password):
        raise json_error(
            web.HTTPForbidden, "forbidden", "HTTP basic auth credentials are missing or wrong."
        )


def _same(given: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


async def read_inbound_email(request: web.Request) -> InboundEmail:
    if request.content_type == "multipart/form-data":
        return _sendgrid(*await _multipart_fields(request))
    if request.content_type == "application/x-www-form-urlencoded":
        return _sendgrid(*await _urlencoded_fields(request))
    if request.content_type == "application/json":
        return _postmark(await _json_body(request))
    raise json_error(
        web.HTTPUnsupportedMediaType,
        "unsupported_media_type",
        "Post multipart/form-data (SendGrid Inbound Parse) or application/json (Postmark).",
    )


async def _multipart_fields(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """SendGrid's text fields, decoded by the charsets it declares; and the raw message."""
    fields: dict[str, bytes] = {}
    charsets: dict[str, str] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if (
                not isinstance(part, BodyPartReader)
                or part.filename
                or part.name not in SENDGRID_FIELDS
            ):
                await part.release()
                continue
            name = part.name
            fields[name] = bytes(part.decode(await _read_part(part, name)))
            charsets[name] = part.get_charset("utf-8")
    except (ValueError, RuntimeError, binascii.Error):
        raise bad_email("The multipart form cannot be read.") from None
    try:
        declared = json.loads(fields.get("charsets", b"{}"))
    except ValueError:
        declared = {}
    if isinstance(declared, dict):
        charsets.update({k: v for k, v in declared.items() if isinstance(v, str)})
    raw = fields.pop("email", None)
    return {name: _decode(data, charsets.get(name, "utf-8")) for name, data in fields.items()}, raw


async def _urlencoded_fields(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    try:
        form = await request.post()
    except ValueError:
        raise bad_email("The form cannot be read.") from None
    fields = {name: str(value) for name, value in form.items() if name in SENDGRID_FIELDS}
    raw = fields.pop("email", None)
    return fields, None if raw is None else raw.encode()


def _sendgrid(text: dict[str, str], raw: bytes | None) -> InboundEmail:
    if raw is not None:
        return _from_raw(raw, text)
    headers = HeaderParser(policy=policy.default).parsestr(text.get("headers", ""))
    envelope = _envelope_recipients(text.get("envelope", ""))
    return InboundEmail(
        provider="sendgrid",
        message_id=_message_id(headers.get("Message-ID"), text),
        sender=_sender(text.get("from", "")),
        recipients=_addresses([text.get("to", ""), text.get("cc", "")], envelope),
        subject=text.get("subject", ""),
        text=text.get("text", ""),
        html=text.get("html", ""),
        automatic=_automatic(headers.items()),
    )


async def _read_part(part: BodyPartReader, name: str) -> bytes:
    limit = RAW_LIMIT if name == "email" else FIELD_LIMIT
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise json_error(
                web.HTTPRequestEntityTooLarge, "too_large", f"The field {name} is too large."
            )
    return bytes(data)


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def _from_raw(raw: bytes, fields: Mapping[str, str]) -> InboundEmail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # what policy.default builds
    return InboundEmail(
        provider="sendgrid",
        message_id=_message_id(message.get("Message-ID"), {"raw": hashlib.sha256(raw).hexdigest()}),
        sender=_sender(str(message.get("From", "")) or fields.get("from", "")),
        recipients=_addresses(
            [str(message.get("To", "")), str(message.get("Cc", ""))],
            _envelope_recipients(fields.get("envelope", "")),
        ),
        subject=str(message.get("Subject", "")),
        text=_part_text(message, "plain"),
        html=_part_text(message, "html"),
        automatic=_automatic((name, str(value)) for name, value in message.items()),
    )


def _part_text(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        return ""
    return content if isinstance(content, str) else ""


async def _json_body(request: web.Request) -> Any:
    data = bytearray()
    while chunk := await request.content.read(_CHUNK):
        data.extend(chunk)
        if len(data) > JSON_LIMIT:
            raise json_error(web.HTTPRequestEntityTooLarge, "too_large", "The body is too large.")
    try:
        return json.loads(data)
    except ValueError:
        raise bad_email("The body is not JSON.") from None


def _postmark(payload: Any) -> InboundEmail:
    if not isinstance(payload, dict):
        raise bad_email("The body must be a JSON object (Postmark's inbound shape).")
    sender_full = payload.get("FromFull")
    sender = sender_full.get("Email") if isinstance(sender_full, dict) else None
    recipients = [
        entry.get("Email", "")
        for entry in payload.get("ToFull") or []
        if isinstance(entry, dict) and isinstance(entry.get("Email"), str)
    ]
    headers = [
        (entry.get("Name", ""), entry.get("Value", ""))
        for entry in payload.get("Headers") or []
        if isinstance(entry, dict)
    ]
    message_id = _string(payload, "MessageID")
    if not message_id:
        raise bad_email("MessageID is missing.")
    return InboundEmail(
        provider="postmark",
        message_id=_message_id(message_id, {}),
        sender=_sender(sender if isinstance(sender, str) else _string(payload, "From")),
        recipients=_addresses(
            [_string(payload, "To"), _string(payload, "Cc")],
            [*recipients, _string(payload, "OriginalRecipient")],
        ),
        subject=_string(payload, "Subject"),
        text=_string(payload, "TextBody"),
        html=_string(payload, "HtmlBody"),
        automatic=_automatic((str(name), str(value)) for name, value in headers),
    )


def _string(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_email(f"{key} must be a string.")
    return value


def _sender(header: str) -> str:
    _, address = parseaddr(header)
    if not address:
        raise bad_email("The sender (from) is missing.")
    try:
        return normalise_email(address)
    except AddressError as error:
        raise bad_email(f"The sender's address is not valid: {error}") from None


def _addresses(headers: Iterable[str], plain: Iterable[str]) -> tuple[str, ...]:
    found = [address for _, address in getaddresses([h for h in headers if h])]
    found.extend(plain)
    unique = dict.fromkeys(a.strip().lower() for a in found if "@" in a and len(a) <= 320)
    return tuple(unique)


def _envelope_recipients(envelope: str) -> list[str]:
    try:
        parsed = json.loads(envelope) if envelope else {}
    except ValueError:
        return []
    recipients = parsed.get("to") if isinstance(parsed, dict) else None
    return [r for r in recipients if isinstance(r, str)] if isinstance(recipients, list) else []


def _message_id(header: object, content: Mapping[str, str]) -> str:
    """The Message-ID a retry repeats; without one, a hash of the content (which a
    retry repeats too)."""
    given = str(header or "").strip().strip("<>").strip()
    if given and len(given) <= _ID_LENGTH:
        return given
    digest = hashlib.sha256()
    for key in sorted(content):
        digest.update(f"{key}\0{content[key]}\0".encode(errors="replace"))
    if given:
        digest.update(given.encode(errors="replace"))
    return "sha256:" + digest.hexdigest()


def _automatic(headers: Iterable[tuple[str, str]]) -> bool:
    for name, value in headers:
        lowered, text = name.strip().lower(), value.strip().lower()
        if lowered == "auto-submitted" and text not in ("", "no"):
            return True
        if lowered in ("x-autoreply", "x-autorespond"):
            return True
        if lowered == "precedence" and text in _AUTOMATIC_PRECEDENCE:
            return True
    return False
