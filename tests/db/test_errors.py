"""Which database errors mean "not there right now" (503, retry) and which mean a wrong query (500, a bug)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from db.errors import is_unavailable


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),
        pg.AdminShutdown("terminating connection due to administrator command"),
        pg.QueryCanceled("canceling statement due to statement timeout"),
        PoolTimeout("couldn't get a connection after 1.00 sec"),
        psycopg.InterfaceError("the connection is closed"),
        ConnectionResetError(),
        TimeoutError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_database_out_of_reach_is_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        pg.UndefinedTable('relation "tasks" does not exist'),
        pg.SyntaxError("syntax error"),
        pg.UniqueViolation("duplicate key"),
        psycopg.DataError("invalid input syntax for type uuid"),
        ValueError("not a database error"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_query_postgresql_refuses_is_a_bug(error: BaseException) -> None:
    assert not is_unavailable(error)


def test_sqlite_that_cannot_open_its_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as raised:
        sqlite3.connect(tmp_path / "missing-directory" / "tasks.db")

    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN
    assert is_unavailable(raised.value)


def test_sqlite_locked_by_another_writer_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    with sqlite3.connect(path, isolation_level=None) as writer, sqlite3.connect(path, timeout=0) as other:
        writer.execute("CREATE TABLE t (x INTEGER)")
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as raised:
            other.execute("INSERT INTO t VALUES (1)")
        writer.execute("ROLLBACK")

    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert is_unavailable(raised.value)


@pytest.mark.parametrize(
    ("statement", "code", "error_type"),
    [
        ("SELECT * FROM missing", sqlite3.SQLITE_ERROR, sqlite3.OperationalError),
        ("INSERT INTO t VALUES (NULL)", sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.IntegrityError),
    ],
    ids=["no-such-table", "constraint"],
)
def test_a_query_sqlite_refuses_is_a_bug(statement: str, code: int, error_type: type[sqlite3.Error]) -> None:
    with sqlite3.connect(":memory:") as connection, pytest.raises(error_type) as raised:
        connection.execute("CREATE TABLE t (x INTEGER NOT NULL)")
        connection.execute(statement)

    assert raised.value.sqlite_errorcode == code
    assert not is_unavailable(raised.value)


def test_a_closed_sqlite_connection_is_a_bug() -> None:
    connection = sqlite3.connect(":memory:")
    connection.close()
    with pytest.raises(sqlite3.ProgrammingError) as raised:
        connection.execute("SELECT 1")

    assert not is_unavailable(raised.value)
