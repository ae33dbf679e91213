"""Small helpers shared by the tests: fresh databases, random users, a real server on a free port."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import psycopg
import pytest
import uvicorn
from psycopg import sql
from sqlalchemy import bindparam, insert
from sqlalchemy.engine import make_url

from db import models
from db.urls import is_sqlite, normalised_database_url
from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.specification import load_specification
from tests import processes

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("TASKS_API_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")
TASKS_API = str(Path(sys.executable).parent / "tasks-api")
# Figures tests measured, printed at the end of the run (see conftest.py).
MEASUREMENTS: dict[str, str] = {}


Task = dict[str, Any]


def new_user() -> str:
    return str(uuid.uuid4())


def better_auth_id() -> str:
    """A user id as Better Auth 1.4 makes one: 32 letters and digits, case-sensitive (an opaque user id)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def post_task(client: Any, user: str, title: str = "a task", **fields: Any) -> Any:
    """Creates a task through the API (a test client or an httpx client); the 201 response."""
    response = client.post(f"/api/{user}/tasks", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response


def create_task(client: Any, user: str, title: str = "a task", **fields: Any) -> Task:
    """Creates a task through the API; the task."""
    task: Task = post_task(client, user, title, **fields).json()
    return task


def newest_first(tasks: Iterable[Task]) -> list[Task]:
    """Tasks in the list's default order."""
    return sorted(tasks, key=lambda task: (task["created_at"], task["id"]), reverse=True)


RANKS = {"Low": 1, "Medium": 2, "High": 3}
# Every sort a list takes.
SORTS: list[str] = load_specification()["components"]["schemas"]["TaskSort"]["enum"]


def expected_order(tasks: list[Task], sort: str) -> list[str]:
    """The ids in a sort's order: by its key, then by id; by priority's rank or the due date, then by creation and
    id, with tasks without a due date last both ways."""
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    if key == "priority":
        ordered = sorted(tasks, key=lambda task: (RANKS[task["priority"]], task["created_at"], task["id"]))
    elif key == "due_at":
        dated = sorted((t for t in tasks if t["due_at"]), key=lambda t: (t["due_at"], t["created_at"], t["id"]))
        undated = sorted((t for t in tasks if not t["due_at"]), key=lambda t: (t["created_at"], t["id"]))
        if descending:
            dated.reverse()
            undated.reverse()
        return [task["id"] for task in dated + undated]
    else:
        ordered = sorted(tasks, key=lambda task: (task[key], task["id"]))
    return [task["id"] for task in (reversed(ordered) if descending else ordered)]


def assert_problem(response: Any, status: int, error_code: str | None = None) -> dict[str, Any]:
    """An error answer: problem+json with the status, a stable error code and no internals; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["error_code"] == error_code if error_code is not None else problem["error_code"]
    assert problem["title"] and problem["type"]
    assert isinstance(problem["detail"], str)
    assert "Traceback" not in response.text
    return problem


def _postgres_available() -> None:
    """Skip (or, where PostgreSQL is required, fail) when the test server cannot be reached."""
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """An empty database of the given kind that is dropped afterwards; yields its service URL."""
    if backend == "sqlite":
        yield normalised_database_url(f"sqlite:///{directory / f'tasks-{uuid.uuid4().hex}.db'}")
        return
    _postgres_available()
    name = f"tasks_test_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield normalised_database_url(
            make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def running_server(app: Any, **config: Any) -> Iterator[str]:
    """Serves ``app`` with uvicorn (with any other ``uvicorn.Config`` options given) on a free port; yields its
    base URL.

    The socket is listening before the server thread starts, so clients can connect at once and are
    answered as soon as start-up completes: nothing has to wait or poll.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    host, port = listener.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, **{"log_level": "warning", "lifespan": "on", **config}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@contextmanager
def running_app(settings: Settings) -> Iterator[str]:
    """``running_server`` for the app ``settings`` make, without access lines: they are written once a response
    has gone, when the test may be over and pytest no longer captures what is written, so they would land among
    the progress dots."""
    with running_server(create_app(replace(settings, access_log=False))) as base_url:
        yield base_url


class ServerProcess:
    """A ``tasks-api serve`` child process; ``log`` collects its stderr lines (JSON, one per line)."""

    def __init__(self, base_url: str, process: subprocess.Popen[str], log: list[str]) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log
        self.draining: threading.Thread | None = None

    def stop(self) -> int:
        """SIGTERM, then the exit status once the process and its log have both ended."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=30)
        if self.draining is not None:
            self.draining.join(timeout=30)
        return status


def _launch(database_url: str, options: tuple[str, ...], environment: dict[str, str]) -> ServerProcess:
    port = closed_port()
    process = processes.start(
        [TASKS_API, "serve", "--port", str(port), *options],
        env={**os.environ, "DATABASE_URL": database_url, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return ServerProcess(f"http://127.0.0.1:{port}", process, [])


def _await_start(server: ServerProcess) -> None:
    stderr = server.process.stderr
    assert stderr is not None
    # uvicorn announces the bound socket once start-up is complete.
    for line in stderr:
        server.log.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        raise AssertionError(f"server exited with {server.process.wait()}:\n{''.join(server.log)}")
    # Keep draining the log so the server can never block on a full pipe.
    server.draining = threading.Thread(target=lambda: server.log.extend(stderr), daemon=True)
    server.draining.start()


@contextmanager
def serving_together(count: int, database_url: str, *options: str, **environment: str) -> Iterator[list[ServerProcess]]:
    """Starts ``count`` ``tasks-api serve`` processes at once on free ports; yields when all accept requests."""
    servers = [_launch(database_url, options, environment) for _ in range(count)]
    try:
        for server in servers:
            _await_start(server)
        yield servers
    finally:
        for server in servers:
            # The whole group: with --workers, uvicorn's workers outlive a parent killed outright.
            processes.kill(server.process)


@contextmanager
def serving(database_url: str, *options: str, **environment: str) -> Iterator[ServerProcess]:
    """Runs ``tasks-api serve`` on a free port until the block ends; yields once it accepts requests."""
    with serving_together(1, database_url, *options, **environment) as (server,):
        yield server


def answers(url: str) -> bool:
    """Whether a GET of ``url`` is answered 200 now."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    """Polls an observable condition (never a guess about timing) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def wait_for_async(condition: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    """``wait_for`` inside an event loop, which keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextmanager
def row_lock(database_url: str, task_id: str) -> Iterator[None]:
    """Holds a PostgreSQL row lock on a task, so the service's writes to it wait until the block ends."""
    with psycopg.connect(sync_conninfo(database_url)) as connection:
        connection.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task_id,))
        yield
        connection.rollback()


