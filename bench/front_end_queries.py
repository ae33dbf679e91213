"""Benchmark: what the front end's screens ask for, against the first page of the default list.

    uv run python bench/front_end_queries.py [--repeat 51]

Seeds 10 users with 10,000 tasks each (100,000 in all, the users' tasks interleaved as they would be written
over time), every task with a priority, two in five with a due date, and tags as people use them: "work" on a
quarter of the tasks, "home" on a fifth, a few rarer ones. Then, on PostgreSQL and on a SQLite file, it starts
``tasks-api serve`` and times through HTTP (median of ``--repeat``) one user's:

- default list, first page (no parameters: up to 1,000 tasks, newest first) — the reference;
- tag filter, first page (``tags=work``: 2,500 match, the first 1,000 answered);
- priority sort, first page (``sort=-priority``);
- metrics (``/tasks/metrics``);

and prints each against the reference. BENCH_DATABASE_URL names the PostgreSQL server. Results also go to
bench/results/front_end_queries.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from list_pagination import bench_database, database_url, median_ms, server

USERS, TASKS_PER_USER = 10, 10_000
RESULTS = Path(__file__).parent / "results" / "front_end_queries.json"
QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "default list, first page": ("/tasks", {}),
    "tag filter, first page": ("/tasks", {"tags": "work"}),
    "priority sort, first page": ("/tasks", {"sort": "-priority"}),
    "metrics": ("/tasks/metrics", {}),
}


def _tags(k: int) -> list[str]:
    """Tags as people use them, for a user's kth task: one common, one frequent, a few rare."""
    tags = []
    if k % 4 == 0:
        tags.append("work")
    if k % 5 == 1:
        tags.append("home")
    if k % 37 == 2:
        tags.append(f"project {k % 11}")
    return sorted(tags)


def _task(n: int, users: list[str], now: datetime) -> dict[str, Any]:
    """The nth task written, its user's kth: a third done, priorities alike, two in five with a due date."""
    k = n // USERS
    created = now - timedelta(seconds=(USERS * TASKS_PER_USER - n) * 7)
    return {
        "id": uuid.uuid4(),
        "user_id": users[n % USERS],
        "title": f"task {n}",
        "description": f"details of task {n}" if k % 2 else None,
        "is_completed": k % 3 == 0,
        "created_at": created,
        "priority": 1 + k // 3 % 3,
        "tags": _tags(k),
        "due_at": created + timedelta(days=k % 30 - 10) if k % 5 < 2 else None,
    }


_COLUMNS = "id, user_id, title, description, is_completed, created_at, updated_at, priority, tags, due_at"


def _rows(users: list[str]) -> Iterator[list[Any]]:
    """Every task as a row of ``_COLUMNS``."""
    now = datetime.now(UTC)
    for n in range(USERS * TASKS_PER_USER):
        task = _task(n, users, now)
        yield [
            *(task[key] for key in ("id", "user_id", "title", "description", "is_completed", "created_at")),
            task["created_at"],
            *(task[key] for key in ("priority", "tags", "due_at")),
        ]


def seed_postgresql(conninfo: str, users: list[str]) -> None:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        with connection.cursor() as cursor, cursor.copy(f"COPY tasks ({_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(users):
                copy.write_row(row)
        connection.execute("VACUUM ANALYZE")


def _as_sqlite_stores(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, list):
        return json.dumps(value)
    return value


def seed_sqlite(path: Path, users: list[str]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    rows = ([_as_sqlite_stores(value) for value in row] for row in _rows(users))
    connection.executemany(f"INSERT INTO tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    # No ANALYZE: the service never runs it, so its SQLite plans without statistics (PostgreSQL's autovacuum
    # gathers them).
    connection.close()


def measure(url: str, user: str, repeat: int) -> dict[str, float]:
    with server(url) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:

        def request(path: str, params: dict[str, Any]) -> Callable[[], object]:
            return lambda: client.get(f"/api/{user}{path}", params=params).raise_for_status()

        # Three interleaved rounds, the median kept: a drift in the machine's speed falls on every query alike.
        samples: dict[str, list[float]] = {name: [] for name in QUERIES}
        for _ in range(3):
            for name, (path, params) in QUERIES.items():
                samples[name].append(median_ms(request(path, params), repeat))
        return {name: sorted(values)[1] for name, values in samples.items()}


def migrate(url: str) -> None:
    environment = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "tasks_api.cli", "migrate"], env=environment, check=True, stderr=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=51, help="timed requests per measurement")
    args = parser.parse_args()
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    results: dict[str, dict[str, float]] = {}

    with bench_database() as conninfo:
        url = database_url(conninfo)
        migrate(url)
        started = time.perf_counter()
        seed_postgresql(conninfo, users)
        print(f"PostgreSQL: seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results["PostgreSQL"] = measure(url, users[0], args.repeat)

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tasks.db"
        url = f"sqlite:///{path}"
        migrate(url)
        started = time.perf_counter()
        seed_sqlite(path, users)
        print(f"SQLite: seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results["SQLite"] = measure(url, users[0], args.repeat)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Machine: {machine}; one user of {TASKS_PER_USER:,} tasks among {USERS * TASKS_PER_USER:,}", ""]
    lines += ["| request | PostgreSQL ms | ratio | SQLite ms | ratio |", "|---|---|---|---|---|"]
    for name in QUERIES:
        cells = []
        for database in ("PostgreSQL", "SQLite"):
            ms, reference = results[database][name], results[database]["default list, first page"]
            cells.append(f"{ms:.2f} | {ms / reference:.2f}x")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
