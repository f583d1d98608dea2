"""A worker process holds no batches it has not begun: a campaign's end is not left
waiting on one process's reserve while the others are idle."""

from __future__ import annotations

import uuid
from pathlib import Path

import dramatiq

from bot.dispatching import FetchesWhatItRuns, wire
from tests.dispatch_harness import running_fakes, settings_for


def test_a_worker_fetches_as_many_messages_as_it_has_threads(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    with running_fakes() as fakes:
        dispatching = wire(
            settings_for(sqlite_database_url, fakes, tmp_path), f"gctest-{uuid.uuid4().hex[:10]}"
        )
    broker = dispatching.broker
    assert any(isinstance(m, FetchesWhatItRuns) for m in broker.middleware)
    worker = dramatiq.Worker(broker, worker_threads=3)  # as Dramatiq's CLI makes it
    worker.start()
    try:
        assert worker.queue_prefetch == 3
        assert worker.worker_timeout == 100
        queues = {name: consumer.prefetch for name, consumer in worker.consumers.items()}
        assert queues
        assert all(prefetch == 3 for name, prefetch in queues.items() if not name.endswith(".DQ"))
    finally:
        worker.stop()
