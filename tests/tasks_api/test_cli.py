"""The console script: ``serve`` migrates, serves and stops cleanly on SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy.engine import make_url

from tests import processes
from tests.support import (
    POSTGRES_ADMIN_URL,
    TASKS_API,
    answers,
    better_auth_id,
    closed_port,
    new_user,
    serving,
    wait_for,
)
from tests.tokens import SECRET


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_serve_migrates_serves_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"
    with serving(f"sqlite:///{database}") as server:
        base_url, process = server.base_url, server.process
        user = new_user()
        created = httpx.post(f"{base_url}/api/{user}/tasks", json={"title": "from the CLI"})
        assert created.status_code == 201
        assert httpx.get(f"{base_url}/api/{user}/tasks").json()["count"] == 1
        assert httpx.get(f"{base_url}/api/ui/").status_code == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert {"tasks", "alembic_version"} <= _tables(database)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_everything_serve_writes_to_stderr_is_a_json_line(tmp_path: Path, workers: str) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}", "--workers", workers) as server:
        # With several workers, uvicorn announces the socket before the workers have started.
        wait_for(lambda: answers(f"{server.base_url}/api/health/live"), what="a worker to answer")
        assert httpx.get(f"{server.base_url}/api/{new_user()}/tasks").status_code == 200
        assert server.stop() == 0

    lines = [line for line in server.log if line.strip()]
    assert any('"tasks_api.access"' in line for line in lines)
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_serve_with_no_migrate_leaves_the_schema_alone(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"
    with serving(f"sqlite:///{database}", "--no-migrate") as server:
        assert httpx.get(f"{server.base_url}/api/openapi.json").status_code == 200
    assert "alembic_version" not in _tables(database)


def test_migrate_upgrades_and_exits(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"

    completed = processes.run(
        [TASKS_API, "migrate"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert {"tasks", "alembic_version"} <= _tables(database)


def _cli(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("TASKS_API_AUTH")}
    return processes.run(
        [TASKS_API, *arguments],
        env={**inherited, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "user", [new_user(), better_auth_id(), "auth0|5f7c8ec7c33c6c004bbafe82"], ids=["uuid", "better-auth", "auth0"]
)
def test_token_prints_an_hs256_token_for_the_user(user: str) -> None:
    printed = _cli("token", "--user", user, "--ttl", "2h", TASKS_API_AUTH_JWT_SECRET=SECRET.decode())

    assert printed.returncode == 0, printed.stderr
    claims = jwt.decode(printed.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == user
    assert claims["exp"] - claims["iat"] == 7200


def test_token_refuses_without_a_secret() -> None:
    refused = _cli("token", "--user", new_user())

    assert refused.returncode == 2
    assert "TASKS_API_AUTH_JWT_SECRET" in refused.stderr
    assert "refusing to start" not in refused.stderr
    assert refused.stdout == ""


@pytest.mark.parametrize("command", [(), ("serve",), ("migrate",), ("token",)])
def test_help_reads_like_a_commands_help(command: tuple[str, ...]) -> None:
    shown = _cli(*command, "--help")

    assert shown.returncode == 0
    assert shown.stdout.startswith(f"usage: tasks-api {' '.join(command)}".rstrip())
    assert "``" not in shown.stdout
    description = shown.stdout.split("\n\n")[1]
    assert description[0].isupper() and description.rstrip().endswith(".")


def test_help_lists_the_commands_and_examples() -> None:
    shown = _cli("--help").stdout

    for command in ("serve", "migrate", "token"):
        assert f"\n    {command} " in shown
    assert "examples:\n  tasks-api serve" in shown


@pytest.mark.parametrize(
    ("arguments", "environment", "named"),
    [
        (("--host", "0.0.0.0"), {}, "TASKS_API_AUTH_JWKS_URL"),
        (("--host", "192.0.2.1"), {}, "TASKS_API_AUTH_JWT_SECRET"),
        ((), {"TASKS_API_AUTH_JWT_SECRET": "too short"}, "32 bytes"),
        ((), {"TASKS_API_CORS_ORIGINS": "*"}, "TASKS_API_CORS_ORIGINS"),
        ((), {"TASKS_API_AUTH": "none", "TASKS_API_AUTH_JWT_SECRET": SECRET.decode()}, "TASKS_API_AUTH_JWT_SECRET"),
        # The review's finding: a blank secret beside an issuer and audience served without authentication.
        (
            (),
            {"TASKS_API_AUTH_JWT_SECRET": " ", "TASKS_API_AUTH_ISSUER": "i", "TASKS_API_AUTH_AUDIENCE": "a"},
            "TASKS_API_AUTH_JWT_SECRET is set but empty",
        ),
        ((), {"TASKS_API_AUTH_ISSUER": "https://auth.example"}, "TASKS_API_AUTH_ISSUER is set"),
    ],
    ids=["any-address", "public-address", "short-secret", "cors-star", "none-and-secret", "blank-secret", "no-key"],
)
def test_serve_refuses_to_start_unsafely(
    tmp_path: Path, arguments: tuple[str, ...], environment: dict[str, str], named: str
) -> None:
    refused = _cli("serve", "--port", "1", *arguments, DATABASE_URL=f"sqlite:///{tmp_path / 'tasks.db'}", **environment)

    assert refused.returncode == 2
    (line,) = [json.loads(line) for line in refused.stderr.splitlines() if "refusing" in line]
    assert line["level"] == "error"
    assert named in line["message"]
    assert not (tmp_path / "tasks.db").exists()


def _error_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The one error line a refused command prints (every line is JSON: no traceback)."""
    lines = [json.loads(line) for line in completed.stderr.splitlines()]
    (error,) = [line["message"] for line in lines if line["level"] == "error"]
    return str(error)


