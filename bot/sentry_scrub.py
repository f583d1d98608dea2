"""What leaves for Sentry: an error's shape without guests' personal data.

``send_default_pii=False`` keeps sentry-sdk from adding users, cookies and IP
addresses; this ``before_send`` goes further, because our errors carry
guests' data by their nature: request bodies are webhooks (an SMS's text, a
reply email), and exception messages and log lines name addresses. So:
request bodies, cookies and all headers but a few go; local variables in
frames go; any field named like a message body goes; and every other string
left has its phone numbers, email addresses and link tokens replaced.
"""

from __future__ import annotations

from typing import Any

from handlers.redaction import redact

REMOVED = "[removed]"
# Headers that say what a request was without saying who sent it.
_KEPT_HEADERS = frozenset({"content-type", "content-length", "user-agent", "x-request-id"})
# Keys whose values are a message's words, wherever they appear.
_BODY_KEYS = frozenset(
    {"body", "text", "html", "message_body", "email_text", "email_html", "sms_text", "data"}
)


def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "env"):
            if key in request:
                request[key] = REMOVED
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value for name, value in headers.items() if name.lower() in _KEPT_HEADERS
            }
    event.pop("user", None)
    for exception in _values(event.get("exception")):
        for frame in _values(exception.get("stacktrace", {}).get("frames")):
            frame.pop("vars", None)
    for thread in _values(event.get("threads")):
        for frame in _values((thread.get("stacktrace") or {}).get("frames")):
            frame.pop("vars", None)
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = _scrub(crumb)
    return scrubbed


def _values(container: Any) -> list[dict[str, Any]]:
    """Sentry keeps lists either bare or as ``{"values": [...]}``."""
    if isinstance(container, dict):
        container = container.get("values")
    return [item for item in container or [] if isinstance(item, dict)]


def _scrub(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return REMOVED if key.lower() in _BODY_KEYS else redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, key) for item in value]
    return value
