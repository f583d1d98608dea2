"""POST /twilio/status: delivery reports move a delivery forward only, and teach the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handlers.app import create_app
from store.database import Database
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.models import Delivery, Suppression
from store.models.monitoring import MetricBucket
from tests.dispatch_harness import accepted_by_provider
from tests.twilio_webhook_client import new_sid, post_signed
from tests.web_harness import ClientFactory, app_settings


@pytest.fixture
async def sent(database: Database) -> dict[str, str]:
    """Three texts Twilio accepted: message sid → phone number."""
    return await accepted_by_provider(database, Channel.SMS, "twilio", new_sid)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, database: Database) -> TestClient[Any, Any]:
    url = database.url.render_as_string(hide_password=False)
    return await aiohttp_client(create_app(app_settings(url)))


async def report(client: TestClient[Any, Any], sid: str, status: str, code: str = "") -> None:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if code:
        params["ErrorCode"] = code
    response = await post_signed(client, "/twilio/status", params)
    assert response.status == 204


async def delivery(database: Database, sid: str) -> Delivery:
    async with database.reading() as session:
        found = await session.scalar(select(Delivery).where(Delivery.provider_message_id == sid))
        assert found is not None
        return found


async def suppressed(database: Database, address: str) -> list[SuppressionReason]:
    async with database.reading() as session:
        rows = await session.scalars(
            select(Suppression.reason).where(
                Suppression.address == address, Suppression.lifted_at.is_(None)
            )
        )
        return list(rows)


async def test_delivered_is_recorded(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    sid = next(iter(sent))
    for status in ("queued", "sending", "sent", "delivered"):
        await report(client, sid, status)
    recorded = await delivery(database, sid)
    assert recorded.status == DeliveryStatus.DELIVERED
    assert recorded.delivered_at is not None


async def test_out_of_order_and_repeated_reports_are_harmless(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    sid = next(iter(sent))
    await report(client, sid, "undelivered", "30003")
    await report(client, sid, "delivered")  # late and contradicting: ignored
    await report(client, sid, "sent")
    await report(client, sid, "undelivered", "30003")
    recorded = await delivery(database, sid)
    assert (recorded.status, recorded.error_code) == (DeliveryStatus.UNDELIVERED, "30003")
    # One 30003 is not yet a reason to stop texting the number.
    assert await suppressed(database, sent[sid]) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [("30006", SuppressionReason.INVALID), ("21610", SuppressionReason.STOP)],
)
async def test_error_codes_feed_the_ledger(
    client: TestClient[Any, Any],
    database: Database,
    sent: dict[str, str],
    code: str,
    reason: SuppressionReason,
) -> None:
    sid = next(iter(sent))
    await report(client, sid, "failed", code)
    assert (await delivery(database, sid)).status == DeliveryStatus.FAILED
    assert await suppressed(database, sent[sid]) == [reason]


async def test_a_report_for_an_unknown_message_changes_nothing(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    await report(client, new_sid(), "failed", "30006")
    for sid in sent:
        assert (await delivery(database, sid)).status == DeliveryStatus.SENT
    async with database.reading() as session:
        assert list(await session.scalars(select(Suppression))) == []


async def test_reports_that_move_a_text_become_delivered_and_undelivered_rows(
    client: TestClient[Any, Any], database: Database, sent: dict[str, str]
) -> None:
    """What the delivery-rate figures and alert rules read: once per text whose
    status moved, never for a repeat or a report that changed nothing."""
    delivered, undelivered, _ = list(sent)
    for _ in range(2):
        await report(client, delivered, "delivered")
        await report(client, undelivered, "undelivered", "30003")
    await report(client, new_sid(), "delivered")  # not ours
    await client.close()  # the app's last flush writes what it counted
    async with database.reading() as session:
        rows = {
            (row.name, row.labels): row.count
            for row in await session.scalars(
                select(MetricBucket).where(MetricBucket.name.like("messages.%"))
            )
        }
    assert rows == {
        ("messages.delivered", "channel=sms,provider=twilio"): 1,
        ("messages.undelivered", "channel=sms,provider=twilio,status=undelivered"): 1,
    }
