"""Wiring the dispatch layer: runtime, broker, actors, and in-process workers for `dev`."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from bot.secrets import kept_secret, with_kept_data_keys
from bot.settings import Settings
from dispatch.actors import SEND_QUEUE, Actors, declare_actors
from dispatch.breaker import BreakerPolicy, MemoryBreaker, RedisBreaker
from dispatch.broker import backlog, build_broker, forgot
from dispatch.compose.tracking_tokens import TrackingTokens
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from dispatch.limits import MemoryTierLimiter, RedisTierLimiter
from dispatch.pacing import MemoryPacer, RedisPacer
from dispatch.providers.factory import email_provider, sms_provider
from dispatch.runtime import Enqueue, Runtime
from store.database import Database
from store.models.base import utcnow
from store.redis import connect_redis


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _signing_keys(settings: Settings) -> list[str]:
    return kept_secret(
        [key.get_secret_value() for key in settings.dispatch.unsubscribe_secret],
        "UNSUBSCRIBE_SECRET",
    )


def unsubscribe_tokens(settings: Settings) -> UnsubscribeTokens:
    return UnsubscribeTokens(
        _signing_keys(settings), settings.dispatch.unsubscribe_token_max_age_days
    )


def tracking_tokens(settings: Settings) -> TrackingTokens:
    """The web app checks them with the same keys (another salt)."""
    return TrackingTokens(_signing_keys(settings))


def build_runtime(
    settings: Settings,
    enqueue: Enqueue,
    namespace: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    backlog: Callable[[], int] = lambda: 0,
    broker_forgot: Callable[[], bool] = lambda: False,
) -> Runtime:
    """Everything a batch needs; call on the event loop that will use it."""
    dispatch = settings.dispatch
    namespace = namespace or dispatch.broker_namespace
    redis = connect_redis(settings.store)
    policy = BreakerPolicy(
        failure_rate=dispatch.breaker_failure_rate,
        min_calls=dispatch.breaker_min_calls,
        window_seconds=dispatch.breaker_window_seconds,
        open_seconds=dispatch.breaker_open_seconds,
    )
    return Runtime(
        database=Database(with_kept_data_keys(settings.store)),
        settings=dispatch,
        sms=sms_provider(dispatch),
        email=email_provider(dispatch),
        tier_limiter=RedisTierLimiter(redis, namespace) if redis else MemoryTierLimiter(),
        pacer=RedisPacer(redis, namespace) if redis else MemoryPacer(),
        breaker=(
            RedisBreaker(redis, policy, namespace, lambda: clock().timestamp())
            if redis
            else MemoryBreaker(policy, lambda: clock().timestamp())
        ),
        tokens=unsubscribe_tokens(settings),
        tracking=tracking_tokens(settings),
        enqueue=enqueue,
        worker_id=worker_id(),
        clock=clock,
        redis=redis,
        backlog=backlog,
        broker_forgot=broker_forgot,
    )


@dataclass
class Dispatching:
    """The broker with its actors, and a lazily built runtime for the worker's loop."""

    broker: dramatiq.Broker
    actors: Actors
    runtime: Callable[[], Awaitable[Runtime]]
    built: list[Runtime]
    namespace: str
    closing: threading.Event

    def backlog(self) -> int:
        return backlog(self.broker, SEND_QUEUE)

    def control_runtime(
        self, settings: Settings, clock: Callable[[], datetime] = utcnow
    ) -> Runtime:
        """A runtime for this event loop that enqueues on this broker (CLI, scheduler)."""
        return build_runtime(
            settings,
            self.actors.enqueue_batch,
            settings.dispatch.broker_namespace,
            clock,
            self.backlog,
            lambda: forgot(self.broker),
        )


class ClosesRuntime(dramatiq.Middleware):
    """Closes the workers' runtime once every batch has ended, before the loop stops.

    Dramatiq calls ``after_worker_shutdown`` in reverse order of the
    middleware list, so this one (appended after AsyncIO) runs while the
    event loop still turns, and after the worker threads were joined: no
    batch holds a database connection any more. Closing earlier would leave
    a running batch's connection open when the loop stops.
    """

    def __init__(self, built: list[Runtime], closing: threading.Event) -> None:
        self.built = built
        self.closing = closing

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # A message that starts after this gets no runtime (and is retried).
        self.closing.set()
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self._close())

    async def _close(self) -> None:
        while self.built:
            await self.built.pop().close()


def wire(
    settings: Settings,
    namespace: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Dispatching:
    namespace = namespace or settings.dispatch.broker_namespace
    # Checked now, so a worker without the data keys fails as it starts, not at
    # its first message.
    settings = replace(settings, store=with_kept_data_keys(settings.store))
    broker = build_broker(settings.store.redis_url, namespace)
    built: list[Runtime] = []

    closing = threading.Event()
    broker.add_middleware(ClosesRuntime(built, closing))

    async def runtime() -> Runtime:
        # Built on first use, inside the AsyncIO middleware's event loop.
        if closing.is_set():
            raise RuntimeError("the worker is shutting down")
        if not built:
            built.append(build_runtime(settings, actors.enqueue_batch, namespace, clock, queued))
        return built[0]

    def queued() -> int:
        return backlog(broker, SEND_QUEUE)

    actors = declare_actors(broker, runtime)
    return Dispatching(broker, actors, runtime, built, namespace, closing)


def start_workers(dispatching: Dispatching, threads: int = 4) -> dramatiq.Worker:
    """Worker threads in this process (``guestcomms dev``; tests)."""
    worker = dramatiq.Worker(dispatching.broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker


def stop_workers(worker: dramatiq.Worker) -> None:
    """Let running batches end, then close the runtime (``ClosesRuntime``)."""
    # stop() waits for the threads; join() would wait for the queues to drain.
    worker.stop()
