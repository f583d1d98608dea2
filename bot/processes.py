"""The long-running commands: ``serve``, ``scheduler`` and ``dev`` (all three in one process)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import structlog
from aiohttp import web

from bot import heap
from bot.dispatching import Dispatching, start_workers, stop_workers, wire
from bot.secrets import with_kept_secrets
from bot.settings import Settings
from bot.slack.alert_poster import AlertPoster, alert_poster
from bot.web_app import build_web_app
from dispatch.reconciler import tick
from dispatch.retention import RetentionSweep
from dispatch.runtime import Runtime
from dispatch.watch import watch
from store.models.base import utcnow

log = structlog.get_logger(__name__)

TICK_SECONDS = 15.0


def stop_on_signals() -> asyncio.Event:
    """Platforms stop processes with SIGTERM: finish what is open, then exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    return stop


async def start_web(settings: Settings, dispatching: Dispatching, port: int) -> web.AppRunner:
    app = build_web_app(with_kept_secrets(settings), dispatching)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Before the first request, which would otherwise wait for the full collection.
    heap.settle_after_startup()
    await web.TCPSite(runner, port=port).start()
    return runner


async def run_scheduler(
    settings: Settings,
    dispatching: Dispatching,
    stop: asyncio.Event,
    every: float,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Tick until stopped: start due campaigns, wake deferred work, settle expired leases;
    then sample the queue, evaluate the alert rules and tell the on-call channel; and
    hourly purge message texts past their keeping time."""
    runtime = dispatching.control_runtime(settings, clock)
    holder = f"scheduler-{uuid.uuid4().hex[:12]}"
    retention = RetentionSweep(runtime)
    try:
        async with alert_poster(runtime.database, settings.slack, runtime.clock) as poster:
            while not stop.is_set():
                await _tick_once(runtime, poster, holder)
                await _purge_if_due(retention)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=every)
    finally:
        await runtime.close()


async def _tick_once(runtime: Runtime, poster: AlertPoster | None, holder: str) -> None:
    # A failed step (database restarting, Slack down…) must not end the scheduler.
    try:
        report = await tick(runtime)
    except Exception:
        log.exception("scheduler tick failed")
    else:
        if any(asdict(report).values()):
            log.info("scheduler tick", **asdict(report))
    try:
        alerts = await watch(runtime, holder)
        if alerts is not None and poster is not None:
            await poster.run_pass()
    except Exception:
        log.exception("alert evaluation failed")
    else:
        if alerts is not None and (alerts.fired or alerts.resolved):
            log.info("alerts", **asdict(alerts))


async def _purge_if_due(retention: RetentionSweep) -> None:
    try:
        purged = await retention.run_if_due()
    except Exception:
        log.exception("retention purge failed")
    else:
        if purged is not None and purged.rows:
            log.info(
                "retention purge",
                inbound_texts=sum(purged.inbound_texts.values()),
                delivery_errors=sum(purged.delivery_errors.values()),
            )


async def serve(settings: Settings, port: int) -> None:
    stop = stop_on_signals()
    # Slack's approve / cancel / retry enqueue batches on the workers' broker.
    dispatching = wire(settings)
    runner = await start_web(settings, dispatching, port)
    print(f"guestcomms is serving on http://localhost:{port} (health: /api/health)", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        dispatching.broker.close()


async def scheduler(settings: Settings, every: float) -> None:
    stop = stop_on_signals()
    dispatching = wire(settings)
    print(f"guestcomms scheduler: a tick every {every:g} s", flush=True)
    try:
        await run_scheduler(settings, dispatching, stop, every)
    finally:
        dispatching.broker.close()


async def dev(settings: Settings, port: int, every: float) -> None:
    """Web server, workers and scheduler in this one process (on the embedded defaults,
    an in-process broker; with REDIS_URL, Redis)."""
    stop = stop_on_signals()
    dispatching = wire(settings)
    worker = start_workers(dispatching)
    runner = await start_web(settings, dispatching, port)
    print(
        f"guestcomms dev: web on http://localhost:{port}, workers and scheduler running; "
        f"messages to guests land in {settings.dispatch.outbox_dir}/ unless providers are set",
        flush=True,
    )
    try:
        await run_scheduler(settings, dispatching, stop, every)
    finally:
        await runner.cleanup()
        await asyncio.to_thread(stop_workers, worker)
        dispatching.broker.close()
