"""Group commit: callers share transactions, hear back only after commit, and a
failure never commits part of a batch nor sinks the callers that did nothing wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool
from structlog.testing import capture_logs

from store import group_commit
from store.database import Database
from store.group_commit import GroupCommit
from store.models import Event

POISON = "poison"


class Recorder:
    """An ``apply`` that stores one event per item, then refuses a batch holding poison."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.batches: list[list[str]] = []
        self.visible_after_commit: list[bool] = []

    async def apply(self, session: AsyncSession, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        await session.execute(insert(Event), [{"kind": item, "payload": {}} for item in items])
        if POISON in items:  # after its writes: a partial batch would be visible
            raise ValueError("this item cannot be stored")
        return [item.upper() for item in items]


async def kinds(database: Database) -> list[str]:
    async with database.reading() as session:
        return sorted(await session.scalars(select(Event.kind)))


async def test_concurrent_callers_share_a_transaction_and_get_their_own_result(
    database: Database,
) -> None:
    recorder = Recorder(database)
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply)
    items = [f"item-{n}" for n in range(20)]

    results = await asyncio.gather(*(commits.submit(item) for item in items))

    assert results == [item.upper() for item in items]
    assert sorted(item for batch in recorder.batches for item in batch) == sorted(items)
    # The first caller starts the writer alone; the others, arriving meanwhile, share.
    assert commits.batches == len(recorder.batches) < len(items)
    assert await kinds(database) == sorted(items)


async def test_an_answer_comes_only_after_its_commit(database: Database) -> None:
    commits: GroupCommit[str, str] = GroupCommit(database, Recorder(database).apply)

    async def submit_then_look(item: str) -> bool:
        await commits.submit(item)
        return item in await kinds(database)  # another session: only committed rows

    assert all(await asyncio.gather(*(submit_then_look(f"look-{n}") for n in range(8))))


async def test_a_failing_item_fails_alone_and_its_batch_commits_nothing_of_it(
    database: Database,
) -> None:
    recorder = Recorder(database)
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply)
    first = asyncio.ensure_future(commits.submit("first"))  # starts the writer
    await asyncio.sleep(0)
    # Arriving a turn later, they join "first"'s batch (it waits while items keep
    # coming) or, where its commit gives way to the loop, form the next one.
    items = ["a", POISON, "b", "c"]

    with capture_logs() as logs:
        results = await asyncio.gather(
            *(commits.submit(item) for item in items), return_exceptions=True
        )

    assert await first == "FIRST"
    assert results[0] == "A"
    assert results[2:] == ["B", "C"]
    assert isinstance(results[1], ValueError)
    assert [log["log_level"] for log in logs] == ["warning", "error"]  # the batch, the item
    # Tried together, then each alone.
    assert any(batch[-len(items) :] == items for batch in recorder.batches)
    # Each good item stored once; nothing of the poison, nor of the batch that held it.
    assert await kinds(database) == ["a", "b", "c", "first"]


async def test_when_nothing_can_be_stored_every_caller_hears_so(database: Database) -> None:
    async def broken(session: AsyncSession, items: Sequence[str]) -> list[str]:
        await session.execute(insert(Event), [{"kind": item, "payload": {}} for item in items])
        raise ConnectionError("the database went away")

    commits: GroupCommit[str, str] = GroupCommit(database, broken)

    with capture_logs() as logs:
        results = await asyncio.gather(
            *(commits.submit(f"lost-{n}") for n in range(6)), return_exceptions=True
        )

    assert all(isinstance(result, ConnectionError) for result in results)
    assert sum(log["log_level"] == "error" for log in logs) == 6
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def test_a_caller_that_goes_away_does_not_undo_its_write(database: Database) -> None:
    commits: GroupCommit[str, str] = GroupCommit(database, Recorder(database).apply)
    gone = asyncio.ensure_future(commits.submit("gone"))
    await asyncio.sleep(0)
    gone.cancel()  # a client that disconnected: its text was accepted all the same
    with pytest.raises(asyncio.CancelledError):
        await gone

    assert await commits.submit("after") == "AFTER"
    assert await kinds(database) == ["after", "gone"]


