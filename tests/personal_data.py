"""Where a person's data still lies: every column of every table, read with raw SQL.

Generic over ``Base.metadata``, so a table added later is scanned too. Each
column is cast to text (JSON documents included) and matched without regard
to case, on SQLite and PostgreSQL alike. Encrypted columns are also opened
with the database's keys, and blind indexes compared with the needle's index:
data that is only encrypted or hashed is still there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.database import Database
from store.keyring import is_encrypted
from store.models import Base
from store.models.sealed import BlindIndex, SealedText


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
                if isinstance(column.type, SealedText):
                    found += await _sealed(database, connection, table.name, column.name, needles)
                if isinstance(column.type, BlindIndex):
                    kind = column.type.kind
                    for needle in needles:
                        count = await connection.scalar(
                            text(
                                f'SELECT count(*) FROM "{table.name}" '  # noqa: S608
                                f'WHERE "{column.name}" = :index'
                            ),
                            {"index": database.keyring.index(kind, needle)},
                        )
                        if count:
                            found.append(f"{table.name}.{column.name}: index of {needle}")
    return found


async def _sealed(
    database: Database, connection: AsyncConnection, table: str, column: str, needles: Iterable[str]
) -> list[str]:
    """The needles that an encrypted column holds once opened."""
    values = await connection.scalars(
        text(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608
    )
    opened = [database.keyring.decrypt(value).lower() for value in values if is_encrypted(value)]
    return [
        f"{table}.{column}: {needle} (encrypted)"
        for needle in needles
        if any(needle.lower() in value for value in opened)
    ]
