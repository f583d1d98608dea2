"""Where a person's data still lies: every column of every table, read with raw SQL.

Generic over ``Base.metadata``, so a table added later is scanned too. Each
column is cast to text (JSON documents included) and matched without regard
to case, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from store.database import Database
from store.models import Base


async def where_found(database: Database, needles: Iterable[str]) -> list[str]:
    """``table.column: needle`` for every column that holds one of the needles."""
    found: list[str] = []
    async with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                for needle in needles:
                    # Names from the models, never from input.
                    query = (
                        f'SELECT count(*) FROM "{table.name}" '  # noqa: S608
                        f'WHERE lower(CAST("{column.name}" AS TEXT)) LIKE :pattern'
                    )
                    count = await connection.scalar(
                        text(query),
                        {"pattern": f"%{needle.lower()}%"},
                    )
                    if count:
                        found.append(f"{table.name}.{column.name}: {needle}")
    return found
