"""Which failures of a Slack call are worth trying again on the next pass."""

from __future__ import annotations

import asyncio

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError

# Slack answered, but not now: the same call will work later.
_LATER = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})


def try_again_later(error: BaseException) -> bool:
    """True for rate limits (after the client's own Retry-After retries), Slack's own
    outages and dropped connections; False for answers that will not change
    (a channel the bot is not in, a bad token), which are logged and dropped."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status == 429 or status >= 500 or error.response.get("error") in _LATER
    return isinstance(error, ClientError | asyncio.TimeoutError | ConnectionError)
