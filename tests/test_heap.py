"""The web server's collector settings (bot/heap.py), checked in a process of their own:
freezing this test process's heap would change every test after it."""

from __future__ import annotations

import subprocess
import sys

from bot.heap import YOUNG_COLLECTION_EVERY

_SETTLE = """
import gc, weakref
from bot import heap
class Node:
    pass
cycle = Node()
cycle.itself = cycle  # garbage only the collector can free
gone = weakref.ref(cycle)
del cycle
heap.settle_after_startup()
print(gc.get_freeze_count(), gc.get_threshold()[0], gone() is None)
"""


def test_startup_heap_is_frozen_without_its_garbage_and_young_collections_spaced() -> None:
    frozen, young_threshold, garbage_collected = subprocess.run(
        [sys.executable, "-c", _SETTLE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(frozen) > 1_000  # the interpreter's and the imported modules' objects
    assert int(young_threshold) == YOUNG_COLLECTION_EVERY
    # Startup's garbage was collected before the freeze, not kept for good.
    assert garbage_collected == "True"