def sync_conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def waiting_on_locks(database_url: str) -> int:
    """How many sessions of this database are waiting for a lock right now."""
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for_feed(database_url: str) -> None:
    """Waits until the changes feed can show every write committed so far. On PostgreSQL it shows only
    transactions older than every one still running anywhere in the cluster (db.changes), and other tests' run
    beside; so a transaction is begun and ended here, and the wait lasts until every one older than it has
    ended. SQLite's feed shows every committed write at once."""
    if is_sqlite(database_url):
        return
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as connection:
        with connection.transaction():
            row = connection.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert row is not None
        mark = row[0]

        def past_mark() -> bool:
            oldest = connection.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
            return oldest is not None and oldest[0] > mark

        wait_for(past_mark, what="every transaction older than the writes to end")


def reproducible(**options: Any) -> hypothesis.settings:
    """Hypothesis settings with fixed seeds and no example database: a failure in CI reproduces anywhere."""
    return hypothesis.settings(
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        **options,
    )


# Text that JSON must escape, or must carry unescaped, identically in every rendering (ids for the tests).
_CONTROL_CHARACTERS = "".join(chr(code) for code in range(1, 32)) + "\x7f"
AWKWARD_TEXTS = {
    "accents-emoji-escapes": 'École 🙂 \\ " \t',
    "control-characters": f"a{_CONTROL_CHARACTERS}z",
    "slash-separators-bom-astral": "/ </script> \u2028 \u2029 \ufeff \U0001f600 \u00a0",
    "quotes": "'; DROP TABLE tasks; --",
}


# A task inserted by a statement that does not declare itself alone (db.database.UnitOfWork), as an operation
# with several statements would issue it: it begins the unit's transaction.
INSERT_TASK = insert(models.Task).values(
    id=bindparam("id"),
    user_id=bindparam("owner"),
    title=bindparam("title"),
    created_at=bindparam("now"),
    updated_at=bindparam("now"),
)
