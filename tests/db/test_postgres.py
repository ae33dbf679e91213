"""The PostgreSQL pool's checkout check: a connection the server ended is refused without a round trip."""

from __future__ import annotations

import asyncio
import select
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from db.postgres import _still_connected
from tests.support import fresh_database, sync_conninfo


@pytest.fixture(scope="module")
def conninfo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", Path(tmp_path_factory.mktemp("postgres"))) as url:
        yield sync_conninfo(url)


def test_a_healthy_idle_connection_passes(conninfo: str) -> None:
    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
            await _still_connected(connection)
            return connection.closed

    assert asyncio.run(check()) is False


def test_a_connection_the_server_ended_is_refused_and_closed(conninfo: str) -> None:
    async def check() -> bool:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
        # The server's farewell arriving on the socket is the event the check looks for.
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 30)
        assert readable
        with pytest.raises(psycopg.OperationalError):
            await _still_connected(connection)
        return connection.closed

    assert asyncio.run(check()) is True


def test_a_closed_connection_is_refused(conninfo: str) -> None:
    async def check() -> None:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await connection.close()
        with pytest.raises(psycopg.OperationalError):
            await _still_connected(connection)

    asyncio.run(check())
