"""STOP during a live send: guests opt out while their campaign's texts go out.

    .venv/bin/python -m bench.stop_during_send [--quick] [--recipients 10000] [--stops 500]

A text campaign to ``recipients`` guests goes out through real worker
processes on PostgreSQL and the benchmark's own Redis, to the Twilio fake.
While it does, ``stops`` of those guests (spread evenly over the list, in
random order) text STOP: signed Twilio webhooks to ``guestcomms serve``,
released in step with the send (the i-th once the fake holds i/stops of
80 % of the texts), eight in flight at most. The time each STOP's answer
arrived is noted; so is the time each text reached the fake. Both are
read in this process with one clock (wall time: ``time.time()`` and
``datetime.now(UTC)``; the workers and the web server stamp with the same
system clock), so "after the answer" is a plain comparison.

A text can reach the fake after its STOP was answered and still be right:
its opt-out check ran before the STOP committed, and its request was on the
way. The project records the time of neither, so the workers run as
``bench.observed_worker`` (``bot.worker`` plus a note of every ledger read)
and the web server as ``bench.observed_web`` (the CLI plus a note of when
each opt-out's transaction began to commit and when the commit returned);
see there. Each text that reached the fake after its STOP's answer is:

* in flight, checked before the commit: its last opt-out check had returned
  before the STOP's COMMIT began — it could not have seen the STOP;
* in flight, checked during the commit: the check and the COMMIT overlapped
  (which came first cannot be told from outside);
* sent after the STOP was final: its last check began after the COMMIT had
  returned (so it must have seen the STOP), or no check of it was seen — the
  figure, target 0. This is stricter than "claimed after the STOP's
  answer" (DESIGN.md): the commit returns before the answer leaves.

Without the web server's record of a commit, the STOP's ledger row's
``created_at`` and its answer stand for the commit's start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench.backends import SENDER
from bench.children import PROJECT, Children, python
from bench.live_campaign import LiveCampaign, live_campaign, phone
from bench.processes import BenchFailed, run_main
from bench.results import Figure
from bench.verdict import verdict
from store.enums import Channel, DeliveryStatus
from store.models import Suppression
from store.repositories.suppressions import address_hash
from tests.fakes.smtp import free_port
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeMessage

BENCH = "stop_during_send"
SETTINGS = {
    "SMS_MESSAGES_PER_SECOND": "1000000",  # the machinery, not a carrier's pace
    "LEASE_SECONDS": "30",
    "LEASE_MARGIN_SECONDS": "15",
    "PROVIDER_TIMEOUT_SECONDS": "15",
}
IN_FLIGHT = 8
RELEASED_OVER = 0.8  # of the texts: every STOP is posted before the send is over
SETTLE_WITHIN = 600.0


@dataclass(frozen=True)
class Span:
    start: float
    end: float


@dataclass
class Stop:
    number: str
    posted: float = 0.0
    answered: float = 0.0
    status: int = 0


@dataclass
class Findings:
    late_in_flight: list[str] = field(default_factory=list)
    late_overlapping: list[str] = field(default_factory=list)
    late_after_final: list[str] = field(default_factory=list)


def signed_stop(url: str, number: str, n: int) -> tuple[bytes, dict[str, str]]:
    form = {
        "MessageSid": f"SM{n:032x}",
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "To": SENDER,
        "Body": "STOP",
        "NumMedia": "0",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return urlencode(form).encode(), headers


async def until_serving(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):  # a minute at most
            try:
                async with session.get(f"{base_url}/api/health"):
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise RuntimeError("guestcomms serve never answered; see its log")


async def post_stops(live: LiveCampaign, url: str, stops: list[Stop]) -> None:
    """Each STOP once the send has gone far enough; eight in flight at most."""
    limit = asyncio.Semaphore(IN_FLIGHT)
    step = RELEASED_OVER * live.recipients / len(stops)
    give_up = time.monotonic() + SETTLE_WITHIN

    async def post(session: aiohttp.ClientSession, n: int, stop: Stop) -> None:
        # Bounded: a send that stalls gets its STOPs all the same.
        while time.monotonic() < give_up:
            if len(live.fakes.twilio.messages) >= n * step:
                break
            await asyncio.sleep(0.01)
        body, headers = signed_stop(url, stop.number, n)
        async with limit:
            stop.posted = time.time()
            try:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    stop.status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                stop.status = 0
            stop.answered = time.time()

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(post(session, n, stop) for n, stop in enumerate(stops)))


def read_spans(
    directory: Path, pattern: str, numbers_of: Mapping[str, str] | None = None
) -> dict[str, list[Span]]:
    """The observers' records (``checks-*`` of the workers, ``commits-*`` of the web
    server): for each number, when something about it ran. ``numbers_of`` turns the
    ledger's keyed hashes, which the workers' checks ask about, back into numbers."""
    numbers_of = numbers_of or {}
    spans: dict[str, list[Span]] = {}
    for path in directory.glob(pattern):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the end of its process
            span = Span(record["start"], record["end"])
            for number in record["numbers"]:
                spans.setdefault(numbers_of.get(number, number), []).append(span)
    return spans


async def ledger_written(live: LiveCampaign, numbers: list[str]) -> dict[str, float]:
    """When each number's opt-out row was written (just before its commit)."""
    async with live.database.reading() as session:
        rows = await session.execute(
            select(Suppression.address, Suppression.created_at).where(
                Suppression.channel == Channel.SMS,
                Suppression.address.in_(numbers),
                Suppression.lifted_at.is_(None),
            )
        )
        return {address: created.timestamp() for address, created in rows if address is not None}


