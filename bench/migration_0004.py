"""How long migrations 0004 and 0005 (user ids as text, priority, tags, due dates) take from the release before
them, and what they block meanwhile.

    uv run python bench/migration_0004.py [--rows 1000000] [--users 10000]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default the local server) migrated to 0003, it writes
``--rows`` tasks (spread over ``--users`` users, as the previous release stored them), then upgrades to head
while another connection reads a task every 50 ms, and prints how long the upgrade took, the longest a read waited
and the lock the migration held. Then the same on a SQLite file. Each number is per run; divide by the rows for
the rate.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic import command

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import fresh_database

from db.urls import normalised_database_url
from tasks_api.migrations import alembic_config

# A timestamp as SQLAlchemy kept it on SQLite.
_MOMENT = "2026-11-30 12:00:00.000000"
_SEED_POSTGRESQL = """
    INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, version)
    SELECT gen_random_uuid(), users.id[1 + n %% %(users)s], 'task ' || n, CASE WHEN n %% 2 = 0 THEN 'note ' || n END,
           n %% 3 = 0, now() - n * interval '1 second', now() - n * interval '1 second', 1 + n %% 5
    FROM generate_series(1, %(rows)s) AS n,
         (SELECT array_agg(gen_random_uuid()) AS id FROM generate_series(1, %(users)s)) AS users
"""


def _reader(read: Callable[[], object], stop: threading.Event, waits: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        read()
        waits.append(time.perf_counter() - started)
        stop.wait(0.05)


def postgresql(rows: int, users: int) -> None:
    with fresh_database("migration") as url:
        service_url = normalised_database_url(url)
        config = alembic_config(service_url)
        command.upgrade(config, "0003")
        with psycopg.connect(url, autocommit=True) as connection:
            started = time.perf_counter()
            connection.execute(_SEED_POSTGRESQL, {"rows": rows, "users": users})
            connection.execute("VACUUM ANALYZE tasks")
            print(f"PostgreSQL: {rows:,} tasks of {users:,} users written in {time.perf_counter() - started:.1f} s")
            task_id, owner = connection.execute("SELECT id, user_id FROM tasks LIMIT 1").fetchone() or (None, None)
        size = _table_size(url)

        with psycopg.connect(url, autocommit=True) as reading:
            reading.execute("SET lock_timeout = '10min'")
            read = lambda: reading.execute("SELECT title FROM tasks WHERE id = %s", (task_id,)).fetchone()  # noqa: E731
            stop, waits = threading.Event(), list[float]()
            reader = threading.Thread(target=_reader, args=(read, stop, waits))
            reader.start()
            started = time.perf_counter()
            command.upgrade(config, "head")
            took = time.perf_counter() - started
            stop.set()
            reader.join()
        print(
            f"PostgreSQL: upgrade to head (0004, 0005) took {took:.1f} s ({took / rows * 1e6:.1f} s per million"
            f" tasks; tasks {size}); ACCESS EXCLUSIVE on tasks and task_counts until it committed: the longest"
            f" read meanwhile waited {max(waits):.1f} s"
        )
        assert owner is not None


def _table_size(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_size_pretty(pg_total_relation_size('tasks'))").fetchone()
    return str(row[0]) if row else "?"


def sqlite(rows: int, users: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tasks.db"
        config = alembic_config(f"sqlite:///{path}")
        command.upgrade(config, "0003")
        owners = [uuid.uuid4().hex for _ in range(users)]
        connection = sqlite3.connect(path, isolation_level=None)
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO tasks (id, user_id, title, is_completed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            ((uuid.uuid4().hex, owners[n % users], f"task {n}", n % 3 == 0, _MOMENT, _MOMENT) for n in range(rows)),
        )
        connection.execute("COMMIT")
        print(f"SQLite: {rows:,} tasks written in {time.perf_counter() - started:.1f} s")
        connection.close()
        started = time.perf_counter()
        command.upgrade(config, "head")
        took = time.perf_counter() - started
        print(
            f"SQLite: upgrade to head (0004, 0005) took {took:.1f} s ({took / rows * 1e6:.1f} s per million"
            f" tasks), holding the write lock throughout (reads go on in WAL mode)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    postgresql(args.rows, args.users)
    sqlite(args.rows, args.users)


if __name__ == "__main__":
    main()
