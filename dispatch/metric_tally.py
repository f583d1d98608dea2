"""Metrics counted in memory while work happens, written as minute buckets in one go.

A batch or a tick adds to a tally per message at the cost of a dict update;
``flush`` then writes one upsert per (metric, labels, minute) it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog

from store.database import Database
from store.repositories.metric_rows import BucketAddition, add_to_buckets, bucket_of

log = structlog.get_logger(__name__)

_Key = tuple[str, str, datetime]


@dataclass
class _Series:
    count: int = 0
    total: float = 0.0
    largest: float = 0.0
    latest: float = 0.0


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


@dataclass
class MetricTally:
    _series: dict[_Key, _Series] = field(default_factory=dict)

    def count(self, name: str, at: datetime, **labels: str) -> None:
        """One more event (a message sent, an opt-out …)."""
        self.add(name, at, 1, labels)

    def add(self, name: str, at: datetime, n: int, labels: dict[str, str]) -> None:
        """``n`` more events."""
        series = self._at(name, at, labels)
        series.count += n
        series.total += n
        series.latest = float(n)
        series.largest = max(series.largest, float(n))

    def observe(self, name: str, value: float, at: datetime, **labels: str) -> None:
        """A measurement (a latency, a queue size): its mean, largest and latest are kept."""
        series = self._at(name, at, labels)
        series.count += 1
        series.total += value
        series.largest = max(series.largest, value) if series.count > 1 else value
        series.latest = value

    def observe_many(
        self, name: str, total: float, count: int, at: datetime, **labels: str
    ) -> None:
        """``count`` measurements known only by their sum (a histogram's growth)."""
        series = self._at(name, at, labels)
        mean = total / count
        series.largest = max(series.largest, mean) if series.count else mean
        series.count += count
        series.total += total
        series.latest = mean

    def _at(self, name: str, at: datetime, labels: dict[str, str]) -> _Series:
        return self._series.setdefault((name, labels_text(labels), bucket_of(at)), _Series())

    def drain(self) -> list[BucketAddition]:
        series, self._series = self._series, {}
        return [
            BucketAddition(name, labels, start, s.count, s.total, s.largest, s.latest)
            for (name, labels, start), s in series.items()
        ]

    async def flush(self, database: Database) -> None:
        """Write what was counted. Figures are for alerts and dashboards: a failed write
        is logged and dropped, never allowed to fail the work it describes."""
        additions = self.drain()
        if not additions:
            return
        try:
            # One statement (store/repositories/metric_rows.py): autocommit on PostgreSQL,
            # so the counters' rows are locked only while it runs.
            async with database.one_statement() as session:
                await add_to_buckets(session, additions)
        except Exception:
            log.exception("could not record metrics", metrics=len(additions))
