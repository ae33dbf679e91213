"""uvicorn's HTTP protocol with what a server facing clients directly needs: bounds on what a client may make
it hold before there is a request to serve, and its own answers in the contract's shape.

uvicorn (0.54, httptools) buffers a request head of any size (a 64 MB header took 200 MB), gives a client that
never completes a head all the time it likes (its keep-alive timer only runs after a response), takes any number
of connections, and writes its own answers (a request it cannot parse, a crash before the app answered) as
``text/plain``. Its public ``http`` option takes the protocol class; ``ServerProtocol`` is uvicorn's httptools
protocol with the parser's callbacks extended, and every answer it writes is problem+json with the code the
spec gives its status, ``X-Request-ID`` and ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from typing import Any, ClassVar

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from tasks_api.logs import ThrottledWarning
from tasks_api.problems import PROBLEM_JSON, RETRY_AFTER_SECONDS, ProblemResponses, error_codes
from tasks_api.request_context import new_request_id, request_id_of
from tasks_api.settings import ConnectionLimits, Settings
from tasks_api.specification import load_specification

# The largest request head (request line and headers) taken: browsers' own stay under 8 KiB with their
# cookies; nginx's default buffers hold 8 KiB per line.
HEAD_LIMIT = 16 * 1024

# The head budget of a connection that was refused, whose data is no longer read.
_REFUSED = -1

logger = logging.getLogger(__name__)

_slow_head = ThrottledWarning(
    logger, "closed a connection that sent no complete request head within %g s (TASKS_API_HEADER_TIMEOUT)"
)
_over_capacity = ThrottledWarning(
    logger, "answered 503 to a connection over %d open on this worker (TASKS_API_MAX_CONNECTIONS)"
)
_head_too_large = ThrottledWarning(logger, f"answered 431 to a request head over {HEAD_LIMIT} bytes")
_invalid_request = ThrottledWarning(logger, "answered 400 to a request that is not valid HTTP/1.1")

# uvicorn's own line for each request it cannot parse, which a client can send at will; said throttled instead.
_UVICORN_INVALID_REQUEST = "Invalid HTTP request received."


class _WithoutInvalidRequestLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != _UVICORN_INVALID_REQUEST


_WITHOUT_INVALID_REQUEST_LINES = _WithoutInvalidRequestLines()


class ServerAnswers:
    """The answers the server writes itself, as whole HTTP/1.1 responses: problem+json, with a new request id,
    the headers every answer carries, and ``Connection: close`` (the connection is closed after each)."""

    def __init__(self, problems: ProblemResponses) -> None:
        self._problems = problems

    def head_and_body(
        self, status: int, detail: str, request_id: str, extra_headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers (without the server's defaults) and body of an answer."""
        body = orjson.dumps(self._problems.document(status, detail))
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
            *extra_headers,
        ]
        if status == 503:
            headers.append((b"retry-after", RETRY_AFTER_SECONDS.encode()))
        return headers, body

    def response(self, status: int, detail: str, default_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        headers, body = self.head_and_body(status, detail, new_request_id())
        lines = [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in [*default_headers, *headers])]
        return b"".join([*lines, b"\r\n", body])


@functools.cache
def _answers() -> ServerAnswers:
    return ServerAnswers(ProblemResponses(error_codes(load_specification())))


@functools.cache
def _limits_from_environment() -> ConnectionLimits:
    return Settings.from_env().connections


