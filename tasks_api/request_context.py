"""Request ids and the headers every response carries, and one access line per request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasks_api.logs import entry, request_id
from tasks_api.problems import ProblemResponses
from tasks_api.routes import RouteTable

logger = logging.getLogger("tasks_api.shutdown")

REQUEST_ID_HEADER = "X-Request-ID"
# Echo only ids that are safe to put in a log line and a header; anything else is replaced.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_NO_SNIFF = (b"x-content-type-options", b"nosniff")
_LOCATION = b"location"
CUT_OFF_DETAIL = (
    "The service is shutting down and stopped this request before it finished; nothing was changed. Retry later"
)


def _relative_location(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """Routing's redirects (a path with or without its trailing slash) point at this service, but Starlette
    spells them absolute with the request's Host header, which the client chose: answered before authentication
    and cached by a proxy, that would send other clients to any host. The path alone means the same."""
    name, value = header
    if name != _LOCATION:
        return header
    url = urlsplit(value)
    # One leading slash: "//host/path" would be read as another host.
    return name, urlunsplit((b"", b"", b"/" + url.path.lstrip(b"/"), url.query, url.fragment))


def new_request_id() -> str:
    # A correlation id, not a secret: 128 bits from the per-process generator (seeded from the OS, reseeded in
    # forked children) are unique enough, and spare every request the system call behind ``secrets``.
    return f"{random.getrandbits(128):032x}"


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's id: the client's ``X-Request-ID`` when it is safe to echo, else a new one."""
    incoming = next((value for name, value in headers if name == _REQUEST_ID_KEY), None)
    return incoming.decode("latin-1") if incoming and _VALID_REQUEST_ID.fullmatch(incoming) else new_request_id()


class AccessLog:
    """One JSON line per finished request, in the shape of every other log line, written whole to a file
    descriptor (stderr unless told otherwise).

    Not through ``logging``: building a ``LogRecord`` and passing it down the handler chain took about 25 us a
    request in the running service, a tenth of a get-one's CPU, for a line that needs none of logging's
    routing. A line is far below the size a pipe writes atomically, so lines never interleave with others.
    """

    def __init__(self, fd: int = 2, trace_id: Callable[[], str | None] | None = None) -> None:
        self._fd = fd
        # With tracing on (observability.tracing), the id of the request's trace; the line has none without it.
        self._trace_id = trace_id

    def write(self, *, request: str, method: str, path: str | None, status: int, duration_ms: float) -> None:
        fields = {
            **entry(time.time(), "info", "tasks_api.access", "request"),
            "request_id": request,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        }
        if self._trace_id is not None:
            fields["trace_id"] = self._trace_id()
        line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        # A line that cannot be written (stderr closed, or a full non-blocking pipe) must not fail the request.
        with contextlib.suppress(OSError):
            os.write(self._fd, line)


class RequestContext:
    """Gives every request an id (echoed to the client), adds the headers every answer carries and, with an
    access log, writes one line when the request ends.

    A request still running when the shutdown grace ends is cancelled by uvicorn, which answers it with a bare
    ``text/plain`` 500 unless the app has answered. Here, where the cancellation ends the request, it is
    answered instead as every error is: a 503 problem with ``Retry-After`` and the request id. By then the
    unit of work has rolled back what the request had not committed, and a write whose commit was already out
    was answered ``OUTCOME_UNKNOWN`` on the way (``db.errors.OutcomeUnknown``): nothing was changed.
    """

    def __init__(
        self, app: ASGIApp, routes: RouteTable, access_log: AccessLog | None, problems: ProblemResponses
    ) -> None:
        self.app = app
        self.routes = routes
        self.access_log = access_log
        self.problems = problems

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = request_id_of(scope["headers"])
        token = request_id.set(current)
        # Shared with Connexion's routing, which records the matched operation in it.
        extensions = scope.setdefault("extensions", {})
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = message.get("headers", ())
                if 300 <= status < 400:
                    headers = [_relative_location(header) for header in headers]
                message["headers"] = [
                    *headers,
                    (_REQUEST_ID_KEY, current.encode("latin-1")),
                    # Browsers must take every answer for what its Content-Type says, never sniff another type.
                    _NO_SNIFF,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            if answered:
                raise
            logger.warning("request cut off at the end of the shutdown grace, answered 503")
            # Not raised again: this is the request's outermost frame, and the request ends here either way.
            await self._cut_off(scope, receive, send_with_id)
        finally:
            if self.access_log is not None:
                operation_id = extensions.get("connexion_routing", {}).get("operation_id")
                self.access_log.write(
                    request=current,
                    method=scope["method"],
                    path=self.routes.template(operation_id) if operation_id else None,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            request_id.reset(token)

    async def _cut_off(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self.problems(503, CUT_OFF_DETAIL)
        response = Response(problem.body, problem.status_code, headers=problem.headers, media_type=problem.mimetype)
        await response(scope, receive, send)
