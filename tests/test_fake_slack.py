"""The Slack Web API fake, driven by the real ``slack_sdk`` client as the bot will drive it."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import BOT_TOKEN, running_slack


async def test_messages_are_recorded_and_updated_in_place() -> None:
    with running_slack() as (slack, url):
        client = AsyncWebClient(token=BOT_TOKEN, base_url=url)
        posted = await client.chat_postMessage(channel="C_WEDDING", text="Sending: 0 of 40")
        await client.chat_update(channel="C_WEDDING", ts=posted["ts"], text="Sending: 40 of 40")
        assert [m["text"] for m in slack.in_channel("C_WEDDING")] == ["Sending: 40 of 40"]
        assert [p["text"] for p in slack.payloads("chat.postMessage")] == ["Sending: 0 of 40"]
        assert len(slack.payloads("chat.update")) == 1


async def test_what_slack_refuses_the_fake_refuses() -> None:
    with running_slack() as (slack, url):
        client = AsyncWebClient(token=BOT_TOKEN, base_url=url)
        with pytest.raises(SlackApiError, match="message_not_found"):
            await client.chat_update(channel="C_WEDDING", ts="1.000001", text="?")
        stranger = AsyncWebClient(token="xoxb-not-ours", base_url=url)
        with pytest.raises(SlackApiError, match="invalid_auth"):
            await stranger.chat_postMessage(channel="C_WEDDING", text="hello")
        assert slack.messages == {}


async def test_a_rate_limit_is_waited_out_by_the_client_and_posts_once() -> None:
    with running_slack() as (slack, url):
        client = AsyncWebClient(
            token=BOT_TOKEN,
            base_url=url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        slack.rate_limit_next(1, retry_after=1)
        await client.chat_postMessage(channel="C_ALERTS", text="P1: queue backlog")
        assert [m["text"] for m in slack.in_channel("C_ALERTS")] == ["P1: queue backlog"]
        assert len(slack.payloads("chat.postMessage")) == 1
