"""The server's own bounds and answers (``ServerProtocol``), on a real uvicorn over raw sockets."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.types import Receive, Scope, Send

from tasks_api.http_protocol import HEAD_LIMIT, ServerProtocol
from tasks_api.settings import ConnectionLimits
from tests.support import running_server, wait_for

HEADER_TIMEOUT = 0.5
MAX_CONNECTIONS = 3


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request's method, path and body size; ``/crash`` fails before it answers."""
    if scope["path"] == "/crash":
        raise RuntimeError("failed before answering")
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = orjson.dumps({"method": scope["method"], "path": scope["path"], "size": size})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Limited(ServerProtocol):
    limits = ConnectionLimits(header_timeout=HEADER_TIMEOUT, max_connections=MAX_CONNECTIONS)


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with running_server(echo, http=Limited, lifespan="off", server_header=False) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        yield host, int(port)


def _connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=10)


class Response:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ")[1])
        self.headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}

    def problem(self, status: int, code: str) -> dict[str, Any]:
        assert self.status == status, self.body
        assert self.headers["content-type"] == "application/problem+json"
        assert self.headers["x-request-id"]
        assert self.headers["x-content-type-options"] == "nosniff"
        assert "server" not in self.headers
        problem: dict[str, Any] = orjson.loads(self.body)
        assert problem["status"] == status
        assert problem["error_code"] == code
        assert problem["title"] and problem["detail"]
        return problem


def _read_response(connection: socket.socket, buffered: bytes = b"") -> tuple[Response, bytes]:
    """One response (sized by Content-Length), and whatever was read past it."""
    data = buffered
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        chunk = connection.recv(65536)
        assert chunk, f"closed before a whole response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = _length(data)
    return Response(head + b"\r\n\r\n" + rest[:length]), rest[length:]


def _length(data: bytes) -> int:
    head = data.partition(b"\r\n\r\n")[0].lower()
    return int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) if b"content-length: " in head else 0


def _closed(connection: socket.socket) -> bool:
    """Whether the server closes the connection (waits for it, up to the socket's timeout)."""
    try:
        return connection.recv(65536) == b""
    except ConnectionResetError:
        return True


def _answer_then_close(address: tuple[str, int], request: bytes) -> Response:
    with _connect(address) as connection:
        connection.sendall(request)
        response, rest = _read_response(connection)
        assert rest == b""
        assert response.headers["connection"] == "close"
        assert _closed(connection)
    return response


def _get(path: str = "/", *headers: bytes) -> bytes:
    return b"".join([b"GET ", path.encode(), b" HTTP/1.1\r\nHost: test\r\n", *(h + b"\r\n" for h in headers), b"\r\n"])


def test_a_request_uvicorn_cannot_parse_is_a_400_problem(address: tuple[str, int]) -> None:
    request = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1x\r\n\r\n"

    _answer_then_close(address, request).problem(400, "VALIDATION_ERROR")


