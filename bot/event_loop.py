"""The event loop the long-running processes run on: uvloop where it exists.

The web server's hot paths (Twilio's webhooks above all) spend much of each
request in the event loop itself: reading and writing sockets, resolving
futures, and the wake-ups of aiosqlite's thread through
``call_soon_threadsafe``. uvloop (libuv, in C) does those for a fraction of
asyncio's pure-Python cost; aiohttp, asyncpg and aiosqlite run on it
unchanged. It has no Windows build, where asyncio's own loop is used.

Benchmarks that compare ``guestcomms serve`` with a baseline server run the
baseline on ``new_event_loop()`` too, so that a ratio compares handlers, not
event loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover (Windows)
    uvloop = None  # type: ignore[assignment]

ResultT = TypeVar("ResultT")


def new_event_loop() -> asyncio.AbstractEventLoop:
    if uvloop is None:  # pragma: no cover (Windows)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
    """``asyncio.run`` on ``new_event_loop()``."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coroutine)
