"""Benchmark: instructions per request, this build against an earlier release, counted by callgrind.

    uv run python bench/instructions.py [--release c5bc96e] [--workloads get create list]

On this VM the speed drifts by 20-30% within minutes, more than the differences worth finding; an instruction
count does not drift. For each workload and each build it runs ``bench/instructions.py --drive`` (the service's
ASGI app driven in process, 32 requests at a time, on a fresh SQLite file, logging off, the garbage collector's
start-up objects frozen as ``serve`` does) under ``valgrind --tool=callgrind`` twice, with a few and with many
requests, and takes the difference per request: start-up, the same in both runs, cancels out. SQLite runs in the
process, so its work is counted too. The earlier release is checked out and installed as
``bench/previous_release.py`` does. Workloads: get one, create, a list of 1,000 (a tenth as many requests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FEW, MANY = 200, 1000
CONCURRENCY = 32


# ---- the driver, run in either build's interpreter (imports only what both builds have) ----------------------


async def _drive(
    app: Any, state: dict[str, Any], method: str, path: Callable[[int], str], body: bytes, n: int
) -> list[bytes]:
    """``n`` requests straight into the ASGI app; their bodies."""
    slots = asyncio.Semaphore(CONCURRENCY)
    answers: list[bytes] = []

    async def one(i: int) -> None:
        async with slots:
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            headers = [(b"host", b"bench")]
            if body:
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            target = path(i)
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
                "path": target, "raw_path": target.encode(), "query_string": b"", "root_path": "", "headers": headers,
                "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": dict(state),
            }  # fmt: skip
            await app(scope, receive, send)
            assert sent[0]["status"] in (200, 201), sent
            answers.append(sent[1]["body"])

    await asyncio.gather(*(one(i) for i in range(n)))
    return answers


@asynccontextmanager
async def _served(app: Any, state: dict[str, Any]) -> AsyncIterator[None]:
    started, stopping = asyncio.Event(), asyncio.Event()
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await stopping.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}, receive, send))
    await started.wait()
    try:
        yield
    finally:
        stopping.set()
        await lifespan


async def drive(database_url: str, workload: str, n: int) -> None:
    import orjson

    from tasks_api.app import create_app
    from tasks_api.settings import Settings

    app = create_app(Settings(database_url=database_url, access_log=False), freeze_after_startup=True)
    state: dict[str, Any] = {}
    users = [str(uuid.uuid4()) for _ in range(64)]
    body = orjson.dumps({"title": "benchmark task", "description": "created under load"})
    async with _served(app, state):
        created = await _drive(app, state, "POST", lambda i: f"/api/{users[i % 64]}/tasks", body, 1000)
        if workload == "create":
            await _drive(app, state, "POST", lambda i: f"/api/{users[i % 64]}/tasks", body, n)
        elif workload == "get":
            tasks = [f"/api/{task['user_id']}/tasks/{task['id']}" for task in map(orjson.loads, created)]
            await _drive(app, state, "GET", lambda i: tasks[i % len(tasks)], b"", n)
        else:
            listed = str(uuid.uuid4())
            await _drive(app, state, "POST", lambda i: f"/api/{listed}/tasks", body, 1000)
            await _drive(app, state, "GET", lambda i: f"/api/{listed}/tasks", b"", n // 10)


# ---- the orchestration ------------------------------------------------------------------------------------


def instructions(python: Path, tasks_api: Path, workload: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/tasks.db"
        subprocess.run([str(tasks_api), "migrate"], env={**os.environ, "DATABASE_URL": url}, check=True,
                       capture_output=True)  # fmt: skip
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(python), __file__, "--drive"]
        run = subprocess.run([*command, url, workload, str(n)], cwd=tasks_api.parent.parent.parent, capture_output=True,
                             text=True, check=True)  # fmt: skip
        match = re.search(r"Collected : (\d+)", run.stderr)
        assert match, run.stderr
        return int(match.group(1))


def per_request(python: Path, tasks_api: Path, workload: str) -> float:
    with ThreadPoolExecutor(2) as runs:  # one per core
        few, many = runs.map(lambda n: instructions(python, tasks_api, workload, n), (FEW, MANY))
    requests = (MANY - FEW) // (10 if workload == "list" else 1)
    return (many - few) / requests


def main() -> None:
    if sys.argv[1:2] == ["--drive"]:
        sys.path.insert(0, os.getcwd())
        asyncio.run(drive(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", default="c5bc96e", help="the commit to count against")
    parser.add_argument("--workloads", nargs="+", default=["get", "create", "list"])
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from previous_release import checked_out

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        previous = checked_out(args.release, Path(scratch))
        builds = {"this build": ROOT / ".venv" / "bin" / "tasks-api", args.release: previous}
        lines = [f"| workload | this build, instructions per request | {args.release} | ratio (theirs / ours) |"]
        lines.append("|---|---|---|---|")
        for workload in args.workloads:
            counts = {name: per_request(path.parent / "python", path, workload) for name, path in builds.items()}
            ours, theirs = counts["this build"], counts[args.release]
            lines.append(f"| {workload} | {ours:,.0f} | {theirs:,.0f} | {theirs / ours:.3f}x |")
            print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
