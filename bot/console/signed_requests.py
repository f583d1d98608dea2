"""The requests Slack and Twilio would send, signed with the app's own secrets."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Signed:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class SlackSigner:
    signing_secret: str
    team_id: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _signed(self, body: str, content_type: str) -> Signed:
        stamp = str(int(time.time()))
        signature = SignatureVerifier(self.signing_secret).generate_signature(
            timestamp=stamp, body=body
        )
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(signature),
        }
        return Signed("/slack/events", body.encode(), headers)

    def command(self, text: str, user: str, channel: str) -> Signed:
        body = {
            "team_id": self.team_id,
            "channel_id": channel,
            "user_id": user,
            "command": "/comms",
            "text": text,
            "trigger_id": f"console.{next(self._ids)}",
        }
        return self._signed(urlencode(body), FORM)

    def message(self, text: str, user: str, channel: str, thread_ts: str | None) -> Signed:
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel",
            "ts": f"{int(time.time())}.{next(self._ids):06d}",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        envelope = {
            "type": "event_callback",
            "team_id": self.team_id,
            "event_id": f"EvConsole{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": event,
        }
        return self._signed(json.dumps(envelope), "application/json")

    def interaction(self, payload: dict[str, Any]) -> Signed:
        payload = {
            "team": {"id": self.team_id},
            "trigger_id": f"console.{next(self._ids)}",
            **payload,
        }
        return self._signed(urlencode({"payload": json.dumps(payload)}), FORM)


def twilio_text(
    auth_token: str, public_base_url: str, sender: str, to: str, body: str, sid: str
) -> Signed:
    """A guest's text as Twilio posts it to ``/twilio/sms``."""
    params = {
        "MessageSid": sid,
        "AccountSid": "AC" + "c0" * 16,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(auth_token).compute_signature(
        public_base_url + "/twilio/sms", params
    )
    return Signed(
        "/twilio/sms",
        urlencode(params).encode(),
        {"Content-Type": FORM, "X-Twilio-Signature": signature},
    )
