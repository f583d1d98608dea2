"""The opt-out check before each text: concurrent sends share queries, answers stay exact."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from dispatch.ledger_checks import LedgerChecks, ledger_checks
from store.database import Database
from store.enums import Channel, SuppressionReason
from store.models.base import utcnow
from store.repositories.suppressions import SuppressionLedger
from tests.dispatch_harness import make_guests
from tests.factories import TEST_ACTOR


async def test_concurrent_checks_share_queries_and_each_gets_its_answer(
    database: Database,
) -> None:
    organisation_id, *_ = await make_guests(database, 1)
    stopped = [f"+1202555{n:04d}" for n in range(0, 40, 4)]
    async with database.transaction() as session:
        for number in stopped:
            await SuppressionLedger(session).suppress(
                TEST_ACTOR,
                organisation_id=organisation_id,
                channel=Channel.SMS,
                address=number,
                reason=SuppressionReason.STOP,
                source="test",
            )
    queries: list[str] = []

    def count(*args: Any) -> None:
        queries.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    checks = LedgerChecks(database, organisation_id, utcnow)
    numbers = [f"+1202555{n:04d}" for n in range(40)]
    before = utcnow()
    answers = [
        answer.reason
        for answer in await asyncio.gather(*(checks.check(Channel.SMS, n) for n in numbers))
    ]
    event.remove(database.engine.sync_engine, "before_cursor_execute", count)

    assert dict(zip(numbers, answers, strict=True)) == {
        n: ("stop" if n in stopped else None) for n in numbers
    }
    lookups = [q for q in queries if "suppressions" in q]
    assert 1 <= len(lookups) < len(numbers)
    # Email is another channel: the same number's STOP does not hold an email.
    email = await checks.check(Channel.EMAIL, stopped[0])
    assert email.reason is None
    assert before <= email.asked_at <= utcnow()


async def test_a_worker_processs_batches_share_their_organisations_checks(
    database: Database,
) -> None:
    first, second = ledger_checks(database, 1, utcnow), ledger_checks(database, 1, utcnow)
    assert first is second
    assert ledger_checks(database, 2, utcnow) is not first
