"""Small helpers shared by the tests: fresh databases, random users, a real server on a free port."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from psycopg import sql
from sqlalchemy.engine import make_url

from tasks_api.settings import async_database_url

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("TASKS_API_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")


def new_user() -> str:
    return str(uuid.uuid4())


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
        yield async_database_url(f"sqlite:///{directory / f'tasks-{uuid.uuid4().hex}.db'}")
        return
    _postgres_available()
    name = f"tasks_test_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield async_database_url(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
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
def running_server(app: Any) -> Iterator[str]:
    """Serves ``app`` with uvicorn on a free port; yields its base URL.

    The socket is listening before the server thread starts, so clients can connect at once and are
    answered as soon as start-up completes: nothing has to wait or poll.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    host, port = listener.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
