"""Texts acted on together (the group commit's batches): each has the effect it would
have alone, in the order each sender sent them; copies and forgeries have none."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from handlers.app import create_app
from handlers.guest_replies import Arrival, act_on_replies
from store.database import Database
from store.enums import Channel
from store.models import InboundMessage, Organisation, Suppression
from store.repositories.inbound import ArrivedMessage
from tests.dispatch_harness import make_guests
from tests.twilio_webhook_client import ORGANISATION_NUMBER, post_signed, text_from
from tests.web_harness import ClientFactory, app_settings

GUEST_A, GUEST_B = "+12012000001", "+12012000002"  # make_guests' guests 1 and 2
STRANGER = "+12025550123"


def arrived(sid: str, sender: str, body: str) -> ArrivedMessage:
    return ArrivedMessage(Channel.SMS, "twilio", sid, sender, ORGANISATION_NUMBER, body)


async def suppressed(database: Database) -> set[str]:
    async with database.reading() as session:
        rows = await session.scalars(
            select(Suppression.address).where(Suppression.lifted_at.is_(None))
        )
        return {address for address in rows if address is not None}


async def stored(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


async def test_a_batch_acts_in_each_senders_order_and_a_copy_has_no_effect(
    database: Database,
) -> None:
    organisation_id, *_ = await make_guests(database, 3)
    async with database.transaction() as session:
        organisation = await session.get(Organisation, organisation_id)
        outcomes = await act_on_replies(
            session,
            [
                Arrival(arrived("SM1", GUEST_A, "STOP"), organisation),
                Arrival(arrived("SM2", GUEST_B, "STOP"), organisation),
                Arrival(arrived("SM1", GUEST_A, "STOP"), organisation),  # Twilio retried
                Arrival(arrived("SM3", GUEST_A, "START"), organisation),  # after the STOP
                Arrival(arrived("SM4", STRANGER, "please stop texting me"), organisation),
                Arrival(arrived("SM5", GUEST_B, "YES"), organisation),  # opted out: a START
            ],
        )

    stop_a, stop_b, copy, start_a, stop_stranger, yes_b = outcomes
    assert stop_a.suppressed
    assert stop_b.suppressed
    assert stop_stranger.suppressed
    assert copy.duplicate
    assert not copy.suppressed
    assert start_a.lifted
    assert yes_b.lifted
    assert stop_stranger.answer is not None
    assert "unsubscribed" in stop_stranger.answer
    assert await suppressed(database) == {STRANGER}
    assert await stored(database) == 5


async def test_concurrent_webhooks_copies_and_forgeries(
    aiohttp_client: ClientFactory, database: Database
) -> None:
    await make_guests(database, 3)
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(app_settings(database.url.render_as_string(hide_password=False)))
    )
    senders = [f"+1202555{n:04d}" for n in range(12)]
    texts = [text_from(sender, "STOP") for sender in senders]
    forged = text_from("+12025559999", "STOP")

    async def forge() -> int:
        response = await client.post(
            "/twilio/sms", data=forged, headers={"X-Twilio-Signature": "bm90IHR3aWxpbw=="}
        )
        return response.status

    async def post(params: dict[str, str]) -> int:
        return (await post_signed(client, "/twilio/sms", params)).status

    statuses = await asyncio.gather(*(post(t) for t in [*texts, texts[0], texts[5]]), forge())

    assert statuses == [200] * 14 + [403]
    assert await suppressed(database) == set(senders)
    assert await stored(database) == len(texts)
