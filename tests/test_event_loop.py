"""The long-running processes' event loop (bot/event_loop.py): uvloop where it exists."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import event_loop


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_long_running_processes_run_on_uvloop() -> None:
    import uvloop

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    assert isinstance(event_loop.run(running_loop()), uvloop.Loop)
    loop = event_loop.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
