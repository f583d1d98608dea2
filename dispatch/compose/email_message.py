"""The email a guest receives: multipart text + HTML, honest headers, RFC 8058 unsubscribe.

The planner's words go inside a page we control: ``lang``, a title, a main
region, readable colours, and a footer that says who sent it, why the guest
gets it, the organisation's postal address (CAN-SPAM) and how to unsubscribe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from html import escape
from urllib.parse import quote

ONE_CLICK = "List-Unsubscribe=One-Click"
# Long headers (the unsubscribe links) stay on one line where this policy writes
# the message (RFC 5322 allows 998 characters): the console's .eml files, a test's
# reading of them. SMTP flattens with aiosmtplib's own policy, which folds at 78
# columns — List-Unsubscribe between its two links, where RFC 2369 allows it
# (dispatch/compose/email_wire.py writes the same bytes).
_HEADERS_ON_ONE_LINE = compat32.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class EmailContent:
    """What the templates produced for one guest (the HTML already sanitised)."""

    subject: str
    text: str
    html_fragment: str


@dataclass(frozen=True, slots=True)
class Footer:
    organisation_name: str
    postal_address: str
    couple_names: str
    wedding_date: str
    unsubscribe_url: str

    def text(self) -> str:
        return (
            "--\n"
            f"You are receiving this because you are on the guest list for "
            f"{self.couple_names}'s wedding on {self.wedding_date}.\n"
            f"Sent by {self.organisation_name} on behalf of the couple, "
            f"{one_line(self.postal_address)}.\n"
            f"Unsubscribe from these messages: {self.unsubscribe_url}\n"
        )

    def html(self) -> str:
        return (
            '<footer style="margin-top:32px;padding-top:16px;border-top:1px solid #767676;'
            'font-size:14px;color:#4a4a4a">'
            f"<p>You are receiving this because you are on the guest list for "
            f"{escape(self.couple_names)}'s wedding on {escape(self.wedding_date)}.</p>"
            f"<p>Sent by {escape(self.organisation_name)} on behalf of the couple, "
            f"{escape(one_line(self.postal_address))}.</p>"
            f'<p><a href="{escape(self.unsubscribe_url)}" style="color:#1a56a8">'
            f"Unsubscribe from {escape(self.couple_names)}'s wedding messages</a></p>"
            "</footer>"
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    from_name: str
    from_address: str
    to_name: str
    to_address: str
    message_id: str
    date: datetime
    unsubscribe_url: str
    unsubscribe_mailto: str
    lang: str  # BCP 47, e.g. "en-US"


def html_document(subject: str, fragment: str, footer: Footer, lang: str) -> str:
    """The accessible page around the planner's HTML."""
    title = escape(subject)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n</head>\n"
        '<body style="margin:0;padding:0;background-color:#ffffff;color:#1f1f1f;'
        "font-family:Georgia,'Times New Roman',serif;font-size:17px;line-height:1.5\">\n"
        f'<div role="article" aria-roledescription="email" aria-label="{title}" '
        f'lang="{escape(lang)}" style="max-width:600px;margin:0 auto;padding:24px">\n'
        f"<main>\n{fragment}\n</main>\n{footer.html()}\n</div>\n</body>\n</html>\n"
    )


def build_email(content: EmailContent, envelope: Envelope, footer: Footer) -> Message:
    """The message, built with the ``email.mime`` classes.

    They write headers as given (encoded where needed) instead of parsing each
    one back as ``EmailMessage`` does — seven times faster, which matters at
    ten thousand guests. Receivers parse it like any other message.
    """
    message = MIMEMultipart("alternative", policy=_HEADERS_ON_ONE_LINE)
    message["From"] = formataddr(
        (one_line(envelope.from_name), envelope.from_address), charset="utf-8"
    )
    message["To"] = formataddr((one_line(envelope.to_name), envelope.to_address), charset="utf-8")
    subject = one_line(content.subject)
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id
    # RFC 2369 + RFC 8058: mail providers show an unsubscribe button and POST
    # "List-Unsubscribe=One-Click" to the https link, which must act at once.
    message["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>, <{envelope.unsubscribe_mailto}>"
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message["Content-Language"] = envelope.lang
    text = content.text.rstrip("\n") + "\n\n" + footer.text()
    html = html_document(content.subject, content.html_fragment, footer, envelope.lang)
    message.attach(MIMEText(text, "plain", "utf-8", policy=_HEADERS_ON_ONE_LINE))
    message.attach(MIMEText(html, "html", "utf-8", policy=_HEADERS_ON_ONE_LINE))
    return message


@dataclass(frozen=True, slots=True)
class EmailParts:
    """Everything one guest's email is made of, before it is a ``Message``."""

    content: EmailContent
    envelope: Envelope
    footer: Footer

    def __post_init__(self) -> None:
        # What building the message would refuse, refused now, while the caller
        # composes: an address beyond ASCII (“josé@…”, which address checks
        # accept) cannot be written in From or To. Found later, on the way to the
        # provider, it would fail the whole batch instead of this one email.
        for address in (self.envelope.from_address, self.envelope.to_address):
            if not address.isascii():
                raise ValueError(
                    f"{address} has characters beyond ASCII, which email headers here cannot carry"
                )

    def build(self) -> Message:
        return build_email(self.content, self.envelope, self.footer)


def body_parts(message: Message) -> tuple[str, str | None]:
    """The text and HTML bodies of a message we built (for HTTP providers)."""
    text, html = "", None
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        decoded = payload.decode(part.get_content_charset() or "utf-8")
        if part.get_content_type() == "text/plain":
            text = decoded
        elif part.get_content_type() == "text/html":
            html = decoded
    return text, html


def unsubscribe_mailto(mailbox: str, token: str) -> str:
    """A mailto the inbound handler reads: the token in the subject names the guest."""
    return f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"


def one_line(text: str) -> str:
    """Line breaks become ", " (postal addresses) — and can never start a new header."""
    return ", ".join(part.strip() for part in text.splitlines() if part.strip())
