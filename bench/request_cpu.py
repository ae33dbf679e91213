"""Where a get-one's server CPU goes: the ASGI apps driven in-process, without HTTP or a load generator.

    uv run python bench/request_cpu.py [--requests 6000] [--repeat 3]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default the local server) it seeds tasks, then runs
get-one requests straight into each app, 32 at a time, and prints the process CPU time per request (the
lowest of ``--repeat`` runs; this is the number that decides requests/s once a worker is CPU-bound):

- the raw floor (``bench/floor_app.py``), bare ASGI and Starlette;
- the service;
- the service with Connexion calling the handlers itself (what ``tasks_api.operations`` saves);
- the service with a get-one handler that answers a constant (its Connexion stack, request id and log);
- the service with the floor's own handler code and pool in place of its handler and data layer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import fresh_database

import handlers.tasks
from db.backends import open_database
from db.tasks import TaskFields, create_task
from db.urls import normalised_database_url
from tasks_api.app import create_app
from tasks_api.logs import logging_config
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings

CONCURRENCY = 32
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _seed(url: str) -> list[str]:
    database = open_database(normalised_database_url(url))
    await database.open()
    paths = []
    for _ in range(16):
        user = str(uuid.uuid4())
        async with database.unit_of_work() as work:
            for n in range(16):
                task_id, _ = await create_task(work, user, TaskFields(f"task {n}"))
                paths.append(f"/api/{user}/tasks/{task_id}")
    await database.dispose()
    return paths


async def _cpu_per_request(app: App, paths: list[str], requests: int, *, lifespan: bool = True) -> float:
    lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    state: dict[str, Any] = {}
    if lifespan:
        await lifespan_in.put({"type": "lifespan.startup"})
        startup = app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}, lifespan_in.get, lifespan_out.put
        )
        running = asyncio.ensure_future(startup)
        assert (await lifespan_out.get())["type"] == "lifespan.startup.complete"
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def worker(count: int) -> None:
        for _ in range(count):
            path = random.choice(paths)
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [(b"host", b"127.0.0.1")],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
                "state": dict(state),
            }
            await app(scope, receive, send)

    await asyncio.gather(*(worker(50) for _ in range(CONCURRENCY)))  # warm-up: caches, prepared statements
    started = time.process_time()
    await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
    cpu = time.process_time() - started
    if lifespan:
        await lifespan_in.put({"type": "lifespan.shutdown"})
        await running
    assert set(statuses) == {200}, set(statuses)
    return cpu * 1e6 / (requests // CONCURRENCY * CONCURRENCY)


@contextmanager
def _get_task_replaced(handler: Callable[..., Awaitable[Any]]) -> Iterator[None]:
    # Connexion resolves handlers when the app is built, so the app must be built inside this block.
    original = handlers.tasks.get_task
    handlers.tasks.get_task = handler  # type: ignore[assignment]
    try:
        yield
    finally:
        handlers.tasks.get_task = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Logging as the CLI configures it. Access lines are written to stderr whatever the logging config, so
    # stderr goes to /dev/null (the table goes to stdout) and their cost is still counted.
    logging.config.dictConfig(logging_config())
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    with fresh_database("cpu") as url:
        upgrade_to_head(normalised_database_url(url))
        os.environ["DATABASE_URL"] = url
        results = uvloop.run(_measure_all(url, args.requests, args.repeat))
    print("| app | server CPU per get-one, µs |\n|---|---|")
    for name, microseconds in results.items():
        print(f"| {name} | {microseconds:.0f} |")


async def _measure_all(url: str, requests: int, repeat: int) -> dict[str, float]:
    import floor_app  # its pool reads DATABASE_URL at import
    from starlette.responses import Response

    paths = await _seed(url)
    settings = Settings(database_url=normalised_database_url(url))

    async def constant(user_id: str, task_id: str) -> Response:
        return Response(b'{"id": "constant"}', media_type="application/json")

    async def floor_handler(user_id: str, task_id: str) -> Response:
        async with floor_app.pool.connection() as connection:
            document = await floor_app.fetch_task(connection, user_id, task_id)
        assert document is not None
        return Response(document, media_type="application/json")

    async def lowest(build: Callable[[], App], lifespan: bool = True) -> float:
        return min([await _cpu_per_request(build(), paths, requests, lifespan=lifespan) for _ in range(repeat)])

    results: dict[str, float] = {}
    # Opened once for both its uses: a psycopg pool cannot be opened again once closed.
    await floor_app.pool.open()
    results["raw floor"] = await lowest(lambda: floor_app.app, lifespan=False)
    results["Starlette floor"] = await lowest(lambda: floor_app.starlette_app, lifespan=False)
    results["service"] = await lowest(lambda: create_app(settings))
    results["service, Connexion's own handler call"] = await lowest(
        lambda: create_app(settings, connexion_reference=True)
    )
    with _get_task_replaced(constant):
        results["service, constant get-one handler"] = await lowest(lambda: create_app(settings))
    with _get_task_replaced(floor_handler):
        results["service, the floor's handler and pool"] = await lowest(lambda: create_app(settings))
    await floor_app.pool.close()
    return results


if __name__ == "__main__":
    main()
