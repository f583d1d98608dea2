"""Campaign throughput (figure 1), Slack acknowledgements under it (figure 3) and worker
memory (figure 5): a 10,000-recipient SMS + email campaign on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.campaign [--recipients 10000] [--backends sqlite,postgresql]
        [--slack-commands 200] [--naive-sample 500] [--quick]

For each back end a fresh database gets one organisation with N guests (an
email address, a phone number and SMS consent each) and an SMS + email
campaign waiting for approval. guestcomms then runs as an operator runs it
(``bench/deployments.py``: ``guestcomms dev`` on SQLite; ``guestcomms serve``
and two Dramatiq worker processes on PostgreSQL and Redis), its real
clients pointed at the fakes (``bench/fakes.py``, a process of their own):
no latency, no pacing, tier limits off. The clock starts when the
approver's signed ``/comms campaign approve N`` is posted to the web server
and stops when none of the campaign's deliveries is waiting any more.

While it runs, planners' signed slash commands (``campaign show``,
``guests count``, ``help``) go to the same web server on a fixed schedule,
and their time to the HTTP acknowledgement is taken (figure 3, target p99 <
150 ms). The workers' resident memory is read before the approval and at
the end (figure 5, target growth < 50 MB).

After the first back end, the fakes' messages are posted again straight to
them (``bench/baselines.py``): concurrently (the raw baseline, target ratio
≥ 0.5) and by a naive loop over the ``twilio`` client on a sample (target:
guestcomms ≥ 10× faster). Exit status 1 when a run lost or doubled a message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from itertools import cycle, islice
from pathlib import Path

import aiohttp

from bench import baselines
from bench.deployments import Deployment, guestcomms_env, laptop, servers
from bench.fakes import Fakes, fakes_process
from bench.processes import BenchFailed, percentile_ms, run_main
from bench.results import Figure, emit
from bench.seeding import campaign_waiting_for_approval, delivery_counts, fresh_database
from bench.services import redis_for_bench
from bench.slack_load import Acks, SlackCommands
from store.database import Database
from store.enums import Channel
from store.repositories.deliveries import WAITING

BENCH = "campaign"
BACKENDS = {"sqlite": "SQLite, laptop", "postgresql": "PostgreSQL + Redis, 2 workers"}
RATIO_TARGET = 0.5
NAIVE_TARGET = 10.0
ACK_TARGET_MS = 150.0
MEMORY_TARGET_MB = 50.0
# Spread the slash commands over the time a 10,000-recipient campaign takes at
# this conservative rate, so that most of them meet the campaign in full flow.
EXPECTED_RATE = 400.0


@dataclass
class CampaignRun:
    backend: str
    description: str
    recipients: int
    seconds: float
    texts: int
    emails: int
    statuses: dict[str, int]
    memory_growth_mb: dict[int, float]
    acks: Acks

    @property
    def rate(self) -> float:
        return self.recipients / self.seconds

    @property
    def complete(self) -> bool:
        """Each guest got one text and one email, and every delivery ended ``sent``."""
        return self.texts == self.emails == self.recipients and self.statuses == {
            "sent": 2 * self.recipients
        }


def planners_commands(campaign_id: int, count: int) -> list[str]:
    texts = [f"campaign show {campaign_id}", "guests count rsvp=pending", "help"]
    return list(islice(cycle(texts), count))


async def waiting(database: Database, campaign_id: int) -> int:
    counts = await delivery_counts(database, campaign_id)
    return sum(counts.get(status, 0) for status in WAITING)


async def run_campaign(
    backend: str,
    recipients: int,
    fakes: Fakes,
    redis_url: str | None,
    work: Path,
    commands: int,
    within: float,
) -> CampaignRun:
    async with fresh_database(backend, work) as (url, database):
        campaign = await campaign_waiting_for_approval(
            database, recipients, (Channel.EMAIL, Channel.SMS)
        )
        namespace = f"gcbench-{uuid.uuid4().hex[:8]}"
        on_postgres = backend == "postgresql"
        if on_postgres and not redis_url:
            raise BenchFailed("PostgreSQL runs with Redis, and there is none")
        env = guestcomms_env(url, redis_url if on_postgres else None, fakes, namespace)
        deployment_of = servers if on_postgres else laptop
        async with (
            deployment_of(env, work) as deployment,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        ):
            return await _measure(
                backend,
                deployment,
                database,
                campaign,
                recipients,
                fakes,
                session,
                commands,
                within,
            )


async def _measure(
    backend: str,
    deployment: Deployment,
    database: Database,
    campaign: int,
    recipients: int,
    fakes: Fakes,
    session: aiohttp.ClientSession,
    commands: int,
    within: float,
) -> CampaignRun:
    await fakes.reset()
    slack = SlackCommands(deployment.web_url, fakes.slack_url, session)
    memory_before = deployment.worker_rss_mb()
    running = True
    started = time.perf_counter()
    status, _ = await slack.send(f"campaign approve {campaign}", user="U_APPROVER")
    if status != 200:
        raise BenchFailed(f"the approval command was answered {status}")
    every = max(2.0, recipients / EXPECTED_RATE) * 0.8 / max(1, commands)
    load = asyncio.create_task(
        slack.schedule(planners_commands(campaign, commands), every, lambda: running)
    )
    try:
        expected = 2 * recipients
        while True:
            counts = await delivery_counts(database, campaign)
            if sum(counts.values()) == expected and not await waiting(database, campaign):
                break
            if time.perf_counter() - started > within:
                raise BenchFailed(f"the campaign was not over after {within:g} s: {counts}")
            await asyncio.sleep(0.1)
        seconds = time.perf_counter() - started
        running = False
        memory_after = deployment.worker_rss_mb()
        acks = await load
    finally:
        load.cancel()
    state = await fakes.state()
    return CampaignRun(
        backend=backend,
        description=deployment.description,
        recipients=recipients,
        seconds=seconds,
        texts=state.texts,
        emails=state.emails,
        statuses={str(k): v for k, v in (await delivery_counts(database, campaign)).items()},
        memory_growth_mb={
            pid: memory_after.get(pid, 0.0) - before for pid, before in memory_before.items()
        },
        acks=acks,
    )


@dataclass
class Baselines:
    recipients: int
    concurrent_seconds: float
    naive_recipients: int
    naive_seconds: float

    @property
    def concurrent_rate(self) -> float:
        return self.recipients / self.concurrent_seconds

    @property
    def naive_rate(self) -> float:
        return self.naive_recipients / self.naive_seconds


async def measure_baselines(fakes: Fakes, naive_sample: int) -> Baselines:
    received = await fakes.received()
    await fakes.reset()
    seconds = await baselines.concurrent(received, fakes)
    await fakes.reset()
    sampled, naive_seconds = await asyncio.to_thread(baselines.naive, received, fakes, naive_sample)
    await fakes.reset()
    return Baselines(len(received.texts), seconds, sampled, naive_seconds)


def figures(run: CampaignRun, base: Baselines, latency_ms: float = 0.0) -> list[Figure]:
    where = BACKENDS[run.backend]
    if latency_ms:
        where += f", Twilio answering in {latency_ms:g} ms"
    ratio = run.rate / base.concurrent_rate
    naive_ratio = run.rate / base.naive_rate
    growth = max(run.memory_growth_mb.values(), default=0.0)
    during = run.acks.during
    p99 = percentile_ms(during, 99)
    return [
        Figure(
            BENCH,
            f"1. throughput, {run.recipients:,} recipients × SMS + email, {where}",
            run.rate,
            "recipients/s",
            f"ratio ≥ {RATIO_TARGET}",
            ratio >= RATIO_TARGET,
            base.concurrent_rate,
            ratio,
        ),
        Figure(
            BENCH,
            f"1. vs a naive loop (twilio client, one at a time; {base.naive_recipients} "
            f"sampled, rate scaled), {where}",
            run.rate,
            "recipients/s",
            f"ratio ≥ {NAIVE_TARGET:g}",
            naive_ratio >= NAIVE_TARGET,
            base.naive_rate,
            naive_ratio,
        ),
        Figure(
            BENCH,
            f"1. each guest one text and one email, every delivery final, {where}",
            run.texts + run.emails,
            "messages",
            f"= {2 * run.recipients:,}",
            run.complete,
        ),
        Figure(
            BENCH,
            f"3. Slack ack p99, {len(during)} slash commands during the campaign, {where}",
            p99,
            "ms",
            f"< {ACK_TARGET_MS:g} ms",
            p99 < ACK_TARGET_MS and sum(run.acks.statuses.values()) == run.acks.statuses[200],
        ),
        Figure(
            BENCH,
            f"5. worker memory growth over the campaign (RSS, the largest of "
            f"{len(run.memory_growth_mb)}), {where}",
            growth,
            "MB",
            f"< {MEMORY_TARGET_MB:g} MB",
            growth < MEMORY_TARGET_MB,
        ),
    ]


def report(run: CampaignRun, base: Baselines) -> list[str]:
    acks = run.acks
    return [
        f"{BACKENDS[run.backend]}: {run.description}",
        f"  {run.recipients:,} recipients in {run.seconds:.1f} s: {run.rate:.1f} recipients/s "
        f"(ratio {run.rate / base.concurrent_rate:.2f} to the raw baseline, target ≥ "
        f"{RATIO_TARGET}; {run.rate / base.naive_rate:.1f}× the naive loop, target ≥ "
        f"{NAIVE_TARGET:g}×)",
        f"  the fakes received {run.texts:,} texts and {run.emails:,} emails; deliveries "
        f"{run.statuses} ({'complete' if run.complete else 'NOT COMPLETE: lost or doubled'})",
        f"  Slack acks during the campaign: {len(acks.during)}, p50 "
        f"{percentile_ms(acks.during, 50):.1f} ms, p99 {percentile_ms(acks.during, 99):.1f} ms, "
        f"max {max(acks.during, default=float('nan')) * 1000:.1f} ms (target p99 < "
        f"{ACK_TARGET_MS:g} ms); after it: {len(acks.after)}; answers {dict(acks.statuses)}",
        "  worker memory growth: "
        + ", ".join(f"{growth:.1f} MB" for growth in run.memory_growth_mb.values())
        + f" (target < {MEMORY_TARGET_MB:g} MB)",
    ]


async def run(args: argparse.Namespace) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise BenchFailed(f"unknown back ends {sorted(unknown)}; choose from {sorted(BACKENDS)}")
    within = max(120.0, args.recipients * 0.06)
    lines = [
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}",
        f"date: {date.today().isoformat()}",
        f"fakes: Twilio answers after {args.twilio_latency_ms:g} ms, SMTP at once; no pacing",
    ]
    print("\n".join(lines), flush=True)
    complete = True
    with tempfile.TemporaryDirectory(prefix="guestcomms-bench-") as tmp:
        work = Path(tmp)
        with contextlib.ExitStack() as services:
            # Redis only where it is used: the SQLite set-up has its broker in process.
            redis_url = (
                services.enter_context(redis_for_bench(work)) if "postgresql" in backends else None
            )
            async with fakes_process(work) as fakes:
                await fakes.set_twilio_latency(args.twilio_latency_ms / 1000)
                base: Baselines | None = None
                for backend in backends:
                    measured = await run_campaign(
                        backend,
                        args.recipients,
                        fakes,
                        redis_url,
                        work,
                        args.slack_commands,
                        within,
                    )
                    if base is None:
                        base = await measure_baselines(fakes, args.naive_sample)
                        print(
                            f"raw baseline (straight to the fakes, concurrent): "
                            f"{base.concurrent_seconds:.1f} s, {base.concurrent_rate:.1f} "
                            f"recipients/s\nnaive loop ({base.naive_recipients} recipients, "
                            f"one message at a time): {base.naive_seconds:.1f} s, "
                            f"{base.naive_rate:.1f} recipients/s",
                            flush=True,
                        )
                    print("\n".join(report(measured, base)), flush=True)
                    emit(figures(measured, base, args.twilio_latency_ms))
                    complete = complete and measured.complete
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--slack-commands", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument(
        "--twilio-latency-ms",
        type=float,
        default=0.0,
        help="Twilio's time to answer, for every client (default 0: the issue's no-latency fakes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke sizes: 300 recipients, 20 commands"
    )
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.slack_commands, args.naive_sample = 300, 20, 50
    raise SystemExit(run_main(run(args)))


if __name__ == "__main__":
    main()
