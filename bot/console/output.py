"""What the console prints, and waiting until the bot has finished answering.

The bot answers after acknowledging, so the console cannot know from the
HTTP answer when it is done; it waits for the first output, then for quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Output:
    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show
        self.count = 0
        self._changed = asyncio.Event()

    def write(self, text: str) -> None:
        self._show(text)
        self.poke()

    def poke(self) -> None:
        """Something happened that the person must see or answer (a line, a form)."""
        self.count += 1
        self._changed.set()

    async def settle(self, before: int, within: float, quiet: float) -> None:
        """Until something happened after ``before`` and then nothing for ``quiet``
        seconds, or ``within`` seconds at most."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.count == before:
                    self._changed.clear()
                    await self._changed.wait()
                while True:
                    self._changed.clear()
                    try:
                        await asyncio.wait_for(self._changed.wait(), quiet)
                    except TimeoutError:
                        return
