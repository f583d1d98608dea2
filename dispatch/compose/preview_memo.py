"""The last few previews, each kept with everything it was computed from.

Planners show a large campaign again and again while it sends (`campaign
show`, the thread's preview after each answer); each preview renders, counts
and prices every guest's messages. A preview is a pure function of what the
store gave it, so it is kept under a key made of those very values — the
guests' rows, their groups, the organisation's active opt-outs, the consents,
the campaign's content and the facts around it — and compared by value, not
by a version number or a time stamp that could miss a change. Any edit,
import, opt-out or consent makes a different key, and the preview is computed
anew: a kept preview can never be stale, it can only be the same.

The same key asked for twice at once is computed once: the second caller
waits for the first's result.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")

# A 10,000-guest key and its preview take a few MB; two cover a planner
# flipping between two campaigns without holding much.
KEPT = 2


class PreviewMemo(Generic[T]):
    """Thread-safe: the web process and, on a laptop, the workers' loops share it."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future[T]] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for ``key``, or ``compute()`` run in a worker thread (so the
        event loop goes on answering meanwhile), kept, and returned."""
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._entries[key] = future
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        if owner:
            try:
                future.set_result(await asyncio.to_thread(compute))
            except BaseException as error:
                # Nothing half-done is kept; whoever waits gets the same error.
                with self._lock:
                    if self._entries.get(key) is future:
                        del self._entries[key]
                future.set_exception(error)
                raise
        return await asyncio.wrap_future(future)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