def test_requests_uvicorn_cannot_parse_are_logged_throttled(
    address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")  # configured by uvicorn not to reach the root logger
    uvicorn_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                _answer_then_close(address, b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 1x\r\n\r\n")
    finally:
        uvicorn_log.removeHandler(caplog.handler)

    lines = [record.getMessage() for record in caplog.records]
    assert not any("Invalid HTTP request received" in line for line in lines)
    assert len([line for line in lines if "not valid HTTP/1.1" in line]) <= 1


def test_a_body_uvicorn_cannot_parse_is_a_400_problem_while_the_app_waits_for_it(address: tuple[str, int]) -> None:
    request = b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\nzz\r\n"

    _answer_then_close(address, request).problem(400, "VALIDATION_ERROR")


def _padded_get(head_size: int) -> bytes:
    """A GET whose head (up to and including the blank line) is exactly ``head_size`` bytes."""
    bare = _get("/", b"X-Padding: ")
    return _get("/", b"X-Padding: " + b"a" * (head_size - len(bare)))


def test_a_head_at_the_bound_is_served_and_one_byte_more_is_a_431_problem(address: tuple[str, int]) -> None:
    body = b"x" * (4 * HEAD_LIMIT)
    with _connect(address) as connection:
        connection.sendall(_padded_get(HEAD_LIMIT))
        response, _ = _read_response(connection)
        assert response.status == 200
        # A body sent in the same write as its head is not part of the head.
        connection.sendall(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        response, _ = _read_response(connection)
        assert orjson.loads(response.body) == {"method": "POST", "path": "/upload", "size": len(body)}

    answer = _answer_then_close(address, _padded_get(HEAD_LIMIT + 1))

    assert answer.problem(431, "HEADERS_TOO_LARGE")["detail"] == f"The request head is larger than {HEAD_LIMIT} bytes"


def test_a_head_over_the_bound_sent_a_byte_at_a_time_is_a_431(address: tuple[str, int]) -> None:
    request = _padded_get(HEAD_LIMIT + 1000)
    with _connect(address) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = 0
        try:
            for start in range(0, len(request), 512):
                connection.sendall(request[start : start + 512])
                sent += 512
        except (BrokenPipeError, ConnectionResetError):
            pass
        response, _ = _read_response(connection)
    response.problem(431, "HEADERS_TOO_LARGE")


def test_pipelined_requests_on_a_kept_alive_connection_are_each_bounded_and_answered(address: tuple[str, int]) -> None:
    with _connect(address) as connection:
        connection.sendall(_get("/one") + _get("/two") + _padded_get(HEAD_LIMIT))
        paths = []
        rest = b""
        for _ in range(3):
            response, rest = _read_response(connection, rest)
            paths.append(orjson.loads(response.body)["path"])
        assert paths == ["/one", "/two", "/"]

        connection.sendall(_padded_get(HEAD_LIMIT + 1))
        response, _ = _read_response(connection, rest)
        response.problem(431, "HEADERS_TOO_LARGE")
        assert _closed(connection)


def test_an_app_that_fails_before_answering_is_a_500_problem_with_the_request_id(address: tuple[str, int]) -> None:
    response = _answer_then_close(address, _get("/crash", b"X-Request-ID: trace-42"))

    assert response.problem(500, "SERVER_ERROR")["detail"] == "An unexpected error occurred"
    assert response.headers["x-request-id"] == "trace-42"


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(address: tuple[str, int]) -> None:
    with _connect(address) as connection:
        started = time.monotonic()
        assert connection.recv(65536) == b""
        waited = time.monotonic() - started

    assert HEADER_TIMEOUT * 0.8 <= waited < HEADER_TIMEOUT + 2


def test_a_head_that_does_not_arrive_in_time_is_a_408_problem(address: tuple[str, int]) -> None:
    with _connect(address) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: te")
        response, _ = _read_response(connection)
        response.problem(408, "REQUEST_TIMEOUT")
        assert response.headers["connection"] == "close"
        assert _closed(connection)


def test_on_a_kept_alive_connection_the_next_head_has_the_header_timeout_too(address: tuple[str, int]) -> None:
    with _connect(address) as connection:
        connection.sendall(_get("/first"))
        assert _read_response(connection)[0].status == 200
        # The keep-alive timeout no longer runs once the next request has begun.
        connection.sendall(b"GET /second HT")
        response, _ = _read_response(connection)

    response.problem(408, "REQUEST_TIMEOUT")


@pytest.fixture
def capped() -> Iterator[tuple[str, int]]:
    """A server of its own, so that only this test's connections count."""
    with running_server(echo, http=Limited, lifespan="off", server_header=False) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        yield host, int(port)


def _served(address: tuple[str, int]) -> bool:
    try:
        with _connect(address) as connection:
            connection.sendall(_get("/after"))
            return _read_response(connection)[0].status == 200
    except OSError:
        return False


def test_connections_over_the_limit_are_a_503_problem_with_retry_after(capped: tuple[str, int]) -> None:
    address = capped
    held = [_connect(address) for _ in range(MAX_CONNECTIONS)]
    try:
        for connection in held:
            # Answered, so the server has taken each one before the next connects.
            connection.sendall(_get("/held"))
            assert _read_response(connection)[0].status == 200

        refused = _answer_then_close(address, _get("/one-too-many"))

        refused.problem(503, "SERVICE_UNAVAILABLE")
        assert refused.headers["retry-after"]
    finally:
        for connection in held:
            connection.close()
    wait_for(lambda: _served(address), what="a connection under the limit again to be served")