def hashed_numbers(live: LiveCampaign, recipients: int) -> dict[str, str]:
    """Each guest's number by the ledger's keyed hash of it (what a check asks about)."""
    keyring = live.database.keyring
    numbers = (phone(n) for n in range(recipients))
    return {address_hash(keyring, Channel.SMS, number): number for number in numbers}


def judge(
    texts: Sequence[FakeMessage],
    stops: Sequence[Stop],
    commits: dict[str, list[Span]],
    written: dict[str, float],
    checks: dict[str, list[Span]],
) -> Findings:
    """Sort the texts that reached Twilio after their STOP was answered by when their
    last opt-out check ran against when the STOP committed (where the web server's
    observer saw the commit; else between its ledger row's writing and its answer)."""
    findings = Findings()
    answered = {s.number: s for s in stops if s.status == 200}
    for message in texts:
        stop = answered.get(message.to)
        arrived = message.created.timestamp()
        if stop is None or arrived <= stop.answered:
            continue
        before = [c for c in checks.get(message.to, []) if c.end <= arrived]
        last = max(before, key=lambda c: c.end) if before else None
        seen = commits.get(message.to)
        commit = (
            min(seen, key=lambda c: c.start)
            if seen
            else Span(written.get(message.to, float("-inf")), stop.answered)
        )

        def ms(moment: float, answer: float = stop.answered) -> str:
            return f"{(moment - answer) * 1000:+.0f}"

        note = (
            f"{message.to}: text at {ms(arrived)} ms from the answer; STOP committed "
            f"{ms(commit.start)}…{ms(commit.end)} ms; "
            + (f"last check {ms(last.start)}…{ms(last.end)} ms" if last else "no check seen")
        )
        if last is None or last.start > commit.end:
            findings.late_after_final.append(note)
        elif last.end < commit.start:
            findings.late_in_flight.append(note)
        else:
            findings.late_overlapping.append(note)
    return findings


