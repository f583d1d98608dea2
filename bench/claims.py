"""Claims: worker processes racing to claim the same deliveries, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.claims [--quick] [--deliveries 100000] [--processes 8]

Writes ``deliveries`` pending rows of one campaign with bulk inserts, then
starts ``processes`` processes that, released at the same moment, call the
project's own claim (``DeliveryRepository.claim`` in ``Database.transaction()``,
as a batch does) in a loop over the campaign's whole id range — the widest
race there can be — until nothing in it is pending. Each records every id
it was handed. Then: ids claimed twice (target 0), ids never claimed
(target 0), and claims per second, against one process claiming a tenth as
many rows alone in the same database (the baseline). On PostgreSQL (a fresh
database, dropped afterwards: ``FOR UPDATE SKIP LOCKED``) and on a SQLite
file in WAL mode (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from bench.backends import fresh_postgres
from bench.children import Children, python, run_benchmark
from bench.results import Figure
from bench.verdict import verdict
from dispatch.settings import DispatchSettings
from store.database import Database
from store.enums import Channel, DeliveryStatus
from store.migrate import migrate
from store.models import Delivery
from store.models.base import utcnow
from store.repositories.deliveries import DeliveryRepository
from tests.data_keys import store_settings
from tests.dispatch_harness import draft_for_approval, make_guests

INSERT_CHUNK = 5_000
# Bounds: a claimer gives up after this long, and after this many failed
# transactions (SQLite's "database is locked" past its busy timeout).
CLAIMER_SECONDS = 900
MOST_ERRORS = 1_000
BASELINE_SHARE = 10  # the lone claimer takes 1/10 as many rows


@dataclass(frozen=True)
class Range:
    campaign_id: int
    first_id: int
    last_id: int
    rows: int


@dataclass
class Race:
    processes: int
    seconds: float
    claimed: Counter[int]
    transactions: int
    errors: int
    timed_out: int
    shares: list[int]  # rows each process was handed: all of them took part

    @property
    def twice(self) -> int:
        """Ids handed to more than one claim."""
        return sum(1 for count in self.claimed.values() if count > 1)

    def rate(self) -> float:
        return sum(self.claimed.values()) / self.seconds if self.seconds else 0.0


def open_database(url: str, pool: int = 5) -> Database:
    settings = store_settings(url).model_copy(update={"database_pool_size": pool})
    return Database(settings)


async def pending_range(database: Database, rows: int) -> Range:
    """A campaign with ``rows`` pending text deliveries, written with bulk inserts."""
    organisation_id, wedding_id, planner, _ = await make_guests(database, 1)
    campaign_id = await draft_for_approval(
        database, organisation_id, wedding_id, planner, channels=(Channel.SMS,)
    )
    now = utcnow()
    for start in range(0, rows, INSERT_CHUNK):
        async with database.transaction() as session:
            await session.execute(
                insert(Delivery),
                [
                    {
                        "campaign_id": campaign_id,
                        "guest_id": None,
                        "channel": Channel.SMS,
                        "address": f"+1201{300 + n // 10_000:03d}{n % 10_000:04d}",
                        "status": DeliveryStatus.PENDING,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + INSERT_CHUNK, rows))
                ],
            )
    async with database.reading() as session:
        first, last, count = (
            await session.execute(
                select(func.min(Delivery.id), func.max(Delivery.id), func.count()).where(
                    Delivery.campaign_id == campaign_id
                )
            )
        ).one()
    return Range(campaign_id, first, last, count)


def race(children: Children, url: str, span: Range, processes: int, work: Path) -> Race:
    """``processes`` claimers on ``span``, released together; what each was handed.
    (Blocking: it only waits for processes and reads their files.)"""
    work.mkdir(parents=True, exist_ok=True)
    outputs = [work / f"claimer-{n}" for n in range(processes)]
    argv = [str(span.campaign_id), str(span.first_id), str(span.last_id)]
    started = [
        children.start(
            f"claimer-{n}",
            python("-m", "bench.claims", "--claimer", url, *argv, str(out)),
            os.environ,
            stdin=subprocess.PIPE,  # "go" arrives on it
        )
        for n, out in enumerate(outputs)
    ]
    deadline = time.monotonic() + 120
    while not all(Path(f"{out}.ready").exists() for out in outputs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in started):
            raise RuntimeError(f"the claimers did not all start; see {work}/claimer-*.log")
        time.sleep(0.05)
    for process in started:  # the starting gun, as close together as it gets
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.flush()
    for process in started:
        try:
            process.wait(CLAIMER_SECONDS + 60)
        finally:
            children.kill(process)
    claimed: Counter[int] = Counter()
    transactions = errors = timed_out = 0
    began, ended, shares = [], [], []
    for out in outputs:
        summary = json.loads(Path(f"{out}.json").read_text())
        handed = [int(line) for line in out.read_text().split()]
        claimed.update(handed)
        shares.append(len(handed))
        transactions += summary["transactions"]
        errors += summary["errors"]
        timed_out += summary["timed_out"]
        began.append(summary["began"])
        ended.append(summary["ended"])
    return Race(
        processes, max(ended) - min(began), claimed, transactions, errors, timed_out, shares
    )


async def unclaimed(database: Database, span: Range) -> int:
    async with database.reading() as session:
        count = await session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == span.campaign_id,
                Delivery.status != DeliveryStatus.SENDING,
            )
        )
    return count or 0


async def on_backend(
    children: Children, label: str, url: str, deliveries: int, processes: int, work: Path
) -> list[Figure]:
    database = open_database(url)
    try:
        await migrate(database)
        started = time.monotonic()
        lone_span = await pending_range(database, max(1, deliveries // BASELINE_SHARE))
        span = await pending_range(database, deliveries)
        print(
            f"{label}: {span.rows + lone_span.rows:,} pending rows written in "
            f"{time.monotonic() - started:.1f} s"
        )
        lone = await asyncio.to_thread(race, children, url, lone_span, 1, work / f"{label}-alone")
        crowd = await asyncio.to_thread(
            race, children, url, span, processes, work / f"{label}-race"
        )
        left = await unclaimed(database, span)
    finally:
        await database.dispose()
    print(
        f"{label}: {processes} processes took {crowd.seconds:.1f} s for {span.rows:,} rows in "
        f"{crowd.transactions:,} claim transactions ({crowd.errors} failed and were retried"
        f"{f', {crowd.timed_out} claimers gave up at the time limit' if crowd.timed_out else ''}"
        f"); rows per process {min(crowd.shares):,}–{max(crowd.shares):,}"
        f"; one process alone took {lone.seconds:.1f} s for {lone_span.rows:,}"
    )
    not_handed = span.rows - len(crowd.claimed)
    bench = "claims"
    return [
        Figure(bench, f"{label}: ids claimed twice", crowd.twice, "ids", "0", crowd.twice == 0),
        Figure(
            bench,
            f"{label}: ids never claimed",
            max(left, not_handed),
            "ids",
            "0",
            left == 0 and not_handed == 0,
        ),
        Figure(
            bench,
            f"{label}: claims by {processes} processes",
            round(crowd.rate()),
            "rows/s",
            baseline=round(lone.rate()),
            ratio=crowd.rate() / lone.rate() if lone.rate() else None,
        ),
    ]


async def run(deliveries: int, processes: int, backends: list[str]) -> int:
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="guestcomms-claims-") as tmp,
        Children(Path(tmp) / "logs") as children,
    ):
        work = Path(tmp)
        for backend in backends:
            if backend == "postgresql":
                async with fresh_postgres("claims") as url:
                    figures += await on_backend(
                        children, "PostgreSQL", url, deliveries, processes, work
                    )
            else:
                url = f"sqlite+aiosqlite:///{work / 'claims.db'}"
                figures += await on_backend(children, "SQLite", url, deliveries, processes, work)
    return verdict(figures)


async def claimer(url: str, campaign_id: int, first_id: int, last_id: int, out: Path) -> None:
    """One racing process: claim as a batch does until nothing in the range is pending."""
    database = open_database(url, pool=1)
    settings = DispatchSettings()
    handed: list[int] = []
    transactions = errors = timed_out = 0
    began = ended = 0.0
    try:
        async with database.reading() as session:  # connected before the gun
            await session.execute(select(1))
        _announce_ready(out)
        await asyncio.to_thread(sys.stdin.readline)
        began = time.time()
        deadline = time.monotonic() + CLAIMER_SECONDS
        owner = f"claims:{os.getpid()}"
        while errors < MOST_ERRORS:
            if time.monotonic() > deadline:
                timed_out = 1
                break
            now = utcnow()
            try:
                async with database.transaction() as session:
                    claimed = await DeliveryRepository(session).claim(
                        campaign_id,
                        first_id,
                        last_id,
                        channels=[Channel.SMS],
                        limit=settings.batch_size,
                        owner=f"{owner}:{transactions}",
                        lease_until=now + timedelta(minutes=30),
                        now=now,
                    )
            except DBAPIError:  # SQLite's lock past its busy timeout: nothing was claimed
                errors += 1
                continue
            transactions += 1
            if claimed:
                handed.extend(item.id for item in claimed)
                continue
            # Nothing claimable: finished, unless rows are pending that other
            # claimers held locked a moment ago (SKIP LOCKED passed them by).
            async with database.reading() as session:
                due = await DeliveryRepository(session).count_due(
                    campaign_id, first_id, last_id, [Channel.SMS], now
                )
            if due == 0:
                break
            await asyncio.sleep(0.01)
        ended = time.time()
    finally:
        await database.dispose()
    summary = {
        "transactions": transactions,
        "errors": errors,
        "timed_out": timed_out,
        "began": began,
        "ended": ended,
    }
    _write_results(out, handed, summary)


def _announce_ready(out: Path) -> None:
    Path(f"{out}.ready").touch()


def _write_results(out: Path, handed: list[int], summary: dict[str, float]) -> None:
    out.write_text("".join(f"{n}\n" for n in handed))
    Path(f"{out}.json").write_text(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 deliveries")
    parser.add_argument("--deliveries", type=int, help="default 100,000 (10,000 with --quick)")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--backend", choices=("both", "postgresql", "sqlite"), default="both")
    parser.add_argument("--claimer", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.claimer:  # this module is also each racing process
        url, campaign, first, last, out = args.claimer
        asyncio.run(claimer(url, int(campaign), int(first), int(last), Path(out)))
        return
    deliveries = (
        args.deliveries if args.deliveries is not None else (10_000 if args.quick else 100_000)
    )
    if deliveries < 1 or args.processes < 1:
        parser.error("--deliveries and --processes must each be at least 1")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    run_benchmark(run(deliveries, args.processes, backends))


if __name__ == "__main__":
    main()