_MISSING_POSTGRES_DATABASE = make_url(POSTGRES_ADMIN_URL).set(database="tasks_api_never_created")


@pytest.mark.parametrize(
    ("database_url", "said"),
    [
        ("mysql://root@127.0.0.1/test", "DATABASE_URL names mysql, which this service does not run on: use postgresql"),
        ("notaurl", "DATABASE_URL is not a database URL: use postgresql://"),
        (
            _MISSING_POSTGRES_DATABASE.render_as_string(hide_password=False),
            f'database "tasks_api_never_created" does not exist on {_MISSING_POSTGRES_DATABASE.host}:'
            f"{_MISSING_POSTGRES_DATABASE.port or 5432}: create it with createdb tasks_api_never_created, or point"
            " DATABASE_URL at an existing one",
        ),
        (f"postgresql://postgres@127.0.0.1:{closed_port()}/test", "cannot reach PostgreSQL at 127.0.0.1:"),
        ("sqlite:////nonexistent/directory/tasks.db", "create /nonexistent/directory, or point DATABASE_URL at a file"),
    ],
    ids=["another-database", "not-a-url", "missing-postgres-database", "no-postgres-server", "missing-directory"],
)
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_database_that_cannot_be_used_is_one_line_naming_the_setting(
    database_url: str, said: str, command: str
) -> None:
    port = ("--port", str(closed_port())) if command == "serve" else ()
    refused = _cli(command, *port, DATABASE_URL=database_url)

    assert refused.returncode == 2
    assert said in _error_line(refused)


def test_serve_says_a_taken_port_before_migrating(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = _cli("serve", "--port", str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'tasks.db'}")

    assert refused.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in _error_line(refused)
    assert not (tmp_path / "tasks.db").exists()


def test_serve_on_loopback_without_configuration_trusts_the_path_and_says_so(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}") as server:
        assert httpx.get(f"{server.base_url}/api/{new_user()}/tasks").status_code == 200
        assert server.stop() == 0

    warnings = [json.loads(line) for line in server.log if '"warning"' in line]
    assert any("TASKS_API_AUTH=none" in warning["message"] for warning in warnings)
    assert "authentication: none" in _start_up_line(server.log)


def _start_up_line(log: list[str]) -> str:
    (line,) = [json.loads(line) for line in log if '"serving on ' in line]
    assert line["level"] == "info"
    return str(line["message"])


def test_serve_says_at_start_up_where_it_serves_and_how_it_checks_tokens(tmp_path: Path) -> None:
    secret = SECRET.decode()
    with serving(
        f"sqlite:///{tmp_path / 'tasks.db'}", TASKS_API_AUTH_JWT_SECRET=secret, TASKS_API_AUTH_ISSUER="https://i"
    ) as server:
        line = _start_up_line(server.log)

    assert f"serving on {server.base_url}, database sqlite:///{tmp_path / 'tasks.db'}" in line
    assert "authentication: JWT bearer tokens, HS256 with TASKS_API_AUTH_JWT_SECRET, issuer https://i" in line
    assert f"Swagger UI at {server.base_url}/api/ui/" in line
    assert secret not in "".join(server.log)


def test_serve_warns_at_once_when_the_key_server_cannot_be_used(tmp_path: Path) -> None:
    jwks_url = f"http://127.0.0.1:{closed_port()}/jwks"
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}", TASKS_API_AUTH_JWKS_URL=jwks_url) as server:

        def warned() -> bool:
            return any(f"the key server at {jwks_url} cannot be used" in line for line in server.log)

        wait_for(warned, timeout=10, what="the warning about the key server")

    warning = next(json.loads(line) for line in server.log if jwks_url in line and '"warning"' in line)
    assert "no keys yet, so every token is answered 503" in warning["message"]


def test_serve_closes_an_idle_connection_after_the_keep_alive_it_is_given(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}", TASKS_API_KEEP_ALIVE="2") as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.request("GET", "/api/health/live")
            answered = connection.getresponse()
            answered.read()
            idle_since = time.monotonic()
            # The server's close is the event waited for: recv returns b"" when it comes.
            assert connection.sock is not None
            assert connection.sock.recv(65536) == b""
            idle = time.monotonic() - idle_since
        finally:
            connection.close()

    assert answered.status == 200
    assert 1.5 < idle < 4.5