async def test_items_arriving_in_the_next_turns_of_the_loop_share_a_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Turns that each bring an item keep the batch open however long they take
    # (a busy machine's turns can outlast the usual bound).
    monkeypatch.setattr(group_commit, "MOST_WAIT_SECONDS", 30.0)
    recorder = Recorder(database)
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply)

    async def turns_later(item: str, turns: int) -> str:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await commits.submit(item)

    # The writer waits while each turn brings more (as requests read meanwhile do).
    results = await asyncio.gather(commits.submit("x"), turns_later("y", 1), turns_later("z", 2))

    assert list(results) == ["X", "Y", "Z"]
    assert recorder.batches == [["x", "y", "z"]]


def _wait_bounds(monkeypatch: pytest.MonkeyPatch, *, gap: float, most: float) -> None:
    """How long a batch waits for more items: since the last, and in all."""
    monkeypatch.setattr(group_commit, "ARRIVAL_GAP_SECONDS", gap)
    monkeypatch.setattr(group_commit, "MOST_WAIT_SECONDS", most)


async def test_an_item_arriving_within_the_gap_joins_the_batch_though_turns_brought_none(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As texts do under load: the other side sends each after reading its answer.
    _wait_bounds(monkeypatch, gap=5.0, most=30.0)
    recorder = Recorder(database)
    # Full at two: the batch closes as "y" joins, without waiting out the gap.
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply, most_per_batch=2)

    async def later(item: str) -> str:
        await asyncio.sleep(0.05)  # many turns of the loop without an item
        return await commits.submit(item)

    results = await asyncio.gather(commits.submit("x"), later("y"))

    assert list(results) == ["X", "Y"]
    assert recorder.batches == [["x", "y"]]


async def test_a_batch_waits_for_more_items_only_so_long(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Items that never pause for the gap: the first batch still closes at the bound.
    _wait_bounds(monkeypatch, gap=30.0, most=0.05)
    recorder = Recorder(database)
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply)
    trickled: list[asyncio.Future[str]] = []
    sent_when_first_answered: list[int] = []
    for n in range(100):  # an item every 5 ms for half a second
        trickled.append(asyncio.ensure_future(commits.submit(f"t{n}")))
        if n == 0:
            trickled[0].add_done_callback(lambda _: sent_when_first_answered.append(len(trickled)))
        await asyncio.sleep(0.005)

    assert await asyncio.gather(*trickled) == [f"T{n}" for n in range(100)]
    # Answered while the items kept coming, in a batch of only some of them.
    assert sent_when_first_answered
    assert sent_when_first_answered[0] < 100
    assert len(recorder.batches[0]) < 100
    assert len(recorder.batches) > 1


async def test_the_writer_keeps_its_connection_between_batches_and_hands_it_back_idle(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A linger no stall of a busy machine outlasts between the two items below.
    monkeypatch.setattr(group_commit, "LINGER_SECONDS", 2.0)
    database = sqlite_database
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    recorder = Recorder(database)
    commits: GroupCommit[str, str] = GroupCommit(database, recorder.apply)

    assert await commits.submit("first") == "FIRST"
    writer = commits._writer
    # Answered, and the writer lingers with its connection for the next item...
    assert pool.checkedout() == 1
    await asyncio.sleep(0.05)
    assert await commits.submit("second") == "SECOND"
    assert commits._writer is writer  # ...which the same writer wrote.
    assert recorder.batches == [["first"], ["second"]]

    assert writer is not None
    await asyncio.wait_for(writer, 10)  # then, idle, it ends and hands the connection back
    assert pool.checkedout() == 0
    assert await commits.submit("third") == "THIRD"  # a new writer, on demand
    assert await kinds(database) == ["first", "second", "third"]
