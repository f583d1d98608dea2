"""Per-sender pacing (issue 4): texts reach Twilio at the sender's rate, with no 429.

The Twilio fake enforces the carrier's sliding one-second window and records
when each text arrived; campaigns go through real workers on a real broker
(in-process with SQLite, Redis with PostgreSQL), time-compressed: a high rate,
few texts. Nothing here is timed against the wall clock: the fake's own
verdicts (429s) and the spacing of the arrivals it recorded are asserted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from dispatch.approval import approve_campaign
from dispatch.pacing import MemoryPacer, Pace, Pacer, RedisPacer, Turn, Turns
from dispatch.providers.base import SenderBusy
from dispatch.providers.twilio_sms import classify_twilio_error
from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import Event
from store.models.monitoring import MetricBucket
from tests.dispatch_harness import (
    APPROVER,
    Backend,
    deliveries,
    draft_for_approval,
    make_guests,
    midday_clock,
    running_dispatch,
    running_fakes,
    settings_for,
    wait_for_state,
)


class Ticking:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_pace_keeps_a_guard_under_the_carriers_rate() -> None:
    assert Pace(100, 0.02).burst == 100
    assert Pace(100, 0.02).span == pytest.approx(1.02)  # 101 texts span more than a second
    assert Pace(1, 0.02).spacing == pytest.approx(1.02)
    assert Pace(0.5, 0.0).burst == 1
    assert Pace(0.5, 0.0).span == pytest.approx(2)


async def test_the_gate_holds_a_text_that_would_make_too_many_within_the_window() -> None:
    clock = Ticking()
    pacer = MemoryPacer(clock)
    pace = Pace(3, 0.02)
    for _ in range(3):
        assert await pacer.gate("+12015550000", pace) == 0
        clock.now += 0.1
    # A fourth within 1.02 s of the first waits until then, and is not recorded.
    assert await pacer.gate("+12015550000", pace) == pytest.approx(1.02 - 0.3)
    assert await pacer.gate("+12015550000", pace) == pytest.approx(1.02 - 0.3)
    assert await pacer.gate("+12015550099", pace) == 0  # another sender has its own window
    clock.now = 1_000.0 + 1.021
    assert await pacer.gate("+12015550000", pace) == 0
    # The window slides: the next is held by the second text, not the first.
    assert await pacer.gate("+12015550000", pace) == pytest.approx(0.099)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def pacers(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Pacer, Pacer]]:
    """Two workers' pacers: the same one in memory, two Redis connections sharing keys."""
    if request.param == "memory":
        pacer = MemoryPacer()
        yield pacer, pacer
        return
    url = request.getfixturevalue("redis_url")
    namespace = f"gcpace-{uuid.uuid4().hex[:8]}"
    first, second = Redis.from_url(url), Redis.from_url(url)
    try:
        yield RedisPacer(first, namespace), RedisPacer(second, namespace)
    finally:
        keys = [key async for key in first.scan_iter(f"{namespace}*")]
        if keys:
            await first.delete(*keys)
        await first.aclose()
        await second.aclose()


async def test_workers_share_one_schedule_and_one_record_of_sends(
    pacers: tuple[Pacer, Pacer],
) -> None:
    one, other = pacers
    pace = Pace(4, 0.0)
    start = float(int(time.time()) + 100)
    slots = [
        await pacer.reserve("+12015550000", pace, start, start + 60)
        for pacer in (one, other, one, other)
    ]
    assert slots == [start, start + 0.25, start + 0.5, start + 0.75]
    # Past the deadline: nothing is taken, so the next slot is still the same.
    assert await one.reserve("+12015550000", pace, start, start + 0.9) is None
    assert await other.reserve("+12015550000", pace, start, start + 60) == start + 1
    # A slow sender (one text per 10.2 s): the second send waits, whoever asks.
    slow = Pace(0.1, 0.02)
    assert await one.gate("+12015550001", slow) == 0
    wait = await other.gate("+12015550001", slow)
    assert 0 < wait <= slow.span


async def test_a_gate_that_lets_a_text_go_can_take_the_next_slot_in_the_same_call(
    pacers: tuple[Pacer, Pacer],
) -> None:
    one, other = pacers
    pace = Pace(4, 0.0)
    start = float(int(time.time()) + 100)
    assert await one.gate_then_reserve("+12015550002", pace, start, start + 60) == (0, start)
    assert await other.reserve("+12015550002", pace, start, start + 60) == start + 0.25
    # Past the deadline: the gate still lets the text go; no slot is taken.
    assert await other.gate_then_reserve("+12015550002", pace, start, start) == (0, None)
    assert await one.reserve("+12015550002", pace, start, start + 60) == start + 0.5
    # A gate that holds the text takes nothing either.
    slow = Pace(0.1, 0.02)
    assert await one.gate("+12015550003", slow) == 0
    wait, slot = await other.gate_then_reserve("+12015550003", slow, start, start + 60)
    assert 0 < wait <= slow.span
    assert slot is None
    assert await one.reserve("+12015550003", slow, start, start + 60) == start


