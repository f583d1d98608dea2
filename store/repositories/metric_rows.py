"""Metric figures as rows: one per (metric, labels, minute), added to with an upsert.

Why rows and not Redis counters: rules, dashboards and tests read the same
figures on every install (SQLite on a laptop, PostgreSQL in production),
and a restart of Redis would not lose the last hour. Writers aggregate in
memory first (a batch, a tick), so the cost is one statement per flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MetricBucket

BUCKET_SECONDS = 60


@dataclass(frozen=True, slots=True)
class BucketAddition:
    """What one writer saw of one metric in one minute."""

    name: str
    labels: str
    bucket_start: datetime
    count: int
    total: float
    largest: float
    latest: float


@dataclass(frozen=True, slots=True)
class Figures:
    count: int
    total: float
    largest: float
    latest: float | None  # the newest bucket's last value (gauges)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def bucket_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def add_to_buckets(session: AsyncSession, additions: Iterable[BucketAddition]) -> None:
    """One upsert statement for all of them. Every batch adds to the same few rows
    (this minute's counters): row by row in a transaction, each batch held those
    rows' locks across as many round trips, and under a campaign nearly every
    batch stood waiting for them at its end. One statement holds them only while
    it runs; rows go in key order, so two writers never wait on each other in
    a circle."""
    merged: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for a in additions:
        key = (a.name, a.labels, a.bucket_start)
        row = merged.get(key)
        if row is None:
            merged[key] = {
                "name": a.name,
                "labels": a.labels,
                "bucket_start": a.bucket_start,
                "count": a.count,
                "total": a.total,
                "largest": a.largest,
                "latest": a.latest,
            }
        else:  # the same key twice in one statement is refused by PostgreSQL
            row["count"] += a.count
            row["total"] += a.total
            row["largest"] = max(row["largest"], a.largest)
            row["latest"] = a.latest
    if not merged:
        return
    rows = [merged[key] for key in sorted(merged)]
    table = MetricBucket.metadata.tables["metric_buckets"]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = (
        postgresql.insert(table).values(rows)
        if dialect == "postgresql"
        else sqlite.insert(table).values(rows)
    )
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=["name", "labels", "bucket_start"],
        set_={
            "count": table.c.count + excluded.count,
            "total": table.c.total + excluded.total,
            "largest": case(
                (excluded.largest > table.c.largest, excluded.largest), else_=table.c.largest
            ),
            "latest": excluded.latest,
        },
    )
    await session.execute(statement)


async def figures(
    session: AsyncSession, name: str, since: datetime, until: datetime, labels: str | None = None
) -> Figures:
    """The metric's samples in buckets starting in [since, until), all labels summed
    unless ``labels`` names one series."""
    scope = [
        MetricBucket.name == name,
        MetricBucket.bucket_start >= bucket_of(since),
        MetricBucket.bucket_start < until,
    ]
    if labels is not None:
        scope.append(MetricBucket.labels == labels)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(MetricBucket.count), 0),
                func.coalesce(func.sum(MetricBucket.total), 0.0),
                func.coalesce(func.max(MetricBucket.largest), 0.0),
            ).where(*scope)
        )
    ).one()
    newest = await session.scalar(
        select(func.sum(MetricBucket.latest))
        .where(*scope)
        .where(
            MetricBucket.bucket_start
            == select(func.max(MetricBucket.bucket_start)).where(*scope).scalar_subquery()
        )
    )
    return Figures(int(row[0]), float(row[1]), float(row[2]), newest)


async def forget_before(session: AsyncSession, moment: datetime) -> None:
    """Old buckets go: rules look back minutes, dashboards a few days."""
    await session.execute(delete(MetricBucket).where(MetricBucket.bucket_start < moment))
