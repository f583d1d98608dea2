"""Signed ``/comms`` slash commands, as Slack posts them, and the time to each acknowledgement.

Slack gives an app 3 seconds to answer a slash command; the bot acknowledges
first and works after. The commands go out on a fixed schedule (an open loop:
a slow answer does not delay the next command, as it would not in Slack), and
each one's time is from its POST to the HTTP answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.deployments import SLACK_SIGNING_SECRET
from tests.fakes.slack import TEAM_ID

CHANNEL = "C_BENCH"


def signed_command(
    text: str, user: str, response_url: str, serial: int
) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "token": "unused",
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": user,
            "command": "/comms",
            "text": text,
            "trigger_id": f"trigger.{serial}",
            "response_url": response_url,
        }
    )
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SIGNING_SECRET).generate_signature(
        timestamp=stamp, body=body
    )
    assert signature is not None
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


@dataclass
class Acks:
    """Each command's time to its answer, split by whether the load was still on."""

    during: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer


class SlackCommands:
    def __init__(self, web_url: str, slack_url: str, session: aiohttp.ClientSession) -> None:
        self._url = f"{web_url}/slack/events"
        self._response_url = f"{slack_url}/commands/response"
        self._session = session
        self._serial = itertools.count(1)

    async def send(self, text: str, user: str = "U_PLANNER") -> tuple[int, float]:
        """(HTTP status, seconds to the answer); status 0 when there was none."""
        body, headers = signed_command(text, user, self._response_url, next(self._serial))
        started = time.perf_counter()
        try:
            async with self._session.post(self._url, data=body, headers=headers) as answer:
                await answer.read()
                return answer.status, time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError):
            return 0, time.perf_counter() - started

    async def schedule(
        self, texts: Sequence[str], every: float, loaded: Callable[[], bool]
    ) -> Acks:
        """Send ``texts`` one every ``every`` seconds; ``loaded()`` at each send says
        whether it counts as under load."""
        acks = Acks()
        start = asyncio.get_running_loop().time()

        async def one(n: int, text: str) -> None:
            await asyncio.sleep(max(0.0, start + n * every - asyncio.get_running_loop().time()))
            during = loaded()
            status, seconds = await self.send(text)
            acks.statuses[status] += 1
            if status == 200:
                (acks.during if during else acks.after).append(seconds)

        await asyncio.gather(*(one(n, text) for n, text in enumerate(texts)))
        return acks
