"""Inbound STOP throughput: signed Twilio webhooks against ``guestcomms serve`` on SQLite.

    .venv/bin/python -m bench.inbound [--seconds 20] [--connections 32]

One client keeps ``connections`` Twilio STOP texts in flight (each from a new
number, signed with Twilio's validator) against a trivial aiohttp app that
reads the form and answers empty TwiML (the baseline), then against the real
``guestcomms serve`` on a fresh SQLite database with the demo data. Prints
requests/s, p50 and p99 of both, their ratio (target ≥ 0.4) and guestcomms'
p99 (target < 25 ms), and checks in the database that every STOP answered 200
left one new suppression and one inbound message (exit 1 if not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import cycle, islice
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from store.keyring import Keyring, new_key

AUTH_TOKEN = secrets.token_hex(16)  # per run: never a real credential
ACCOUNT_SID = "AC" + "be" * 16
ORGANISATION_NUMBER = "+12015550100"  # the demo organisation's sms_number
SIGNATURE = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
# Every load is bounded in count as well as time. guestcomms gets each signed
# STOP once (a new number each), and no more than this many per second of the
# run are signed; the baseline, which stores nothing, cycles through them.
UNIQUE_RATE = 4_000
BASELINE_RATE = 50_000
# A demo guest's number every so often, so some STOPs take the "known guest" path.
GUEST_EVERY = 25
WARM_UP = 0.1  # of the measured time, before it, not counted
PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SignedText:
    sender: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Load:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # timed requests only
    # The server's CPU time per request (warm-up included): unlike rates, it
    # hardly moves when other processes share the machine.
    cpu_per_request: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)  # all requests; 0: no answer
    answered_senders: set[str] = field(default_factory=set)

    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[p - 1] * 1000


def signed_texts(url: str, count: int, guests: Sequence[str]) -> list[SignedText]:
    """Signed up front: HMAC and form encoding in the client would take CPU from the server."""
    validator = RequestValidator(AUTH_TOKEN)
    known = iter(guests)
    texts = []
    for n in range(count):
        # 201-600-0000 onwards: valid, unassigned, and clear of the demo guests' 201-555-01xx.
        sender = next(known, None) if n % GUEST_EVERY == 0 else None
        sender = sender or f"+1201{600 + n // 10_000}{n % 10_000:04d}"
        form = {
            "MessageSid": f"SM{n:032x}",
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": ORGANISATION_NUMBER,
            "Body": "STOP",
        }
        signature = validator.compute_signature(url, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", SIGNATURE: signature}
        texts.append(SignedText(sender, urlencode(form).encode(), headers))
    return texts


async def load(url: str, texts: Iterator[SignedText], connections: int, seconds: float) -> Load:
    """``connections`` clients posting back to back through a warm-up (which opens
    connections, pools and statement caches; not timed) and then ``seconds`` timed."""
    result = Load()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        timed = time.perf_counter() + seconds * WARM_UP
        deadline = timed + seconds

        async def client() -> None:
            for text in texts:  # shared iterator: each text is sent once
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                try:
                    async with session.post(url, data=text.body, headers=text.headers) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError):
                    result.statuses[0] += 1
                    continue
                if sent >= timed:
                    result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] += 1
                if status == 200:
                    result.answered_senders.add(text.sender)

        await asyncio.gather(*(client() for _ in range(connections)))
        result.seconds = time.perf_counter() - timed
    return result


async def trivial_text(request: web.Request) -> web.Response:
    await request.post()
    return web.Response(text=EMPTY_TWIML, content_type="application/xml")


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as held:  # all open at once, so all different
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


async def run_to_end(command: Sequence[str], env: dict[str, str], cwd: Path) -> None:
    """A set-up command; what it says on stderr, if it fails, is the reader's to see."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed")


def tail(log: Path) -> str:
    return log.read_text()[-2000:]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def serving(
    command: Sequence[str], env: dict[str, str], cwd: Path, log: Path, ready: str
) -> AsyncIterator[int]:
    """A server process, from when ``ready`` answers (any status) until it is stopped."""
    with log.open("ab") as output:  # kept for the summary: one traceback per 500
        process = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=cwd, stdout=output, stderr=output, start_new_session=True
        )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):  # a minute at most
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(ready):
                        break
                if process.returncode is not None:
                    raise SystemExit(f"{' '.join(command)} exited:\n{tail(log)}")
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(f"{ready} never answered:\n{tail(log)}")
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()  # SIGTERM: the server closes its database cleanly
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


