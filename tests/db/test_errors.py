"""Which database errors mean "not there right now" (503, retry) and which mean a wrong query (500, a bug)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg
from psycopg_pool import PoolTimeout
from sqlalchemy import create_engine, exc, text

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
        exc.TimeoutError("QueuePool limit reached"),
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


@contextmanager
def _raised_by_sqlalchemy() -> Iterator[pytest.ExceptionInfo[exc.DBAPIError]]:
    with pytest.raises(exc.DBAPIError) as raised:
        yield raised


def test_sqlite_that_cannot_open_its_file_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-directory' / 'tasks.db'}")
    with _raised_by_sqlalchemy() as raised, engine.connect():
        pass

    assert raised.value.orig.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN  # type: ignore[union-attr]
    assert is_unavailable(raised.value)


def test_sqlite_locked_by_another_writer_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    with sqlite3.connect(path, isolation_level=None) as writer:
        writer.execute("CREATE TABLE t (x INTEGER)")
        writer.execute("BEGIN IMMEDIATE")
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
        with _raised_by_sqlalchemy() as raised, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        writer.execute("ROLLBACK")
    engine.dispose()

    assert raised.value.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY  # type: ignore[union-attr]
    assert is_unavailable(raised.value)


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("SELECT * FROM missing", sqlite3.SQLITE_ERROR),
        ("INSERT INTO t VALUES (NULL)", sqlite3.SQLITE_CONSTRAINT_NOTNULL),
    ],
    ids=["no-such-table", "constraint"],
)
def test_a_query_sqlite_refuses_is_a_bug(statement: str, code: int) -> None:
    engine = create_engine("sqlite://")
    with _raised_by_sqlalchemy() as raised, engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER NOT NULL)"))
        connection.execute(text(statement))

    assert raised.value.orig.sqlite_errorcode == code  # type: ignore[union-attr]
    assert not is_unavailable(raised.value)


def test_a_connection_sqlalchemy_invalidated_is_unavailable() -> None:
    error = exc.DBAPIError("SELECT 1", {}, sqlite3.DatabaseError("disk I/O error"), connection_invalidated=True)

    assert is_unavailable(error)


def test_wrapped_errors_of_a_driver_without_result_codes_go_by_their_class() -> None:
    assert is_unavailable(exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not is_unavailable(exc.ProgrammingError("SELECT 1", {}, Exception("syntax error")))
