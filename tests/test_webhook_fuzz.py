"""1,000 mutated or forged requests per webhook route: none accepted, none a 500, no row written."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.twilio_webhook_client import text_from, twilio_signature
from tests.web_harness import PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN
from tests.webhook_fuzzing import ServedApp, served_app

EXAMPLES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same 1,000 cases every run: a failure is reproducible
)
FORM = "application/x-www-form-urlencoded"


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
def forged_twilio(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """A real Twilio form, then one of the ways a forger or a broken proxy changes it."""
    path = draw(st.sampled_from(["/twilio/sms", "/twilio/status"]))
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


@EXAMPLES
@given(request=forged_twilio())
def test_forged_twilio_webhooks(
    app: ServedApp, rows_before: dict[str, int], request: tuple[str, bytes, dict[str, str]]
) -> None:
    path, body, headers = request
    assert refused(app.send("POST", path, body, headers))
    assert app.rows() == rows_before