async def run(recipients: int, stop_count: int, workers: int, threads: int) -> int:
    logs = PROJECT / "var" / "bench" / BENCH
    shutil.rmtree(logs, ignore_errors=True)
    checks_dir = logs / "checks"
    checks_dir.mkdir(parents=True)
    chance = random.Random(500)
    spacing = max(1, recipients // stop_count)
    stops = [Stop(phone(n)) for n in range(spacing // 2, recipients, spacing)][:stop_count]
    chance.shuffle(stops)
    print(
        f"STOP during a live send: {recipients:,} texts, {workers} workers × {threads} threads; "
        f"{len(stops)} STOPs posted during the send, {IN_FLIGHT} in flight at most"
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with Children(logs) as children:
        async with live_campaign(
            BENCH,
            children,
            logs,
            recipients=recipients,
            channels=(Channel.SMS,),
            workers=workers,
            threads=threads,
            settings={**SETTINGS, "BENCH_CHECKS_DIR": str(checks_dir)},
            worker_module="bench.observed_worker",
        ) as live:
            web = python("-m", "bench.observed_web", "serve", "--port", str(port))
            children.start("web", web, {**live.fleet.env, "PUBLIC_BASE_URL": base_url})
            await until_serving(base_url)
            started = time.monotonic()
            await live.approve()
            await post_stops(live, f"{base_url}/twilio/sms", stops)
            posted = time.monotonic()
            settled = await live.until_final(SETTLE_WITHIN)
            ended = time.monotonic()
            statuses = await live.statuses()
            numbers = [s.number for s in stops]
            written = await ledger_written(live, numbers)
            held_back = sum(
                1
                for row in await live.rows()
                if row.address in written and row.status == DeliveryStatus.SUPPRESSED
            )
    texts = Counter(m.to for m in live.fakes.twilio.messages)
    commits = read_spans(checks_dir, "commits-*.jsonl")
    if written and not commits:
        # Without them every STOP's commit would stretch to its answer, and a check
        # that began between the two would pass for one made before the commit.
        raise BenchFailed(
            "the web server's observer (bench.observed_web) saw no opt-out commit: "
            "it no longer sees how the STOP path writes the ledger"
        )
    findings = judge(
        list(live.fakes.twilio.messages),
        stops,
        commits,
        written,
        read_spans(checks_dir, "checks-*.jsonl", hashed_numbers(live, recipients)),
    )
    answers = Counter(s.status for s in stops)
    latencies = sorted(s.answered - s.posted for s in stops if s.status == 200)
    others = [phone(n) for n in range(recipients) if phone(n) not in set(numbers)]
    print(
        f"send: {ended - started:.1f} s from approval to all final "
        f"({'settled' if settled is not None else 'NOT settled'}); STOPs all posted "
        f"{posted - started:.1f} s in; answers {dict(answers)}, p50 "
        f"{latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        if latencies
        else "no STOP was answered 200"
    )
    print(f"deliveries by status: {dict(statuses)}; texts held back by a STOP: {held_back}")
    print(
        f"other guests: {sum(1 for n in others if texts[n] == 1):,} got one text, "
        f"{sum(1 for n in others if texts[n] > 1)} more than one, "
        f"{sum(1 for n in others if texts[n] == 0)} none"
    )
    for label, notes in (
        ("in flight, checked before the STOP committed", findings.late_in_flight),
        ("in flight, checked while the STOP committed", findings.late_overlapping),
        ("SENT AFTER THE OPT-OUT WAS FINAL", findings.late_after_final),
    ):
        for note in notes[:5]:
            print(f"  {label}: {note}")
    late = len(findings.late_in_flight) + len(findings.late_overlapping)
    unanswered = len(stops) - answers[200]
    not_in_ledger = sum(1 for s in stops if s.status == 200 and s.number not in written)
    return verdict(
        [
            Figure(
                BENCH,
                "texts sent after their STOP (opt-out check began after it committed)",
                len(findings.late_after_final),
                "texts",
                "0",
                not findings.late_after_final,
            ),
            Figure(
                BENCH,
                f"texts in flight when their STOP committed, reaching Twilio after the answer "
                f"({len(findings.late_in_flight)} checked before its commit, "
                f"{len(findings.late_overlapping)} during it)",
                late,
                "texts",
            ),
            Figure(BENCH, "STOPs not answered 200", unanswered, "STOPs", "0", unanswered == 0),
            Figure(
                BENCH,
                "STOPs answered but not in the ledger",
                not_in_ledger,
                "numbers",
                "0",
                not_in_ledger == 0,
            ),
            Figure(BENCH, "texts held back by a STOP", held_back, "texts"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 texts, 50 STOPs")
    parser.add_argument("--recipients", type=int, help="default 10,000 (1,000 with --quick)")
    parser.add_argument("--stops", type=int, help="default 500 (50 with --quick)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    recipients = (
        args.recipients if args.recipients is not None else (1_000 if args.quick else 10_000)
    )
    stops = args.stops if args.stops is not None else (50 if args.quick else 500)
    if not 1 <= stops <= recipients:
        parser.error(f"--stops must be from 1 to the number of recipients ({recipients:,})")
    if args.workers < 1 or args.threads < 1:
        parser.error("workers and threads must each be at least 1")
    run_main(run(recipients, stops, args.workers, args.threads))


if __name__ == "__main__":
    main()
