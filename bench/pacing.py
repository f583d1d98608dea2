"""Pacing (figure 4): texts at the sender's rate, against a Twilio fake that enforces it.

    .venv/bin/python -m bench.pacing [--rates 1,3,100] [--seconds 40] [--quick]

For each rate (1, 3 and 100 messages a second: a long code, a toll-free
number, a short code) the Twilio fake answers 429 (error 20429) to any text
that would make more than that many from one sender within a second, and
guestcomms runs with SMS_MESSAGES_PER_SECOND at the same rate: ``guestcomms
serve`` and two Dramatiq worker processes on PostgreSQL and Redis, so the
two workers share one pace through Redis. An SMS campaign to ``rate ×
seconds`` guests (time-compressed: 40 texts at 1/s rather than a real
campaign's thousands, which would take hours) is approved with a signed
Slack command; the achieved rate is (texts − 1) / (last arrival − first
arrival) at the fake. Target: within ±5 % of the rate, and no 429 at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp

from bench.backends import SENDER, redis_for_bench
from bench.children import Children
from bench.deployments import operator_env, servers
from bench.fakes import Fakes, fakes_process
from bench.processes import BenchFailed, run_main, work_directory
from bench.results import Figure, emit
from bench.seeding import campaign_waiting_for_approval, delivery_counts, fresh_database
from bench.slack_load import SlackCommands
from store.enums import Channel
from store.repositories.deliveries import WAITING

BENCH = "pacing"
TOLERANCE = 0.05
SECONDS = 40.0


@dataclass(frozen=True, slots=True)
class Paced:
    rate: float  # what the fake enforces, and what the achieved rate is held to
    margin: float  # guestcomms paced this much under it (0: at the rate itself)
    texts: int  # the campaign's recipients
    arrivals: list[float]  # epoch seconds of the texts the fake accepted from our sender
    rejected_429: int
    statuses: dict[str, int]

    @property
    def achieved(self) -> float:
        if len(self.arrivals) < 2:
            return float("nan")
        return (len(self.arrivals) - 1) / (self.arrivals[-1] - self.arrivals[0])

    @property
    def error(self) -> float:
        return self.achieved / self.rate - 1

    @property
    def finished(self) -> bool:
        """Every delivery final before the time limit (retries after 429s included)."""
        waiting = any(status in WAITING for status in self.statuses)
        return sum(self.statuses.values()) == self.texts and not waiting

    def busiest_second(self) -> int:
        """The most texts that arrived within any one second (the fake's own window)."""
        most, first = 0, 0
        for last, arrived in enumerate(self.arrivals):
            while arrived - self.arrivals[first] >= 1:
                first += 1
            most = max(most, last - first + 1)
        return most

    @property
    def complete(self) -> bool:
        """Every text sent, and sent once (retries after a 429 included)."""
        return len(self.arrivals) == self.texts and self.statuses == {"sent": self.texts}

    @property
    def passed(self) -> bool:
        return abs(self.error) <= TOLERANCE and self.rejected_429 == 0 and self.complete


async def paced_campaign(
    rate: float,
    texts: int,
    fakes: Fakes,
    redis_url: str,
    work: Path,
    children: Children,
    margin: float = 0.0,
) -> Paced:
    """``margin``: guestcomms paces that much under the rate the fake enforces."""
    async with fresh_database("postgresql", work) as (url, database):
        campaign = await campaign_waiting_for_approval(database, texts, (Channel.SMS,))
        env = operator_env(
            url,
            redis_url,
            fakes,
            f"gcbench-pace-{uuid.uuid4().hex[:8]}",
            work,
            sms_per_second=rate * (1 - margin),
        )
        async with (
            servers(env, children) as deployment,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        ):
            await fakes.reset()
            await fakes.set_twilio_mps(rate)
            slack = SlackCommands(deployment.web_url, fakes.slack_url, session)
            status, _ = await slack.send(f"campaign approve {campaign}", user="U_APPROVER")
            if status != 200:
                raise BenchFailed(f"the approval command was answered {status}")
            # Bounded: twice the paced time, and a minute for the approval and the stragglers.
            deadline = time.monotonic() + 2 * texts / rate + 60
            while True:
                counts = await delivery_counts(database, campaign)
                if sum(counts.values()) == texts and not any(counts.get(s) for s in WAITING):
                    break
                if time.monotonic() > deadline:  # a figure that says so, not the end
                    print(f"  {texts} texts at {rate:g}/s not over in time: {counts}")
                    break
                await asyncio.sleep(0.2)
            state = await fakes.state(arrivals=True)
            await fakes.set_twilio_mps(None)
    return Paced(
        rate,
        margin,
        texts,
        sorted(state.arrivals.get(SENDER, [])),
        state.rejected_429,
        {str(k): v for k, v in counts.items()},
    )


def figure(paced: Paced) -> Figure:
    paced_at = f", paced {paced.margin:.0%} under it" if paced.margin else ""
    return Figure(
        BENCH,
        f"4. pacing at {paced.rate:g}/s per sender ({paced.texts:,} texts; the fake enforces "
        f"{paced.rate:g}/s{paced_at}), achieved rate; 429s: {paced.rejected_429}"
        f"{'' if paced.finished else ' — NOT OVER in time'}",
        paced.achieved,
        "texts/s",
        f"±{TOLERANCE:.0%} of {paced.rate:g}, no 429",
        paced.passed,
        paced.rate,
        paced.achieved / paced.rate,
    )


def report(paced: Paced) -> str:
    return (
        f"{paced.rate:g}/s{f' (paced {paced.margin:.0%} under)' if paced.margin else ''}: "
        f"{paced.texts} texts, {len(paced.arrivals)} arrived over "
        f"{paced.arrivals[-1] - paced.arrivals[0] if paced.arrivals else 0:.1f} s: "
        f"{paced.achieved:.3f}/s ({paced.error:+.1%}; target ±{TOLERANCE:.0%}), "
        f"busiest second {paced.busiest_second()}, 429s from the fake: {paced.rejected_429} "
        f"(must be 0); deliveries {paced.statuses}: {'pass' if paced.passed else 'MISSED'}"
    )


async def run(rates: list[float], seconds: float, margin: float) -> int:
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n"
        f"date: {date.today().isoformat()}\n"
        f"guestcomms serve + 2 Dramatiq workers × 8 threads on PostgreSQL and Redis; "
        f"{seconds:g} s of texts per rate",
        flush=True,
    )
    complete = True
    with (
        work_directory() as work,
        Children(work / "logs") as children,
        redis_for_bench(children) as redis_url,
    ):
        async with fakes_process(children) as fakes:
            for rate in rates:
                texts = max(2, round(rate * seconds))
                paced = await paced_campaign(rate, texts, fakes, redis_url, work, children, margin)
                print(report(paced), flush=True)
                emit([figure(paced)])
                # Not over in time is a missed figure; over, with a text lost or
                # doubled, is a failure.
                complete = complete and (paced.complete or not paced.finished)
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1,3,100", help="messages per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="of texts at each rate")
    parser.add_argument(
        "--pace-margin",
        type=float,
        default=0.0,
        help="pace this fraction under the enforced rate (e.g. 0.03); default 0: at it",
    )
    parser.add_argument("--quick", action="store_true", help="smoke size: 5 s at each rate")
    args = parser.parse_args()
    try:
        rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    except ValueError:
        parser.error(f"--rates: {args.rates!r} is not a list of numbers")
    if not rates or min(rates) <= 0:
        parser.error("--rates: give at least one rate above 0")
    seconds = 5.0 if args.quick else args.seconds
    if not 0 <= args.pace_margin < 0.5:
        parser.error("--pace-margin: a fraction from 0 to 0.5")
    run_main(run(rates, seconds, args.pace_margin))


if __name__ == "__main__":
    main()
