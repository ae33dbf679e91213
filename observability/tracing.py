"""OpenTelemetry traces: a server span per request, named by its route, and a client span per database statement
under it, exported in batches by the OpenTelemetry SDK (its OTLP/HTTP exporter, writing with
``observability.otlp_encoding``).

Imported only when tracing is on (``observability.trace_settings``): off, the service loads none of it. The SDK
reads its other settings from the environment itself: the endpoint, headers, timeout and compression of the OTLP
exporter, the sampler (``OTEL_TRACES_SAMPLER``, parent-based always-on by default), the batch processor's sizes
and delays, and the resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.database import Database
from observability.database_spans import TracedDatabase
from observability.otlp_encoding import OTLPExporter
from tasks_api.routes import RouteTable

DEFAULT_SERVICE_NAME = "tasks-api"
INSTRUMENTATION_SCOPE = "tasks_api"
_EXPORTERS: dict[str, Callable[[], SpanExporter]] = {"otlp": OTLPExporter, "console": ConsoleSpanExporter}
# OpenTelemetry's HTTP conventions: any other method is "_OTHER", so that clients cannot multiply span names.
_KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})

Headers = list[tuple[bytes, bytes]]


class _HeaderGetter(Getter[Headers]):
    """Reads propagation headers (``traceparent``, ``tracestate``) straight from the ASGI scope's list."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS = _HeaderGetter()


def resource() -> Resource:
    """``service.name`` tasks-api unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` says otherwise."""
    return Resource.create({SERVICE_NAME: DEFAULT_SERVICE_NAME}).merge(OTELResourceDetector().detect())


def current_trace_id() -> str | None:
    """The trace id of the span now current (the request's), as 32 hexadecimal digits; None outside one."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


class ServerSpans:
    """An ASGI middleware: a server span around each request, continuing the trace a W3C ``traceparent`` names,
    and current while the request runs (its database spans are its children, its access line has its trace id).

    Named once routing is done, ``{method} {route template}`` (just the method when no route matched), with
    OpenTelemetry's HTTP attributes: ``http.request.method``, ``http.route``, ``http.response.status_code``,
    ``url.scheme``. Not ``url.path`` or the query: they hold user and task ids, which no log of this service
    records either; nor the recommended ones (the protocol version, the peer's address), each a cost on every
    request. A 5xx answer, or an exception that escapes, is an error (``error.type``: the status, or the
    exception's class).
    """

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "_OTHER"
        attributes = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
        if method == "_OTHER":
            attributes["http.request.method_original"] = scope["method"]
        parent = extract(scope["headers"], getter=_HEADERS)
        span = self.tracing.tracer.start_span(
            "HTTP" if method == "_OTHER" else method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        attached = context.attach(trace.set_span_in_context(span, parent))
        # Shared with Connexion's routing, which records the matched operation in it.
        extensions = scope.setdefault("extensions", {})
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except BaseException as error:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR))
            raise
        finally:
            operation_id = extensions.get("connexion_routing", {}).get("operation_id")
            route = self.tracing.routes.template(operation_id) if operation_id else None
            ended: dict[str, str | int] = {}
            if route is not None:
                ended["http.route"] = route
                if method != "_OTHER":
                    span.update_name(f"{method} {route}")
            if status is not None:
                ended["http.response.status_code"] = status
                if status >= 500:
                    ended["error.type"] = str(status)
                    span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(ended)  # at once: each call takes the span's lock and checks what it is given
            span.end()
            context.detach(attached)


class Tracing:
    """The tracer provider of one worker process and what the app needs of it: the server span middleware,
    the database wrapped, and the lifespan that starts and flushes the export.

    The provider is made when the app starts (its batch processor's thread would not survive a fork) and shut
    down when the app stops, after the database: spans still queued, those of the last requests included, are
    exported before the process exits (for at most ``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s by default).
    """

    middleware = ServerSpans
    # For the access log: the current span is the request's while its line is written.
    trace_id = staticmethod(current_trace_id)

    def __init__(self, exporters: tuple[str, ...], routes: RouteTable) -> None:
        self.exporters = exporters
        self.routes = routes
        self.tracer: Tracer = trace.NoOpTracer()
        self._provider: TracerProvider | None = None

    def start(self) -> None:
        provider = TracerProvider(resource=resource())
        for name in self.exporters:
            provider.add_span_processor(BatchSpanProcessor(_EXPORTERS[name]()))
        self._provider = provider
        self.tracer = provider.get_tracer(INSTRUMENTATION_SCOPE)

    async def stop(self) -> None:
        if self._provider is not None:
            self.tracer = trace.NoOpTracer()
            # Blocking (the last export's HTTP request): off the event loop.
            await asyncio.to_thread(self._provider.shutdown)
            self._provider = None

    def lifespan(
        self, inner: Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]
    ) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
        """The app's lifespan, with the export running around it and the database in its state traced."""

        @asynccontextmanager
        async def traced(app: Any) -> AsyncIterator[dict[str, Any]]:
            self.start()
            try:
                async with inner(app) as state:
                    database: Database = state["database"]
                    yield {**state, "database": TracedDatabase(database, self.tracer)}
            finally:
                await self.stop()

        return traced
