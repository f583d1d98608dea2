"""Inbound webhooks (figure 2): signed Twilio STOP and RSVP texts against ``guestcomms serve``.

    .venv/bin/python -m bench.inbound [--seconds 20] [--connections 32]
        [--backends postgresql,sqlite] [--rsvp-share 0.5] [--quick]

One client keeps ``connections`` signed texts in flight, first against a
trivial aiohttp app that reads the form and answers empty TwiML (the
baseline, on the event loop and collector settings ``guestcomms serve`` runs
with), then against the
real ``guestcomms serve`` on each back end — a fresh database with the demo
data and ``RSVP_GUESTS`` more guests imported with ``guestcomms import`` —
and after each back end against the trivial app again: the ratio is to the
baseline's runs before and after together, so a machine whose speed drifts
(a shared VM: 11,000 requests/s of the trivial app one minute, 8,000 the
next) moves both sides of it.
The texts are a mix: STOPs, each from a number never seen before (every
25th from a demo guest), and RSVPs from the imported guests ("Yes, 2 of us"
or "Sorry, can't make it": each guest always the same answer, so the end
state is known even when a guest's texts overlap). Prints requests/s, p50
and p99 of both, their ratio (target ≥ 0.4) and guestcomms' p99 (target
< 25 ms), and checks in the database that the rows stored equal the
requests sent: one inbound message per request, one new suppression per
STOP sender, each RSVP guest's answer (exit 1 if not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import cycle, islice
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.backends import clean_environment, fresh_postgres, redis_for_bench
from bench.children import Children, guestcomms, python
from bench.inbound_facts import database_facts, demo_guest_phones
from bench.processes import (
    BenchFailed,
    cpu_seconds,
    free_ports,
    percentile_ms,
    run_main,
    run_to_end,
    serving,
    work_directory,
)
from bench.results import Figure, emit
from bench.twilio_texts import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SignedText,
    rsvp_guest_csv,
    signed_texts,
)
from bot import event_loop, heap
from store.database import Database
from tests.data_keys import DATA_KEYS_ENV, store_settings

BENCH = "inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
RATIO_TARGET = 0.4
P99_TARGET_MS = 25.0
# Every load is bounded in count as well as time. guestcomms gets each signed
# text once, and no more than this many per second of the run are signed; the
# baseline, which stores nothing, cycles through them.
UNIQUE_RATE = 8_000
BASELINE_RATE = 50_000
RSVP_GUESTS = 5_000
WARM_UP = 0.1  # of the measured time, before it, not counted
BACKENDS = {"postgresql": "PostgreSQL + Redis", "sqlite": "SQLite"}


@dataclass(slots=True)
class Load:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # timed requests only
    # The server's CPU time per request (warm-up included): unlike rates, it
    # hardly moves when other processes share the machine.
    cpu_per_request: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)  # all requests; 0: no answer
    answered: list[SignedText] = field(default_factory=list)  # answered 200

    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, p: int) -> float:
        return percentile_ms(self.latencies, p)

    def joined(self, other: Load) -> Load:
        """Both loads as one: their requests over their time together."""
        return Load(
            seconds=self.seconds + other.seconds,
            latencies=self.latencies + other.latencies,
            cpu_per_request=(self.cpu_per_request + other.cpu_per_request) / 2,
            statuses=self.statuses + other.statuses,
            answered=self.answered + other.answered,
        )


async def load(url: str, texts: Iterator[SignedText], connections: int, seconds: float) -> Load:
    """``connections`` clients posting back to back through a warm-up (which opens
    connections, pools and statement caches; not timed) and then ``seconds`` timed."""
    result = Load()
    # The load generator's collector set as the server's: its full collections
    # walked every signed text (one object each, 176,000 in a 20 s run), up to
    # 127 ms with every connection stalled, and the middle ones took 1–4 ms
    # (fewer of them now); either counted as the server's latency.
    heap.settle_after_startup()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        timed = time.perf_counter() + seconds * WARM_UP
        deadline = timed + seconds

        async def client() -> None:
            for signed in texts:  # shared iterator: each text is sent once
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                try:
                    async with session.post(
                        url, data=signed.body, headers=signed.headers
                    ) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError):
                    result.statuses[0] += 1
                    continue
                if sent >= timed:
                    result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] += 1
                if status == 200:
                    result.answered.append(signed)

        await asyncio.gather(*(client() for _ in range(connections)))
        result.seconds = time.perf_counter() - timed
    return result


async def _settle_heap(_app: web.Application) -> None:
    heap.settle_after_startup()


async def trivial_text(request: web.Request) -> web.Response:
    await request.post()
    return web.Response(text=EMPTY_TWIML, content_type="application/xml")


@dataclass
class Served:
    backend: str
    load: Load
    sent: int  # requests sent (answered or not)
    stored: int  # inbound messages added
    stop_senders: int  # distinct STOP senders answered 200
    suppressions_added: int
    rsvps_answered: int
    rsvp_mismatches: int  # answered RSVPs whose guest does not show the answer
    errors: list[str]
    all_sent: bool  # every signed text was used: the load was capped, not measured

    @property
    def stored_as_sent(self) -> bool:
        return (
            self.stored == self.sent == self.load.statuses[200]
            and self.suppressions_added == self.stop_senders
            and self.rsvp_mismatches == 0
        )


async def serve_and_load(
    backend: str,
    seconds: float,
    connections: int,
    rsvp_share: float,
    rsvp_guests: int,
    work: Path,
    children: Children,
    redis: str,
) -> Served:
    port = free_ports(1)[0]
    base_url = f"http://127.0.0.1:{port}"
    async with _database(backend, work) as url:
        env = {
            **clean_environment(),
            "DATABASE_URL": url,
            "OUTBOX_DIR": str(work / "outbox"),
            "PUBLIC_BASE_URL": base_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            # Set, so nothing is generated under var/.
            "UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret",
            "JWT_SECRET": "bench-jwt-secret-of-at-least-32-bytes",
            "BROKER_NAMESPACE": f"gcbench-inbound-{port}",
            **DATA_KEYS_ENV,  # the same personal-data keys for every process
        }
        if backend == "postgresql":
            env["REDIS_URL"] = redis
        guests_file = work / "rsvp-guests.csv"
        guests_file.write_text(rsvp_guest_csv(rsvp_guests))
        for step in (("migrate",), ("demo-data",), ("import", str(guests_file))):
            await run_to_end(children, f"{step[0]}-{backend}", guestcomms(*step), env)
        database = Database(store_settings(url))
        try:
            before = await database_facts(database)
            count = int(UNIQUE_RATE * seconds * (1 + WARM_UP))
            texts = signed_texts(
                f"{base_url}/twilio/sms",
                count,
                await demo_guest_phones(database),
                rsvp_guests,
                rsvp_share,
            )
            serve = guestcomms("serve", "--port", str(port))
            name = f"serve-{backend}"
            ready = f"{base_url}/api/health"
            async with serving(children, name, serve, env, ready) as process:
                unique = iter(texts)
                cpu = cpu_seconds(process.pid)
                served = await load(f"{base_url}/twilio/sms", unique, connections, seconds)
                served.cpu_per_request = (cpu_seconds(process.pid) - cpu) / max(
                    1, served.statuses.total()
                )
            after = await database_facts(database)
        finally:
            await database.dispose()
    stop_senders = {t.sender for t in served.answered if t.rsvp is None}
    expected = {f"SM{t.serial:032x}": t.rsvp for t in served.answered if t.rsvp is not None}
    mismatches = sum(1 for sid, want in expected.items() if after.rsvp_by_message.get(sid) != want)
    log = children.logs / f"serve-{backend}.log"
    errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
    return Served(
        backend=backend,
        load=served,
        sent=served.statuses.total(),
        stored=after.inbound - before.inbound,
        stop_senders=len(stop_senders),
        suppressions_added=len(after.suppressed - before.suppressed),
        rsvps_answered=len(expected),
        rsvp_mismatches=mismatches,
        errors=errors,
        all_sent=next(unique, None) is None,
    )


def _database(backend: str, work: Path) -> contextlib.AbstractAsyncContextManager[str]:
    if backend == "postgresql":
        return fresh_postgres("inbound")
    return _sqlite(work / "inbound.db")


@contextlib.asynccontextmanager
async def _sqlite(path: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{path}"


async def baseline_load(
    texts: Sequence[SignedText], connections: int, seconds: float, children: Children
) -> Load:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}/twilio/sms"
    trivial = python("-m", "bench.inbound", "--baseline-port", str(port))
    async with serving(children, "baseline", trivial, clean_environment(), url) as process:
        cycled = islice(cycle(texts), int(BASELINE_RATE * seconds))
        cpu = cpu_seconds(process.pid)
        result = await load(url, cycled, connections, seconds)
        result.cpu_per_request = (cpu_seconds(process.pid) - cpu) / result.statuses.total()
    return result


def figures(served: Served, baseline: Load, mix: str) -> list[Figure]:
    where = BACKENDS[served.backend]
    rate, ratio = served.load.rate(), served.load.rate() / baseline.rate()
    p99 = served.load.percentile_ms(99)
    return [
        Figure(
            BENCH,
            f"2. inbound webhooks ({mix}), requests/s, {where}",
            rate,
            "requests/s",
            f"ratio ≥ {RATIO_TARGET}",
            ratio >= RATIO_TARGET,
            baseline.rate(),
            ratio,
        ),
        Figure(BENCH, f"2. inbound p50, {where}", served.load.percentile_ms(50), "ms"),
        Figure(
            BENCH,
            f"2. inbound p99, {where}",
            p99,
            "ms",
            f"< {P99_TARGET_MS:g} ms",
            p99 < P99_TARGET_MS,
            baseline.percentile_ms(99),
        ),
        Figure(
            BENCH,
            f"2. inbound rows stored = requests sent, {where}",
            served.stored,
            "rows",
            f"= {served.sent:,} sent",
            served.stored_as_sent,
        ),
    ]


def _baseline_line(name: str, baseline: Load) -> str:
    return (
        f"{name}: {baseline.rate():.1f} requests/s, p50 {baseline.percentile_ms(50):.1f} ms, "
        f"p99 {baseline.percentile_ms(99):.1f} ms, server CPU "
        f"{baseline.cpu_per_request * 1e6:.0f} µs a request"
    )


def report(served: Served, baseline: Load, connections: int, seconds: float) -> list[str]:
    result, statuses = served.load, served.load.statuses
    ratio, p99 = result.rate() / baseline.rate(), result.percentile_ms(99)
    lines = [f"guestcomms serve on {BACKENDS[served.backend]}:"]
    lines.append(f"  {result.rate():.1f} requests/s, {connections} connections, {seconds:g} s")
    lines += [f"  p{p}: {result.percentile_ms(p):.1f} ms" for p in (50, 99)]
    lines += [
        f"  server CPU: {result.cpu_per_request * 1e6:.0f} µs a request",
        f"  ratio: {ratio:.2f} to the trivial handler's {baseline.rate():.1f} requests/s before "
        f"and after (target ≥ {RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'MISSED'})",
        f"  p99: {p99:.1f} ms (target < {P99_TARGET_MS:g} ms: "
        f"{'met' if p99 < P99_TARGET_MS else 'MISSED'})",
        f"  requests sent: {served.sent}; answers {dict(statuses)} (non-200 must be 0)",
        f"  inbound messages stored: {served.stored} for {served.sent} sent",
        f"  opt-outs stored: {served.suppressions_added} for {served.stop_senders} distinct "
        "STOP senders answered 200",
        f"  RSVPs answered: {served.rsvps_answered}; guests not showing their answer: "
        f"{served.rsvp_mismatches}",
        f"  stored as sent: {'yes' if served.stored_as_sent else 'NO'}",
    ]
    if served.errors:  # why, from the server's log, which is gone with the directory
        cause = json.loads(served.errors[-1]).get("exception", "").strip().splitlines()[-2:]
        lines.append(f"  server errors logged: {len(served.errors)}; the last: {' '.join(cause)}")
    if served.all_sent:
        lines.append("  warning: every signed text was sent: raise UNIQUE_RATE")
    return lines


async def run(args: argparse.Namespace) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(backends) - set(BACKENDS):
        raise BenchFailed(f"unknown back ends in {args.backends}; choose from {sorted(BACKENDS)}")
    mix = f"{1 - args.rsvp_share:.0%} STOP, {args.rsvp_share:.0%} RSVP"
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n"
        f"date: {date.today().isoformat()}\n"
        f"load: {args.connections} connections, {args.seconds:g} s, {mix}; each STOP from a new "
        f"number, RSVPs from {args.rsvp_guests:,} imported guests",
        flush=True,
    )
    stored = True
    with work_directory() as work, Children(work / "logs") as children:
        # The baseline's texts are signed for a URL of its own; what it reads is the same.
        sample = signed_texts(
            "http://127.0.0.1/twilio/sms", 20_000, [], args.rsvp_guests, args.rsvp_share
        )
        baseline = await baseline_load(sample, args.connections, args.seconds, children)
        print(_baseline_line("baseline (trivial aiohttp)", baseline), flush=True)
        emit(
            [
                Figure(
                    BENCH,
                    "2. baseline: trivial aiohttp handler, requests/s",
                    baseline.rate(),
                    "requests/s",
                )
            ]
        )
        with contextlib.ExitStack() as services:
            # Redis only where it is used: on SQLite the broker is in process.
            redis = (
                services.enter_context(redis_for_bench(children))
                if "postgresql" in backends
                else ""
            )
            for backend in backends:
                served = await serve_and_load(
                    backend,
                    args.seconds,
                    args.connections,
                    args.rsvp_share,
                    args.rsvp_guests,
                    work,
                    children,
                    redis,
                )
                # The baseline again, right after: a machine whose speed drifts
                # (a shared VM) moves both, and the ratio is to their mean.
                after = await baseline_load(sample, args.connections, args.seconds, children)
                print(_baseline_line("baseline again, after it", after), flush=True)
                around = baseline.joined(after)
                print("\n".join(report(served, around, args.connections, args.seconds)), flush=True)
                emit(figures(served, around, mix))
                stored = stored and served.stored_as_sent
                baseline = after
    return 0 if stored else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--rsvp-share", type=float, default=0.5)
    parser.add_argument("--rsvp-guests", type=int, default=RSVP_GUESTS)
    parser.add_argument(
        "--quick", action="store_true", help="smoke sizes: 2 s, 8 connections, 200 RSVP guests"
    )
    parser.add_argument("--baseline-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_port:  # this module is also the baseline's server process
        app = web.Application()
        app.router.add_post("/twilio/sms", trivial_text)
        # On the event loop and collector settings `guestcomms serve` runs with:
        # the ratio compares handlers.
        app.on_startup.append(_settle_heap)
        web.run_app(
            app,
            host="127.0.0.1",
            port=args.baseline_port,
            access_log=None,
            print=None,
            loop=event_loop.new_event_loop(),
        )
        return
    if not 0 <= args.rsvp_share <= 1:
        parser.error("--rsvp-share is a fraction between 0 and 1")
    if args.quick:
        args.seconds, args.connections, args.rsvp_guests = 2.0, 8, 200
    run_main(run(args))


if __name__ == "__main__":
    main()
