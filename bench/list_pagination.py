"""Benchmark: list latency for a user with 100,000 tasks against one with 1,000, on PostgreSQL.

Seeds one user with 100,000 tasks, 20 others with 10,000 each and a small user with 1,000 in a fresh
database, starts `tasks-api serve` on it, and reports through HTTP the median time of the first page
(limit 50) for every sort, for both users, and of walking all pages at limit 1000.

    uv run python bench/list_pagination.py [--repeat 51]

BENCH_DATABASE_URL names the server and a database to connect to for creating the benchmark's own
(default postgresql://postgres@127.0.0.1:5432/test). Results also go to bench/results/list_pagination.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from tasks_api.specification import load_specification

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SORTS: list[str] = load_specification()["components"]["schemas"]["TaskSort"]["enum"]
RESULTS = Path(__file__).parent / "results" / "list_pagination.json"
SEED = """
    INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, priority, due_at)
    SELECT gen_random_uuid(), %(user_id)s, 'task ' || md5(n::text), 'details ' || n, n %% 3 = 0,
           now() - n * interval '1 second', now() - (n %% 977) * interval '1 minute', 1 + n %% 3,
           CASE WHEN n %% 3 = 1 THEN now() + (n %% 1000 - 500) * interval '1 hour' END
    FROM generate_series(1, %(tasks)s) AS n
"""


@contextmanager
def bench_database() -> Iterator[str]:
    name = f"tasks_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield str(psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_url(conninfo: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    auth = str(params.get("user", "postgres")) + (f":{params['password']}" if params.get("password") else "")
    return f"postgresql://{auth}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{params['dbname']}"


def seed(conninfo: str, users: dict[str, int]) -> None:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for user_id, tasks in users.items():
            connection.execute(SEED, {"user_id": user_id, "tasks": tasks})
        connection.execute("VACUUM ANALYZE tasks")
        connection.execute("VACUUM ANALYZE task_counts")


@contextmanager
def server(url: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tasks_api.cli", "serve", "--port", str(port), "--no-migrate"],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "Uvicorn running on" in line:
            break
    else:
        raise SystemExit(f"server did not start: exit {process.wait()}")
    # Keep draining the server's log so it can never block on a full pipe.
    threading.Thread(target=process.stderr.read, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: connection, plans, caches
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=51, help="timed requests per measurement")
    args = parser.parse_args()

    big, small = str(uuid.uuid4()), str(uuid.uuid4())
    users = {big: 100_000, small: 1_000, **{str(uuid.uuid4()): 10_000 for _ in range(20)}}
    with bench_database() as conninfo:
        url = database_url(conninfo)
        subprocess.run(
            [sys.executable, "-m", "tasks_api.cli", "migrate"], env={**os.environ, "DATABASE_URL": url}, check=True
        )
        started = time.perf_counter()
        seed(conninfo, users)
        print(f"seeded {sum(users.values()):,} tasks in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        with server(url) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:

            def first_page(user: str, sort: str) -> Callable[[], object]:
                def fetch() -> object:
                    response = client.get(f"/api/{user}/tasks", params={"sort": sort, "limit": 50})
                    response.raise_for_status()
                    return response

                return fetch

            def walk() -> None:
                params: dict[str, str | int] = {"limit": 1000}
                pages = 0
                while True:
                    page = client.get(f"/api/{big}/tasks", params=params).raise_for_status().json()
                    pages += 1
                    if page["next_cursor"] is None:
                        assert pages == 100, pages
                        return
                    params["cursor"] = page["next_cursor"]

            rows: list[dict[str, Any]] = []
            for sort in SORTS:
                at_100k = median_ms(first_page(big, sort), args.repeat)
                at_1k = median_ms(first_page(small, sort), args.repeat)
                rows.append({"sort": sort, "first_page_ms_100k": at_100k, "first_page_ms_1k": at_1k})
            walk_ms = median_ms(walk, 5)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    report = [f"Machine: {machine}", "", "| sort | first page (limit 50), 100,000 tasks | 1,000 tasks | ratio |"]
    report.append("|---|---|---|---|")
    for row in rows:
        row["ratio"] = row["first_page_ms_100k"] / row["first_page_ms_1k"]
        timings = f"{row['first_page_ms_100k']:.2f} ms | {row['first_page_ms_1k']:.2f} ms"
        report.append(f"| `{row['sort']}` | {timings} | {row['ratio']:.2f}x |")
    report += ["", f"Walking all 100 pages at limit 1000: median {walk_ms:.0f} ms ({walk_ms / 100:.1f} ms a page)"]
    print("\n".join(report))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"first_page": rows, "walk_100k_limit_1000_ms": walk_ms}, indent=2))


if __name__ == "__main__":
    main()