class _AnswersFailures:
    """The app, with a problem+json 500 where it fails before it starts an answer (uvicorn's own is text)."""

    __slots__ = ("_app",)

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        except BaseException:
            headers, body = _answers().head_and_body(
                500, "An unexpected error occurred", request_id_of(scope.get("headers", ()))
            )
            # Refused when the app had started its answer; uvicorn then closes the connection.
            with contextlib.suppress(RuntimeError):
                await send({"type": "http.response.start", "status": 500, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            raise


class ServerProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded: a request head over ``HEAD_LIMIT`` bytes is answered 431 as soon
    as the bound is passed, without handing the parser more (httptools would buffer the whole header); a head
    must arrive within the header timeout, or the connection is closed (408 if part of one came); a connection
    beyond the worker's maximum is answered 503 at once. Each of these is logged, throttled.

    Overrides uvicorn's protocol callbacks (``connection_made``, ``data_received``, ``connection_lost``), the
    parser's (``on_message_begin``, ``on_headers_complete``) and its one answer method (``send_400_response``),
    calling uvicorn's own for everything else: that saves re-implementing HTTP/1.1 keep-alive, pipelining and
    flow control. ``tests/tasks_api/test_http_protocol.py`` pins each behaviour. The bytes of a head are counted
    only until it is complete, so a request's body and the connection's later reads cost one comparison.
    """

    # None: read from the environment (``Settings``) once per process.
    limits: ClassVar[ConnectionLimits | None] = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.logger.addFilter(_WITHOUT_INVALID_REQUEST_LINES)  # once: the logger is uvicorn's, the filter one
        self.app = _AnswersFailures(self.app)
        self._limits = self.limits or _limits_from_environment()
        # Bytes the current head may still take; None between a head's end and the next one's start.
        self._head_budget: int | None = HEAD_LIMIT
        self._head_started = self._head_begun_in_read = False
        # When the current head's time began; one timer at a time checks it, not one per request.
        self._head_since = 0.0
        self._head_deadline: asyncio.TimerHandle | None = None
        # The size of the read being parsed.
        self._read_size = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            self.connections.discard(self)
            _over_capacity(self._limits.max_connections)
            self._answer(503, "The server is at its connection limit; retry later")
            return
        self._head_since = self.loop.time()
        self._head_deadline = self.loop.call_later(self._limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._read_size = len(data)
        budget = self._head_budget
        if budget is None:
            super().data_received(data)
            return
        if len(data) <= budget:
            self._head_budget = budget - len(data)
            super().data_received(data)
            return
        if budget == _REFUSED:
            return  # nothing more is read
        # Only what the bound allows goes to the parser: if the head ends within it, the rest is the body or
        # the next request; if not, the head is too large, and none of the rest is read.
        self._head_budget = 0
        if budget:
            super().data_received(data[:budget])
        remaining = self._head_budget
        if remaining == 0:
            _head_too_large()
            self._refuse(431, f"The request head is larger than {HEAD_LIMIT} bytes")
        elif (remaining is None or remaining > 0) and not self.transport.is_closing():
            super().data_received(data[budget:])

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        if self._head_budget is None:
            # The next request on a kept-alive connection (uvicorn's keep-alive timer covered the wait for it),
            # begun somewhere inside a read: counted from the next read on, and measured once complete unless
            # that read alone was within the bound.
            self._head_budget = HEAD_LIMIT
            self._head_begun_in_read = True
            self._head_since = self.loop.time()
            if self._head_deadline is None:
                self._head_deadline = self.loop.call_later(self._limits.header_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        if self._head_budget == _REFUSED:
            return  # what follows a refused request is not served
        if (
            self._head_begun_in_read
            and (self._read_size > HEAD_LIMIT or self._head_budget != HEAD_LIMIT)
            and self._head_size() > HEAD_LIMIT
        ):
            _head_too_large()
            self._refuse(431, f"The request head is larger than {HEAD_LIMIT} bytes")
            return
        self._head_budget = None
        self._head_started = self._head_begun_in_read = False
        super().on_headers_complete()

    def _head_size(self) -> int:
        """The head's size as parsed: its request line and headers, each line with its CRLF, and the blank line."""
        request_line = len(self.parser.get_method()) + len(self.url) + len(b" HTTP/1.1\r\n") + 1
        return request_line + sum(len(name) + len(value) + 4 for name, value in self.headers) + 2

    def send_400_response(self, msg: str) -> None:
        _invalid_request()
        self._refuse(400, "The request is not valid HTTP/1.1")

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or self._head_budget is None or self._head_budget == _REFUSED:
            return
        left = self._head_since + self._limits.header_timeout - self.loop.time()
        if left > 0:
            # A later head than the one this timer was set for.
            self._head_deadline = self.loop.call_later(left, self._head_timed_out)
            return
        _slow_head(self._limits.header_timeout)
        if self._head_started:
            self._refuse(408, "The request head did not arrive in time")
        else:
            self.transport.close()

    def _stop_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _refuse(self, status: int, detail: str) -> None:
        """Answers and closes, and reads nothing more. While an earlier request is still being answered, the
        refused head is a pipelined request's: no answer may come before that one's, so the connection closes
        after it. A request whose own body is refused gets the answer unless the app has begun its own."""
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if answering and self._head_budget is not None:
            cycle.keep_alive = False
        elif answering and cycle.response_started:
            self.transport.close()
        else:
            self._answer(status, detail)
        self._head_budget = _REFUSED

    def _answer(self, status: int, detail: str) -> None:
        self.transport.write(_answers().response(status, detail, self.server_state.default_headers))
        self.transport.close()
