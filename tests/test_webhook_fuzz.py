"""1,000 mutated or forged requests per webhook route: none accepted, none a 500, no row written.

Each case starts from a genuine request and changes one thing a forger or a
broken proxy would: the signature, the signed content, the URL, the secret,
the time, the credentials, or the bytes themselves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from svix.webhooks import Webhook

from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from store.enums import Channel
from tests.twilio_webhook_client import text_from, twilio_signature
from tests.web_harness import (
    INBOUND_EMAIL_PASSWORD,
    INBOUND_EMAIL_USERNAME,
    PUBLIC_BASE_URL,
    RESEND_WEBHOOK_SECRET,
    TWILIO_AUTH_TOKEN,
    UNSUBSCRIBE_SECRET,
)
from tests.webhook_fuzzing import ServedApp, served_app

EXAMPLES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same 1,000 cases every run: a failure is reproducible
)
FORM = "application/x-www-form-urlencoded"
Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


@pytest.fixture(scope="module")
def app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    yield from served_app(sqlite_template, tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def rows_before(app: ServedApp) -> dict[str, int]:
    return app.rows()


def refused(status: int) -> bool:
    """Not accepted (no 2xx) and not our failure (no 5xx)."""
    return 400 <= status < 500


texts = st.text(max_size=40)
values = st.one_of(texts, st.sampled_from(["STOP", "delivered", "failed", "+12012000001", ""]))


@st.composite
def forged_twilio(draw: st.DrawFn, path: str) -> Request:
    """A real Twilio form, then one of the ways a forger or a broken proxy changes it."""
    params = text_from("+12012000001", "STOP", MessageStatus="failed", ErrorCode="30006")
    signature = twilio_signature(PUBLIC_BASE_URL + path, params, TWILIO_AUTH_TOKEN)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature}
    original = dict(params)
    how = draw(
        st.sampled_from(
            ["no signature", "random signature", "changed value", "added field",
             "removed field", "other url", "other token", "raw bytes", "content type"]
        )
    )  # fmt: skip
    if how == "no signature":
        del headers["X-Twilio-Signature"]
    elif how == "random signature":
        headers["X-Twilio-Signature"] = draw(
            st.one_of(
                st.text(
                    # Any byte a client can put in a header (no control characters).
                    alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]),
                    max_size=60,
                ),
                st.binary(min_size=20, max_size=20).map(lambda b: base64.b64encode(b).decode()),
            )
        )
    elif how == "changed value":
        key = draw(st.sampled_from(sorted(params)))
        params[key] = draw(values)
    elif how == "added field":
        params[draw(st.text(min_size=1, max_size=12))] = draw(values)
    elif how == "removed field":
        del params[draw(st.sampled_from(sorted(params)))]
    elif how == "other url":
        url = draw(st.sampled_from(["http://guestcomms.example.com", "https://evil.example"]))
        headers["X-Twilio-Signature"] = twilio_signature(url + path, params)
    elif how == "other token":
        headers["X-Twilio-Signature"] = twilio_signature(
            PUBLIC_BASE_URL + path, params, draw(st.text(min_size=1, max_size=30))
        )
    elif how == "raw bytes":
        return path, draw(st.binary(max_size=300)), headers
    else:
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data", ""])
        )
    if how != "content type":
        # A mutation that changed nothing would be a genuine request.
        assume(params != original or headers.get("X-Twilio-Signature") != signature)
    return path, urlencode(params).encode(), headers


@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/status"])
@EXAMPLES
@given(data=st.data())
def test_forged_twilio_webhooks(
    app: ServedApp, rows_before: dict[str, int], path: str, data: st.DataObject
) -> None:
    path, body, headers = data.draw(forged_twilio(path))
    assert refused(app.send("POST", path, body, headers))
    assert app.rows() == rows_before


OTHER_SVIX_SECRET = "whsec_" + base64.b64encode(b"another key, not ours!!!").decode()


def svix_headers(body: bytes, msg_id: str, at: datetime, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


@st.composite
def forged_resend_event(draw: st.DrawFn) -> Request:
    payload = {
        "type": draw(st.sampled_from(["email.bounced", "email.complained", "email.delivered"])),
        "created_at": "2026-11-29T12:00:00.000Z",
        "data": {
            "email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
            "to": ["guest1@example.com"],
            "from": "Evergreen Weddings <hello@evergreen.example.com>",
            "bounce": {"type": "Permanent", "message": "mailbox does not exist"},
        },
    }
    body = json.dumps(payload).encode()
    now = datetime.now(UTC)
    headers = svix_headers(body, "msg_fuzz", now, RESEND_WEBHOOK_SECRET)
    how = draw(
        st.sampled_from(
            ["no headers", "no signature", "random signature", "other secret", "stale",
             "future", "changed body", "changed id", "raw bytes"]
        )
    )  # fmt: skip
    if how == "no headers":
        headers = {"Content-Type": "application/json"}
    elif how == "no signature":
        del headers["svix-signature"]
    elif how == "random signature":
        headers["svix-signature"] = draw(
            st.one_of(
                st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"])),
                st.binary(min_size=32, max_size=32).map(
                    lambda b: "v1," + base64.b64encode(b).decode()
                ),
            )
        )
    elif how == "other secret":
        headers = svix_headers(body, "msg_fuzz", now, OTHER_SVIX_SECRET)
    elif how in ("stale", "future"):
        minutes = draw(st.integers(min_value=6, max_value=60 * 24 * 365))
        shift = timedelta(minutes=-minutes if how == "stale" else minutes)
        headers = svix_headers(body, "msg_fuzz", now + shift, RESEND_WEBHOOK_SECRET)
    elif how == "changed body":
        changed = dict(payload, type=draw(st.text(max_size=20)))
        assume(changed != payload)
        body = json.dumps(changed).encode()
    elif how == "changed id":
        headers["svix-id"] = draw(
            st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30)
        )
        assume(headers["svix-id"] != "msg_fuzz")
    else:
        body = draw(st.binary(max_size=300))
    return "/email/events", body, headers


@st.composite
def forged_inbound_email(draw: st.DrawFn) -> Request:
    payload = {
        "From": "guest1@example.com",
        "To": "hello@evergreen.example.com",
        "Subject": "Re: You're invited",
        "TextBody": draw(st.sampled_from(["STOP", "Yes 2", "unsubscribe"])),
        "MessageID": "fuzz-message",
    }
    body = json.dumps(payload).encode()
    genuine = base64.b64encode(f"{INBOUND_EMAIL_USERNAME}:{INBOUND_EMAIL_PASSWORD}".encode())
    credentials = draw(
        st.one_of(
            st.none(),
            st.tuples(st.text(max_size=20), st.text(max_size=20)).map(
                lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
            ),
            st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"])),
            st.just("Bearer " + genuine.decode()),
            st.just("Basic " + genuine.decode()[:-2]),
        )
    )
    assume(credentials != "Basic " + genuine.decode())
    headers = {"Content-Type": "application/json"}
    if credentials is not None:
        headers["Authorization"] = credentials
    if draw(st.booleans()):
        body = draw(st.binary(max_size=300))
    return "/email/inbound", body, headers


@EXAMPLES
@given(request=forged_resend_event())
def test_forged_resend_events(
    app: ServedApp, rows_before: dict[str, int], request: Request
) -> None:
    path, body, headers = request
    assert refused(app.send("POST", path, body, headers))
    assert app.rows() == rows_before


@EXAMPLES
@given(request=forged_inbound_email())
def test_forged_inbound_email(
    app: ServedApp, rows_before: dict[str, int], request: Request
) -> None:
    path, body, headers = request
    assert refused(app.send("POST", path, body, headers))
    assert app.rows() == rows_before


@st.composite
def forged_unsubscribe(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    genuine = UnsubscribeTokens([UNSUBSCRIBE_SECRET], 400).issue(
        organisation_id=1, guest_id=1, channel=Channel.EMAIL, campaign_id=None
    )
    how = draw(st.sampled_from(["random", "one character", "truncated", "extended", "other key"]))
    if how == "random":
        token = draw(st.text(min_size=1, max_size=120))
    elif how == "one character":
        at = draw(st.integers(min_value=0, max_value=len(genuine) - 1))
        token = genuine[:at] + draw(st.characters(codec="ascii")) + genuine[at + 1 :]
    elif how == "truncated":
        token = genuine[: draw(st.integers(min_value=1, max_value=len(genuine) - 1))]
    elif how == "extended":
        token = genuine + draw(st.text(min_size=1, max_size=8))
    else:
        token = UnsubscribeTokens([draw(st.text(min_size=1))], 400).issue(
            organisation_id=1, guest_id=1, channel=Channel.EMAIL, campaign_id=None
        )
    assume(token != genuine)
    method = draw(st.sampled_from(["GET", "POST"]))
    body = draw(
        st.one_of(st.just(b"List-Unsubscribe=One-Click"), st.just(b"channel=both"), st.binary())
    )
    headers = {"Content-Type": FORM}
    return method, "/u/" + quote(token, safe=""), body, headers


@EXAMPLES
@given(request=forged_unsubscribe())
def test_forged_unsubscribe_links(
    app: ServedApp, rows_before: dict[str, int], request: tuple[str, str, bytes, dict[str, str]]
) -> None:
    method, path, body, headers = request
    assert refused(app.send(method, path, body if method == "POST" else b"", headers))
    assert app.rows() == rows_before
