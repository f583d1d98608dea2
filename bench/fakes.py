"""The test suite's fakes (Twilio REST, SMTP, Slack Web API) in a process of their own.

    .venv/bin/python -m bench.fakes --ports TWILIO SMTP SLACK CONTROL

Under load the fakes need CPU too; in their own process they do not take the
GIL from the client that measures (the baseline's client, the Slack
commands' stopwatch). A small control app on the fourth port reports what
they received and sets the Twilio fake's per-sender limit:

* ``GET /state`` — counts; with ``?arrivals=1`` each accepted text's sender
  and arrival time (epoch seconds);
* ``GET /messages`` — every text (to, from, body) and every email (the bytes as
  they arrived, with the envelope), for a baseline that posts the same;
* ``POST /reset`` — forget everything received; ``POST /mps`` with
  ``{"mps": N}`` (or null) — Twilio's messages per second per sender;
  ``POST /latency`` with ``{"seconds": S}`` — how long Twilio takes to answer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller

from bench.children import Children, python
from bench.processes import free_ports, serving
from tests.fakes.slack import SlackFake
from tests.fakes.smtp import SmtpSink
from tests.fakes.twilio import TwilioFake


@dataclass(frozen=True, slots=True)
class FakeState:
    texts: int
    twilio_requests: int
    rejected_429: int
    emails: int
    smtp_connections: int
    slack_calls: int
    # sender → arrival times (epoch seconds) of the texts the fake accepted
    arrivals: dict[str, list[float]]


@dataclass(frozen=True, slots=True)
class Received:
    texts: list[tuple[str, str, str]]  # to, from, body
    emails: list[tuple[str, list[str], bytes]]  # envelope from, recipients, bytes


def _control_app(twilio: TwilioFake, smtp: SmtpSink, slack: SlackFake) -> web.Application:
    async def state(request: web.Request) -> web.Response:
        arrivals: dict[str, list[float]] = {}
        with twilio._lock:
            if request.query.get("arrivals"):
                for message in twilio.messages:
                    arrivals.setdefault(message.sender, []).append(message.created.timestamp())
            texts, requests, rejected = len(twilio.messages), twilio.requests, twilio.rejected_429
        with smtp._lock:
            emails, connections = len(smtp.messages), smtp.connections
        with slack._lock:
            calls = len(slack.called)
        return web.json_response(
            {
                "texts": texts,
                "twilio_requests": requests,
                "rejected_429": rejected,
                "emails": emails,
                "smtp_connections": connections,
                "slack_calls": calls,
                "arrivals": arrivals,
            }
        )

    async def messages(_request: web.Request) -> web.Response:
        with twilio._lock:
            texts = [(m.to, m.sender, m.body) for m in twilio.messages]
        with smtp._lock:
            emails = [
                (
                    parseaddr(str(m["From"]))[1],
                    [address for _, address in getaddresses([str(m["To"])])],
                    base64.b64encode(raw).decode(),
                )
                for m, raw in zip(smtp.messages, smtp.raw, strict=True)
            ]
        return web.json_response({"texts": texts, "emails": emails})

    async def reset(_request: web.Request) -> web.Response:
        with twilio._lock:
            twilio.messages.clear()
            twilio.requests = twilio.rejected_429 = 0
            twilio._recent.clear()
        with smtp._lock:
            smtp.messages.clear()
            smtp.raw.clear()
            smtp.connections = 0
        with slack._lock:
            slack.called.clear()
            slack.messages.clear()
        return web.json_response({"ok": True})

    async def set_mps(request: web.Request) -> web.Response:
        body = await request.json()
        with twilio._lock:
            twilio.mps = None if body.get("mps") is None else float(body["mps"])
            twilio._recent.clear()
        return web.json_response({"ok": True})

    async def set_latency(request: web.Request) -> web.Response:
        body = await request.json()
        twilio.answer_delay = float(body["seconds"])
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/latency", set_latency)
    app.router.add_get("/state", state)
    app.router.add_get("/messages", messages)
    app.router.add_post("/reset", reset)
    app.router.add_post("/mps", set_mps)
    return app


async def _serve(twilio_port: int, smtp_port: int, slack_port: int, control_port: int) -> None:
    twilio, smtp, slack = TwilioFake(), SmtpSink(), SlackFake()
    # aiosmtpd runs its own loop in a thread; the HTTP fakes share this one.
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runners = []
    try:
        for app, port in (
            (twilio.app(), twilio_port),
            (slack.app(), slack_port),
            (_control_app(twilio, smtp, slack), control_port),
        ):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
            runners.append(runner)
        await asyncio.Event().wait()  # until SIGTERM
    finally:
        for runner in runners:
            await runner.cleanup()
        controller.stop()


@dataclass
class Fakes:
    """The running fakes, as a benchmark reaches them."""

    twilio_url: str
    smtp_port: int
    slack_api_url: str  # SLACK_API_URL (ends in /api/)
    slack_url: str
    control_url: str
    _session: aiohttp.ClientSession

    async def state(self, *, arrivals: bool = False) -> FakeState:
        query = "?arrivals=1" if arrivals else ""
        async with self._session.get(f"{self.control_url}/state{query}") as answer:
            return FakeState(**await answer.json())

    async def received(self) -> Received:
        async with self._session.get(f"{self.control_url}/messages") as answer:
            body: dict[str, Any] = await answer.json()
        return Received(
            texts=[(to, sender, text) for to, sender, text in body["texts"]],
            emails=[(s, list(r), base64.b64decode(raw)) for s, r, raw in body["emails"]],
        )

    async def reset(self) -> None:
        async with self._session.post(f"{self.control_url}/reset") as answer:
            answer.raise_for_status()

    async def set_twilio_latency(self, seconds: float) -> None:
        async with self._session.post(
            f"{self.control_url}/latency", json={"seconds": seconds}
        ) as answer:
            answer.raise_for_status()

    async def set_twilio_mps(self, mps: float | None) -> None:
        async with self._session.post(f"{self.control_url}/mps", json={"mps": mps}) as answer:
            answer.raise_for_status()


@contextlib.asynccontextmanager
async def fakes_process(children: Children) -> AsyncIterator[Fakes]:
    """The fakes' process on free ports, until the block ends."""
    ports = free_ports(4)
    twilio, smtp, slack, control = ports
    command = python("-m", "bench.fakes", "--ports", *map(str, ports))
    control_url = f"http://127.0.0.1:{control}"
    async with (
        serving(children, "fakes", command, os.environ, f"{control_url}/state"),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session,
    ):
        yield Fakes(
            twilio_url=f"http://127.0.0.1:{twilio}",
            smtp_port=smtp,
            slack_api_url=f"http://127.0.0.1:{slack}/api/",
            slack_url=f"http://127.0.0.1:{slack}",
            control_url=control_url,
            _session=session,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ports", type=int, nargs=4, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(*args.ports))


if __name__ == "__main__":
    main()
