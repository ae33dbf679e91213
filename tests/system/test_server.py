"""What ``tasks-api serve`` itself answers, before the app: no server header, bounded heads, capped and timed
connections, each logged."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasks_api.http_protocol import HEAD_LIMIT
from tasks_api.migrations import upgrade_to_head
from tests.support import ServerProcess, assert_problem, serving, wait_for

MAX_CONNECTIONS = 3
HEADER_TIMEOUT = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    database = f"sqlite:///{Path(tmp_path_factory.mktemp('server')) / 'tasks.db'}"
    upgrade_to_head(database)
    with serving(
        database,
        "--no-migrate",
        TASKS_API_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        TASKS_API_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
    ) as running:
        yield running


def _address(server: ServerProcess) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def _raw(server: ServerProcess, request: bytes) -> httpx.Response:
    """The answer to bytes sent as they are, read until the server closes the connection (a server that closes
    before reading what was sent resets the connection after its answer)."""
    with socket.create_connection(_address(server), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, value in (line.split(": ", 1) for line in lines)]
    return httpx.Response(int(status_line.split(" ")[1]), headers=headers, content=body)


def _warnings(server: ServerProcess, text: str) -> list[str]:
    lines = [json.loads(line) for line in server.log if line.startswith("{")]
    return [line["message"] for line in lines if line["level"] == "warning" and text in line["message"]]


def test_no_answer_names_the_server(server: ServerProcess) -> None:
    served = httpx.get(f"{server.base_url}/api/health/live")
    unparsable = _raw(server, b"POST /api/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n")

    assert served.status_code == 200
    assert "server" not in served.headers
    assert_problem(unparsable, 400, "VALIDATION_ERROR")
    assert unparsable.headers["connection"] == "close"
    assert unparsable.headers["x-request-id"]
    assert "server" not in unparsable.headers


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def test_a_64_mb_header_is_refused_without_being_read(server: ServerProcess) -> None:
    before = _rss_kib(server.process.pid)
    sent = 0
    with socket.create_connection(_address(server), timeout=10) as connection:
        connection.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\nX-Huge: ")
        chunk = b"a" * (1024 * 1024)
        try:
            while sent < 64 * len(chunk):
                connection.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # The server answered and closed once the head passed its bound; the kernel's buffers took the rest sent.
    assert sent < 16 * len(chunk)
    assert _rss_kib(server.process.pid) - before < 8 * 1024
    # The log is read from the server's stderr by a thread of the test's: the line may arrive after the answer.
    wait_for(
        lambda: bool(_warnings(server, f"answered 431 to a request head over {HEAD_LIMIT} bytes")),
        what="the 431 warning in the log",
    )
    assert httpx.get(f"{server.base_url}/api/health/live").status_code == 200


def test_a_head_over_16_kib_is_a_431_problem(server: ServerProcess) -> None:
    request = b"GET /api/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEAD_LIMIT + b"\r\n\r\n"

    answer = _raw(server, request)

    assert_problem(answer, 431, "HEADERS_TOO_LARGE")
    assert answer.headers["connection"] == "close"


def test_a_connection_that_sends_no_head_is_closed_after_the_header_timeout_and_logged(server: ServerProcess) -> None:
    with socket.create_connection(_address(server), timeout=HEADER_TIMEOUT + 5) as connection:
        assert connection.recv(65536) == b""

    wait_for(lambda: bool(_warnings(server, "sent no complete request head within 1 s")), what="the warning", timeout=5)


def test_connections_over_the_limit_are_a_503_problem_and_logged(server: ServerProcess) -> None:
    held = [httpx.Client(base_url=server.base_url) for _ in range(MAX_CONNECTIONS)]
    try:
        for client in held:
            assert client.get("/api/health/live").status_code == 200  # each connection kept open, and counted

        refused = _raw(server, b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n")

        assert_problem(refused, 503, "SERVICE_UNAVAILABLE")
        assert refused.headers["retry-after"]
        assert refused.headers["connection"] == "close"
    finally:
        for client in held:
            client.close()
    wait_for(lambda: bool(_warnings(server, f"over {MAX_CONNECTIONS} open")), what="the warning", timeout=5)
