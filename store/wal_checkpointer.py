"""Checkpoints of SQLite's write-ahead log on a thread of their own, off the event loop.

In WAL mode a commit appends pages to the log, and SQLite copies them back
into the database file (a checkpoint, with two fsyncs) inside whichever COMMIT
takes the log past ``wal_autocheckpoint`` pages. For the webhooks' group
commit that COMMIT runs on the event loop (a quick transaction, ``Database``),
which then answers nobody for the checkpoint's milliseconds.

Here a thread with a connection of its own runs a PASSIVE checkpoint shortly
after writes. A passive checkpoint takes no write lock and waits for nobody,
so writers go on committing meanwhile, and SQLite holds no GIL while it
copies. The log file starts over from its beginning only when a write begins
with every page of it copied (SQLite's rule), which under steady writes
seldom happens between two commits; so the writers keep an autocheckpoint,
at ``BACKSTOP_PAGES`` of log: a COMMIT then runs a checkpoint that finds
nearly every page already copied (it still syncs the two files), and the
next write starts the log over. It also bounds the log should this thread
stop or fall behind. Before, every ~1,000 pages a COMMIT copied them all.
"""

from __future__ import annotations

import sqlite3
import threading
from urllib.parse import quote

import structlog

log = structlog.get_logger(__name__)

# How long after a write the checkpoint waits, so that one checkpoint (and its
# two fsyncs) covers the writes of that moment rather than each commit's.
SETTLE_SECONDS = 0.05
# With no write for this long the thread and its connection go (the next
# write brings them back): an idle process keeps no thread waking for nothing.
IDLE_SECONDS = 30.0
# The writers' own autocheckpoint, in pages of log (4 KiB each, ~16 MB in all):
# how often the log starts over under steady writes, and its bound.
BACKSTOP_PAGES = 4_000
# dispose() waits this long for a checkpoint under way; one still running then
# finishes by itself (a checkpoint interrupted at exit is safe: SQLite's design).
_STOP_TIMEOUT_SECONDS = 10.0


class WalCheckpointer:
    """Checkpoints the log of the SQLite database at ``path`` soon after ``wrote()``,
    until ``close()`` (for good: it goes with its ``Database``)."""

    def __init__(
        self,
        path: str,
        *,
        settle_seconds: float = SETTLE_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.path = path
        self.settle_seconds = settle_seconds
        self.idle_seconds = idle_seconds
        self.checkpoints = 0  # checkpoints run, for tests
        self._wrote = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Whether a thread runs, decided together with whether a write is waiting.
        self._lock = threading.Lock()

    def wrote(self) -> None:
        """A write transaction committed: checkpoint soon. A flag for the caller, and
        a thread started when none runs."""
        with self._lock:
            self._wrote.set()
            if self._thread is not None or self._stopping.is_set():
                return
            thread = threading.Thread(
                target=self._run, name=f"wal-checkpointer {self.path}", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no thread to be had (a limit, or the interpreter exiting)
                # The write committed: this must not raise. The backstop checkpoints.
                log.warning("the WAL checkpointer could not start a thread", path=self.path)
                return
            self._thread = thread

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running); no write starts another."""
        with self._lock:
            self._stopping.set()
            self._wrote.set()  # wakes an idle thread
            thread = self._thread
        if thread is not None:
            thread.join(_STOP_TIMEOUT_SECONDS)

    def _run(self) -> None:
        try:
            # Read-write, never create: a database file gone meanwhile stays gone.
            connection = sqlite3.connect(
                f"file:{quote(self.path)}?mode=rw", uri=True, isolation_level=None
            )
        except sqlite3.Error:
            log.exception("the WAL checkpointer cannot open the database", path=self.path)
            # Not a thread a write, each failing alike: the next try after an idle
            # while (the writers' backstop checkpoints meanwhile).
            self._stopping.wait(self.idle_seconds)
            with self._lock:
                self._thread = None
            return
        try:
            while self._next_write():
                # Writes of the next moments join this checkpoint; a stop cuts it short.
                if self._stopping.wait(self.settle_seconds):
                    return
                self._wrote.clear()
                self._checkpoint(connection)
        finally:
            connection.close()

    def _next_write(self) -> bool:
        """Wait for a write; False when stopping, or idle (the thread is then gone)."""
        while not self._stopping.is_set():
            if self._wrote.wait(self.idle_seconds):
                return not self._stopping.is_set()
            with self._lock:
                if not self._wrote.is_set():
                    self._thread = None
                    return False
        return False

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            # Returns (busy, pages in the log, pages copied). Pages left (another
            # connection's checkpoint held the lock, or a reader still needs them)
            # wait for the next write's checkpoint, or the backstop.
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:
            # The writers' backstop keeps the log bounded meanwhile.
            log.warning("WAL checkpoint failed", path=self.path, error=str(error))
            return
        self.checkpoints += 1
