"""The app on a real socket, raw HTTP to it, and a count of every row in its database.

Fuzz tests send thousands of requests; a background server and plain
``http.client`` keep each one cheap and let a test send any bytes and headers.
"""

from __future__ import annotations

import asyncio
import http.client
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from handlers.app import create_app
from store.models import Base
from tests.conftest import open_database, sqlite_url
from tests.dispatch_harness import make_guests
from tests.fakes.server import BackgroundServer
from tests.web_harness import app_settings


@dataclass
class ServedApp:
    server: BackgroundServer
    database_path: Path

    def send(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def rows(self) -> dict[str, int]:
        """Rows of every table that holds state. Monitoring's minute buckets are left
        out: they time every answer, a refused one too (a flood of forged requests
        is load that on-call must see)."""
        counts: dict[str, int] = {}
        with sqlite3.connect(self.database_path) as connection:
            for table in Base.metadata.sorted_tables:  # our own table names, not input
                if table.name in MONITORING_TABLES:
                    continue
                query = f'SELECT count(*) FROM "{table.name}"'  # noqa: S608
                counts[table.name] = connection.execute(query).fetchone()[0]
        return counts


MONITORING_TABLES = frozenset({"metric_buckets"})


async def _with_guests(url: str) -> None:
    database = open_database(url)
    try:
        await make_guests(database, 3)
    finally:
        await database.dispose()


def served_app(template: Path, directory: Path) -> Iterator[ServedApp]:
    path = directory / "fuzz.db"
    shutil.copy(template, path)
    asyncio.run(_with_guests(sqlite_url(path)))
    with BackgroundServer(create_app(app_settings(sqlite_url(path)))) as server:
        yield ServedApp(server, path)