class Recording(MemoryPacer):
    """A pacer that notes each call, in order, with the checks the turns ask."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> float | None:
        self.calls.append("reserve")
        return await super().reserve(sender, pace, earliest, deadline)

    async def gate(self, sender: str, pace: Pace) -> float:
        self.calls.append("gate")
        return await super().gate(sender, pace)

    async def gate_then_reserve(
        self, sender: str, pace: Pace, earliest: float, deadline: float
    ) -> tuple[float, float | None]:
        self.calls.append("gate+reserve")
        wait = await MemoryPacer.gate(self, sender, pace)
        if wait > 0:
            return wait, None
        return wait, await MemoryPacer.reserve(self, sender, pace, earliest, deadline)


async def test_a_batchs_next_text_has_its_slot_from_the_last_gate_still_before_its_check() -> None:
    pacer = Recording()
    turns = Turns(pacer, "+12015550000", Pace(1_000, 0.0), texts=3)

    async def check() -> str:
        pacer.calls.append("check")
        return "cleared"

    for _ in range(3):
        assert await turns.take(time.time() + 60, check) == Turn(True, "cleared")
    # One call to the pacer a text; the last text's gate reserves nothing more.
    assert pacer.calls == [
        *("reserve", "check", "gate+reserve"),
        *("check", "gate+reserve"),
        *("check", "gate"),
    ]


async def test_a_turn_asks_the_check_and_gives_its_answer_at_the_moment_to_send() -> None:
    pacer = MemoryPacer()
    pace = Pace(1_000, 0.0)
    asked: list[str] = []

    async def clear_to(answer: str | None) -> str | None:
        asked.append(str(answer))
        return answer

    turns = Turns(pacer, "+12015550000", pace)
    assert await turns.take(time.time() + 60, lambda: clear_to("cleared")) == Turn(True, "cleared")
    # The check said no: the turn is spent, nothing is to be sent.
    assert await turns.take(time.time() + 60, lambda: clear_to(None)) == Turn(True, None)
    # No slot before the deadline: nothing taken, and the check never asked.
    assert await turns.take(time.time() - 1, lambda: clear_to("late")) == Turn(False)
    assert asked == ["cleared", "None"]


def test_a_429_is_the_senders_pace_not_a_failure() -> None:
    for status, code in ((429, "20429"), (429, None), (400, "20429")):
        error = classify_twilio_error(status, code, "Too Many Requests")
        assert isinstance(error, SenderBusy)
        assert (error.transient, error.ambiguous, error.suppress) == (True, False, None)
    assert not isinstance(classify_twilio_error(503, None, "unavailable"), SenderBusy)
    assert not isinstance(classify_twilio_error(400, "21611", "queue full"), SenderBusy)


def busiest_window(arrivals: list[float]) -> int:
    """The most arrivals within any one second, as the fake counts them."""
    most, first = 0, 0
    for last, arrived in enumerate(arrivals):
        while arrived - arrivals[first] >= 1:
            first += 1
        most = max(most, last - first + 1)
    return most


async def test_a_campaign_reaches_twilio_at_the_senders_own_rate_without_a_429(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 45)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        # The carrier's limit and our pace are the same: nothing under it but the guard,
        # wider than production's for a test machine shared with other work (at 50 ms a
        # text held up that long by a busy machine met the next fifteen inside one
        # second, and the fake answered 429).
        fakes.twilio.mps = 15
        settings = settings_for(
            backend.url,
            fakes,
            tmp_path,
            backend.redis_url,
            sms_messages_per_second=15,
            sms_pacing_guard_ms=150,
            send_concurrency=20,
        )
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert fakes.twilio.rejected_429 == 0
    assert sorted(m.to for m in fakes.twilio.messages) == sorted(
        {m.to for m in fakes.twilio.messages}
    )
    assert len(fakes.twilio.messages) == 45
    arrivals = sorted(m.created.timestamp() for m in fakes.twilio.messages)
    assert busiest_window(arrivals) <= 15
    # Every 16 texts in a row span more than the carrier's second.
    assert min(b - a for a, b in zip(arrivals, arrivals[15:], strict=False)) > 1


async def test_a_429_takes_the_next_turn_without_failing_or_opening_the_breaker(
    backend: Backend, tmp_path: Path
) -> None:
    db = backend.database
    organisation_id, wedding_id, planner, approver = await make_guests(db, 12)
    campaign_id = await draft_for_approval(
        db, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    with running_fakes() as fakes:
        # Another sender on the account took the window: eight answers are 429.
        fakes.twilio.busy_next = 8
        settings = settings_for(
            backend.url,
            fakes,
            tmp_path,
            backend.redis_url,
            sms_messages_per_second=50,
            breaker_min_calls=2,  # two failures in a row would open it
            max_attempts=1,  # a 429 spends no attempt: one is enough
        )
        async with running_dispatch(settings, midday_clock()) as run:
            await approve_campaign(run.control, campaign_id, approver, APPROVER)
            await wait_for_state(db, campaign_id, {CampaignState.COMPLETED})
    assert fakes.twilio.rejected_429 == 8
    assert fakes.twilio.requests == 12 + 8
    assert len(fakes.twilio.messages) == 12
    rows = await deliveries(db, campaign_id)
    assert {row.status for row in rows} == {DeliveryStatus.SENT}
    # Retried at the pace, not after a backoff: no error on record, one attempt each.
    assert all(row.error_code is None and row.attempts == 1 for row in rows)
    async with db.reading() as session:
        breaker_events = (
            await session.scalars(select(Event.kind).where(Event.kind.like("breaker.%")))
        ).all()
        counted = await session.scalars(
            select(MetricBucket.count).where(MetricBucket.name == "messages.rate_limited")
        )
        errors = await session.scalars(
            select(MetricBucket.count).where(MetricBucket.name == "messages.errors")
        )
        rate_limited, error_count = sum(counted), sum(errors)
    assert breaker_events == []
    assert rate_limited == 8
    assert error_count == 0
