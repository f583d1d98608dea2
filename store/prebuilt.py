"""Statements built once and run on the session's connection: for the hot paths' inserts.

Building ``insert(table).on_conflict_do_nothing(…).returning(…)`` and
generating its cache key costs about 50 µs each time, and the ORM layer of
``session.execute`` another 20 µs, before SQLAlchemy finds the compiled form
it cached the first time. The group commit of guests' replies runs four such
inserts a batch. A statement object built once keeps its cache key, so each
run goes straight to the compiled form; run through ``Connection.execute``
it skips the ORM's execution layer, which a Core insert into a table does not
need — the same transaction, the same connection, no autoflush (callers flush
first where an insert depends on pending ORM objects; these do not).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncSession


class PerDialect:
    """A statement whose form depends on the dialect (INSERT … ON CONFLICT is
    PostgreSQL's or SQLite's), built on first use for each."""

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._built: dict[str, Executable] = {}

    def for_dialect(self, dialect: Dialect) -> Executable:
        statement = self._built.get(dialect.name)
        if statement is None:
            statement = self._built[dialect.name] = self._build(dialect.name)
        return statement


async def run(
    session: AsyncSession,
    statement: Executable | PerDialect,
    rows: Sequence[Mapping[str, Any]],
) -> CursorResult[*tuple[Any, ...]]:
    """Execute ``statement`` for ``rows`` (executemany; one multi-row INSERT where the
    dialect can) on the session's connection, inside its transaction."""
    connection = await session.connection()
    if isinstance(statement, PerDialect):
        statement = statement.for_dialect(connection.dialect)
    return await connection.execute(statement, list(rows))
