"""What every SQLite connection of the service is set up with."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from db.database import PoolOptions
from db.sqlite import SQLITE_BUSY_TIMEOUT_MS, SQLiteDatabase
from db.urls import normalised_database_url


def _answers(path: Path, *queries: str) -> list[object]:
    async def run() -> list[object]:
        database = SQLiteDatabase(normalised_database_url(f"sqlite:///{path}"), PoolOptions())
        try:
            answers = []
            async with database.unit_of_work() as work:
                for query in queries:
                    row = await work.fetch_one(text(query), {})
                    assert row is not None
                    answers.append(row[0])
            return answers
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_lower_folds_every_letter_as_postgresql_does(tmp_path: Path) -> None:
    assert _answers(tmp_path / "tasks.db", "SELECT lower('ÉCOLE Ωμέγα')", "SELECT lower(NULL)") == ["école ωμέγα", None]


def test_readers_run_beside_the_writer_and_writers_queue(tmp_path: Path) -> None:
    journal, busy_timeout = _answers(tmp_path / "tasks.db", "PRAGMA journal_mode", "PRAGMA busy_timeout")

    assert journal == "wal"
    assert busy_timeout == SQLITE_BUSY_TIMEOUT_MS
