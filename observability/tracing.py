"""OpenTelemetry traces: a server span per request, named by its route, and a client span per database statement
under it (``observability.spans``), exported in batches (``observability.span_export``).

Imported only when tracing is on (``observability.trace_settings``): off, the service loads none of it, nor
OpenTelemetry. The exporter reads its own settings from the environment (endpoint, headers, timeout, compression);
the sampler, propagators and batches are read by ``observability.trace_settings``; the resource is the SDK's
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.database import Database
from observability.database_spans import TracedDatabase
from observability.span_export import EXPORTERS, BatchExport
from observability.spans import Tracer, current_span, current_trace_id, remote_parent
from observability.trace_settings import span_settings
from tasks_api.routes import RouteTable

DEFAULT_SERVICE_NAME = "tasks-api"
INSTRUMENTATION_SCOPE = InstrumentationScope("tasks_api")
# OpenTelemetry's HTTP conventions: any other method is "_OTHER", so that clients cannot multiply span names.
_KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})


def resource() -> Resource:
    """``service.name`` tasks-api unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` says otherwise."""
    return Resource.create({SERVICE_NAME: DEFAULT_SERVICE_NAME}).merge(OTELResourceDetector().detect())


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
        attributes: dict[str, Any] = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
        if method == "_OTHER":
            attributes["http.request.method_original"] = scope["method"]
        tracing = self.tracing
        parent = remote_parent(scope["headers"]) if tracing.continue_traces else None
        span = tracing.tracer.start_server("HTTP" if method == "_OTHER" else method, attributes, parent)
        token = current_span.set(span)
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
            span.failed(type(error).__qualname__)
            raise
        finally:
            operation_id = extensions.get("connexion_routing", {}).get("operation_id")
            route = tracing.routes.template(operation_id) if operation_id else None
            if route is not None:
                span.attributes["http.route"] = route
                if method != "_OTHER":
                    span.name = f"{method} {route}"
            if status is not None:
                span.attributes["http.response.status_code"] = status
                if status >= 500:
                    span.failed(str(status))
            tracing.tracer.end(span)
            current_span.reset(token)


class Tracing:
    """What the app needs of tracing: the server span middleware, the database wrapped, and the lifespan that
    starts the export and flushes it.

    The export's thread is started when the app starts (a thread would not survive a fork) and stopped when
    the app stops, after the database: spans still queued, those of the last requests included, are exported
    before the process exits (for at most ``OTEL_BSP_EXPORT_TIMEOUT``, 30 s by default).
    """

    middleware = ServerSpans
    # For the access log: the current span is the request's while its line is written.
    trace_id = staticmethod(current_trace_id)

    def __init__(self, exporters: tuple[str, ...], routes: RouteTable) -> None:
        self.exporters = exporters
        self.routes = routes
        self._settings = span_settings(os.environ)
        self.continue_traces = self._settings.continue_traces
        self.tracer = Tracer(lambda span: None)  # until the export starts, spans go nowhere
        self._export: BatchExport | None = None

    def start(self) -> None:
        described = resource()
        exporters = [EXPORTERS[name](described, INSTRUMENTATION_SCOPE) for name in self.exporters]
        self._export = BatchExport(exporters, self._settings)
        self.tracer = Tracer(self._export.add, self._settings.sampler, self._settings.ratio)

    async def stop(self) -> None:
        if self._export is not None:
            # Blocking (the last export's HTTP request): off the event loop.
            await asyncio.to_thread(self._export.shutdown)
            self._export = None

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
