"""Chaos: a campaign sent while workers are SIGKILLed, Twilio drops answers and Redis restarts.

    .venv/bin/python -m bench.chaos [--quick] [--recipients 10000] [--kills 10]

A campaign to ``recipients`` guests by SMS and email goes out through real
Dramatiq worker processes (``dramatiq bot.worker``, as the Procfile runs
them) on PostgreSQL and the benchmark's own Redis, with the scheduler
(``guestcomms scheduler``, whose tick is the reconciler) running beside
them. Meanwhile:

* every 2–5 s a worker picked at random is killed with SIGKILL (its whole
  process group) and replaced, at least ``kills`` times, and on until 90 %
  of the messages reached the fakes (15 minutes at most);
* the Twilio fake drops 5 % of its answers after accepting the message (the
  client sees the connection cut: did Twilio take it?);
* half-way through the kills, Redis is killed and started again empty: the
  broker's queued and delayed messages, the pacer's and breakers' state
  are gone.

Then everything is left to settle. Counted from the fakes' own records:
guests who got a text or an email twice (target 0), guests who did not get
one (target 0), and delivery rows whose record disagrees with what the fake
received (target 0); and the time from the last kill until every delivery
is final. SMTP cannot be asked what it accepted, so an email whose worker
died between SMTP's "250" and the record is sent again with the same
Message-ID; those copies are counted apart (a mailbox shows one message).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from bench.children import PROJECT, Children, run_benchmark
from bench.live_campaign import LiveCampaign, email, live_campaign, phone
from bench.results import Figure
from bench.verdict import verdict
from store.enums import Channel, DeliveryStatus
from store.models import Delivery
from tests.fakes.twilio import FakeMessage

# Short leases, so that recovery takes seconds, not the production minutes
# (LEASE_SECONDS 120, LEASE_MARGIN_SECONDS 30): what is measured is that the
# reconciler settles every row right, and how long it takes with these.
SETTINGS = {
    "LEASE_SECONDS": "10",
    "LEASE_MARGIN_SECONDS": "5",
    "PROVIDER_TIMEOUT_SECONDS": "5",
    "STALE_PENDING_SECONDS": "10",
}
SCHEDULER_EVERY = 1.0
KILL_EVERY = (2.0, 5.0)
REDIS_DOWN_SECONDS = 1.0
# Kills go on until 90 % of the messages reached the fakes (so the last one falls
# near the end of the send and the time to all final measures the recovery), and
# at least ``kills`` times; never longer than this.
KILLING_AT_MOST = 900.0
SETTLE_WITHIN = 600.0  # after the last kill; then whatever is not final counts as missing
BENCH = "chaos"


@dataclass
class Tally:
    """What the fakes received against what the database says."""

    duplicate_texts: int
    duplicate_emails: int
    same_id_copies: int
    missing_texts: int
    missing_emails: int
    disagreeing: list[str]
    statuses: Counter[str]


def tally(
    recipients: int,
    texts_received: Sequence[FakeMessage],
    mail_received: Sequence[EmailMessage],
    rows: Sequence[Delivery],
) -> Tally:
    """Guests ``0 … recipients-1`` each expect one text and one email."""
    texts: dict[str, list[str]] = {}
    for message in texts_received:
        texts.setdefault(message.to, []).append(message.sid)
    mail: dict[str, Counter[str]] = {}
    for mailed in mail_received:
        _, address = parseaddr(str(mailed["To"]))
        mail.setdefault(address, Counter())[str(mailed["Message-ID"])] += 1
    numbers = {phone(n) for n in range(recipients)}
    addresses = {email(n) for n in range(recipients)}
    disagreeing: list[str] = []
    for row in rows:
        status = DeliveryStatus(row.status)
        if row.channel == Channel.SMS:
            received = texts.get(row.address, [])
        else:
            received = list(mail.get(row.address, Counter()))
        if status == DeliveryStatus.SENT and row.provider_message_id not in received:
            disagreeing.append(
                f"delivery {row.id} ({row.channel}) is sent as {row.provider_message_id}; "
                f"the fake received {received or 'nothing'}"
            )
        elif status != DeliveryStatus.SENT and received:
            disagreeing.append(
                f"delivery {row.id} ({row.channel}) is {status.value}; the fake received {received}"
            )
    return Tally(
        duplicate_texts=sum(len(sids) - 1 for sids in texts.values()),
        duplicate_emails=sum(len(ids) - 1 for ids in mail.values()),
        same_id_copies=sum(sum(ids.values()) - len(ids) for ids in mail.values()),
        missing_texts=len(numbers - texts.keys()),
        missing_emails=len(addresses - mail.keys()),
        disagreeing=disagreeing,
        statuses=Counter(str(DeliveryStatus(row.status).value) for row in rows),
    )


def arrived(live: LiveCampaign) -> int:
    return len(live.fakes.twilio.messages) + len(live.fakes.smtp.messages)


async def cause_chaos(live: LiveCampaign, kills: int, chance: random.Random) -> float | None:
    """Kill workers until the send is nearly over; returns when the last kill was
    (``time.monotonic()``), None if there was none."""
    expected = 2 * live.recipients
    started = time.monotonic()
    last_kill: float | None = None
    restart_after = math.ceil(kills / 2)
    while not arrived(live):  # the workers are up and sending: the kills begin
        await asyncio.sleep(0.1)
        if time.monotonic() - started > 120:
            raise RuntimeError("no message reached the fakes in two minutes; see the logs")
    while time.monotonic() - started < KILLING_AT_MOST:
        await asyncio.sleep(chance.uniform(*KILL_EVERY))
        so_far = arrived(live)
        if live.fleet.kills >= kills and so_far >= 0.9 * expected:
            break
        if await live.waiting() == 0:
            break  # all final already: nothing left to disturb
        group = await asyncio.to_thread(live.fleet.kill_one, chance)
        last_kill = time.monotonic()
        print(
            f"  {last_kill - started:6.1f} s  SIGKILL {live.fleet.kills}: worker group {group}; "
            f"{so_far:,} of {expected:,} messages at the fakes"
        )
        if live.fleet.kills == restart_after:
            await asyncio.to_thread(live.redis.restart, REDIS_DOWN_SECONDS)
            print(
                f"  {time.monotonic() - started:6.1f} s  Redis killed and started again empty "
                f"({REDIS_DOWN_SECONDS:g} s down)"
            )
    return last_kill


def worker_errors(logs: Path) -> int:
    return sum(
        log.read_text(errors="replace").count("Traceback") for log in logs.glob("worker-*.log")
    )


async def run(recipients: int, kills: int, workers: int, threads: int, drop: float) -> int:
    logs = PROJECT / "var" / "bench" / BENCH
    shutil.rmtree(logs, ignore_errors=True)
    # Paced so that the send outlasts the kills (a kill every 3.5 s on average):
    # faster, it could end before the last of them.
    sms_rate = max(10.0, recipients / (kills * sum(KILL_EVERY) / 2))
    settings = {**SETTINGS, "SMS_MESSAGES_PER_SECOND": f"{sms_rate:.0f}"}
    print(
        f"chaos: {recipients:,} recipients × SMS + email, {workers} workers × {threads} threads, "
        f"at least {kills} SIGKILLs, Twilio dropping {drop:.0%} of answers after accepting, "
        f"one Redis restart; texts paced at {sms_rate:.0f}/s; "
        + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    )
    chance = random.Random(20_260_101)
    began = time.monotonic()
    with Children(logs) as children:
        async with live_campaign(
            BENCH,
            children,
            logs,
            recipients=recipients,
            channels=(Channel.EMAIL, Channel.SMS),
            workers=workers,
            threads=threads,
            settings=settings,
            scheduler_every=SCHEDULER_EVERY,
        ) as live:
            live.fakes.twilio.drop_after_accept = drop
            ready = time.monotonic()
            await live.approve()
            last_kill = await cause_chaos(live, kills, chance)
            settled = await live.until_final(SETTLE_WITHIN)
            ended = time.monotonic()
            found = tally(
                recipients, live.fakes.twilio.messages, live.fakes.smtp.messages, await live.rows()
            )
            dropped = sum(1 for m in live.fakes.twilio.messages if m.answer_dropped)
            made = live.fleet.kills
    recovery = None if settled is None or last_kill is None else ended - last_kill
    print(
        f"set-up {ready - began:.1f} s; approval to all final {ended - ready:.1f} s; "
        f"Twilio answers dropped after accepting: {dropped}; "
        f"tracebacks in the workers' logs: {worker_errors(logs)} (logs: {logs})"
    )
    print(f"deliveries by status: {dict(found.statuses)}")
    for line in found.disagreeing[:10]:
        print(f"  disagrees: {line}")
    duplicates = found.duplicate_texts + found.duplicate_emails
    missing = found.missing_texts + found.missing_emails
    return verdict(
        [
            Figure(
                BENCH,
                f"duplicates ({found.duplicate_texts} texts, {found.duplicate_emails} emails)",
                duplicates,
                "guests",
                "0",
                duplicates == 0,
            ),
            Figure(
                BENCH,
                f"missing ({found.missing_texts} texts, {found.missing_emails} emails)",
                missing,
                "guests",
                "0",
                missing == 0,
            ),
            Figure(
                BENCH,
                "delivery records disagreeing with the fakes",
                len(found.disagreeing),
                "rows",
                "0",
                not found.disagreeing,
            ),
            Figure(BENCH, "SIGKILLs during the send", made, "kills", f"≥ {kills}", made >= kills),
            Figure(
                BENCH,
                "time from the last kill to all final",
                round(recovery if recovery is not None else SETTLE_WITHIN, 1),
                "s",
                f"all final within {SETTLE_WITHIN:.0f} s",
                recovery is not None,
            ),
            Figure(
                BENCH, "email copies re-sent with the same Message-ID", found.same_id_copies, ""
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 recipients, 3 kills")
    parser.add_argument("--recipients", type=int, help="default 10,000 (1,000 with --quick)")
    parser.add_argument("--kills", type=int, help="at least this many (default 10; 3 --quick)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--drop", type=float, default=0.05, help="share of Twilio answers cut")
    args = parser.parse_args()
    recipients = (
        args.recipients if args.recipients is not None else (1_000 if args.quick else 10_000)
    )
    kills = args.kills if args.kills is not None else (3 if args.quick else 10)
    if recipients < 1 or kills < 1 or args.workers < 1 or args.threads < 1:
        parser.error("recipients, kills, workers and threads must each be at least 1")
    if not 0 <= args.drop < 1:
        parser.error("--drop is a share of answers: from 0 up to (not including) 1")
    run_benchmark(run(recipients, kills, args.workers, args.threads, args.drop))


if __name__ == "__main__":
    main()