def database_facts(path: Path, keyring: Keyring) -> tuple[set[str], int, list[str]]:
    """(actively suppressed SMS numbers, inbound messages, guests' numbers free to opt out)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT address FROM suppressions WHERE channel='sms' AND lifted_at IS NULL"
        )
        suppressed = {address for (address,) in rows}
        (inbound,) = db.execute("SELECT count(*) FROM inbound_messages").fetchone()
        rows = db.execute("SELECT phone FROM guests WHERE phone IS NOT NULL")
        # Guests' numbers are encrypted at rest. The organisation's own number
        # is a guest's too: leave it out.
        numbers = {keyring.decrypt(phone) for (phone,) in rows}
        phones = sorted(numbers - suppressed - {ORGANISATION_NUMBER})
    return suppressed, inbound, phones


async def run(seconds: float, connections: int) -> int:
    with tempfile.TemporaryDirectory(prefix="guestcomms-bench-") as tmp:
        work = Path(tmp)
        database, log = work / "bench.db", work / "server.log"
        port, baseline_port = free_ports(2)
        base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "PUBLIC_BASE_URL": base_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            # Set, so nothing is generated under var/.
            "UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret",
            "JWT_SECRET": "bench-jwt-secret-of-at-least-32-bytes",
            "DATA_ENCRYPTION_KEYS": new_key(),
            "DATA_INDEX_KEY": new_key(),
        }
        keyring = Keyring.from_text([env["DATA_ENCRYPTION_KEYS"]], env["DATA_INDEX_KEY"])
        env.pop("REDIS_URL", None)  # the laptop setup: in-process broker and limits
        guestcomms = str(Path(sys.executable).with_name("guestcomms"))
        await run_to_end((guestcomms, "migrate"), env, work)
        await run_to_end((guestcomms, "demo-data"), env, work)
        suppressed_before, inbound_before, guests = database_facts(database, keyring)
        count = int(UNIQUE_RATE * seconds * (1 + WARM_UP))
        texts = signed_texts(f"{base_url}/twilio/sms", count, guests)

        baseline_url = f"http://127.0.0.1:{baseline_port}/twilio/sms"
        trivial = (sys.executable, "-m", "bench.inbound", "--baseline-port", str(baseline_port))
        async with serving(trivial, env, PROJECT, log, baseline_url) as pid:
            cycled = islice(cycle(texts), int(BASELINE_RATE * seconds))
            cpu = cpu_seconds(pid)
            baseline = await load(baseline_url, cycled, connections, seconds)
            baseline.cpu_per_request = (cpu_seconds(pid) - cpu) / baseline.statuses.total()

        serve = (guestcomms, "serve", "--port", str(port))
        async with serving(serve, env, work, log, f"{base_url}/api/health") as pid:
            unique = iter(texts)
            cpu = cpu_seconds(pid)
            served = await load(f"{base_url}/twilio/sms", unique, connections, seconds)
            served.cpu_per_request = (cpu_seconds(pid) - cpu) / max(1, served.statuses.total())
        suppressed_after, inbound_after, _ = database_facts(database, keyring)
        errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]

    statuses, senders = served.statuses, served.answered_senders
    failures = statuses.total() - statuses[200]
    added = suppressed_after - suppressed_before
    messages = inbound_after - inbound_before
    ratio, p99 = served.rate() / baseline.rate(), served.percentile_ms(99)
    stored = added == senders and messages == statuses[200]
    lines = [
        f"machine: {os.cpu_count()} cores",
        f"date: {date.today().isoformat()}",
        f"load: {connections} connections, {seconds:g} s, each STOP from a new number",
    ]
    for label, result in (("baseline (trivial aiohttp)", baseline), ("guestcomms", served)):
        lines.append(f"{label}: {result.rate():.1f} requests/s")
        lines += [f"{label} p{p}: {result.percentile_ms(p):.1f} ms" for p in (50, 99)]
        lines.append(f"{label} server CPU: {result.cpu_per_request * 1e6:.0f} µs a request")
    lines += [
        f"ratio: {ratio:.2f} (target ≥ 0.4: {'met' if ratio >= 0.4 else 'MISSED'})",
        f"p99: {p99:.1f} ms (target < 25 ms: {'met' if p99 < 25 else 'MISSED'})",
        f"non-200 answers: {failures} (must be 0) {dict(statuses)}",
        f"opt-outs stored: {len(added)} for {len(senders)} distinct senders answered 200",
        f"inbound messages stored: {messages} for {statuses[200]} answered",
        f"stored as answered: {'yes' if stored else 'NO'}",
    ]
    if errors:  # why, from the server's log, which is gone with the directory
        cause = json.loads(errors[-1]).get("exception", "").strip().splitlines()[-2:]
        lines.append(f"server errors logged: {len(errors)}; the last: {' '.join(cause)}")
    if next(unique, None) is None:
        lines.append(f"warning: all {len(texts)} signed STOPs were sent: raise UNIQUE_RATE")
    print("\n".join(lines))
    return 0 if failures == 0 and stored else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--baseline-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_port:  # this module is also the baseline's server process
        app = web.Application()
        app.router.add_post("/twilio/sms", trivial_text)
        web.run_app(app, host="127.0.0.1", port=args.baseline_port, access_log=None, print=None)
        return
    raise SystemExit(asyncio.run(run(args.seconds, args.connections)))


if __name__ == "__main__":
    main()
