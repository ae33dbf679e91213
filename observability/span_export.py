"""Ended spans exported in batches from a thread of their own, as OpenTelemetry's batch span processor does:
a batch when ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` spans wait, or ``OTEL_BSP_SCHEDULE_DELAY`` after the last
export; the oldest dropped past ``OTEL_BSP_MAX_QUEUE_SIZE``; what waits exported at shutdown.

Over OTLP/HTTP with protobuf (``observability.otlp_encoding``), sent by the SDK's exporter, which reads its
endpoint, headers, timeout, compression and TLS files from the environment and retries; or printed by the SDK's
console exporter, given the SDK's own span objects.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from observability.otlp_encoding import SpanEncoder
from observability.spans import SERVER, Span
from observability.trace_settings import SpanSettings

logger = logging.getLogger(__name__)


class Exporter:
    def export(self, spans: Sequence[Span]) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError


class OTLPExporter(Exporter):
    """Batches written by ``SpanEncoder`` and sent through the SDK exporter's ``_client``, not a public part: the
    tests that export to a receiver pin it."""

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self._sender = OTLPSpanExporter()
        self._encode = SpanEncoder(resource, scope)

    def export(self, spans: Sequence[Span]) -> None:
        sent = self._sender._client.export(self._encode(spans))
        if not sent.success:
            logger.warning("spans not exported: the collector did not take them (%s)", sent.status_code or sent.error)

    def shutdown(self) -> None:
        self._sender.shutdown()  # type: ignore[no-untyped-call]


def readable_span(span: Span, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    """The SDK's span object for one of ours."""
    state = TraceState.from_header([span.trace_state]) if span.trace_state else None
    flags = TraceFlags(TraceFlags.SAMPLED if span.sampled else TraceFlags.DEFAULT)
    parent = None
    if span.parent_span_id is not None:
        parent = SpanContext(span.trace_id, span.parent_span_id, span.remote_parent, flags, state)
    return ReadableSpan(
        name=span.name,
        context=SpanContext(span.trace_id, span.span_id, False, flags, state),
        parent=parent,
        resource=resource,
        attributes=span.attributes,
        kind=SpanKind.SERVER if span.kind == SERVER else SpanKind.CLIENT,
        status=Status(StatusCode.ERROR) if span.error else Status(StatusCode.UNSET),
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=scope,
    )


class ConsoleExporter(Exporter):
    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self._printer = ConsoleSpanExporter()
        self._readable: Callable[[Span], ReadableSpan] = lambda span: readable_span(span, resource, scope)

    def export(self, spans: Sequence[Span]) -> None:
        self._printer.export([self._readable(span) for span in spans])

    def shutdown(self) -> None:
        self._printer.shutdown()


EXPORTERS: dict[str, Callable[[Resource, InstrumentationScope], Exporter]] = {
    "otlp": OTLPExporter,
    "console": ConsoleExporter,
}


class BatchExport:
    """The queue of ended spans and the thread that exports them."""

    def __init__(self, exporters: Sequence[Exporter], settings: SpanSettings) -> None:
        self._exporters = exporters
        self._settings = settings
        # Appending to a deque is atomic; one full drops its oldest span.
        self._queue: collections.deque[Span] = collections.deque(maxlen=settings.max_queue_size)
        self._dropped = 0  # ever; counted on the event loop, reported by the thread
        self._reported = 0
        self._batch_waiting = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="span-export", daemon=True)
        self._thread.start()

    def add(self, span: Span) -> None:
        if len(self._queue) == self._settings.max_queue_size:
            self._dropped += 1
        self._queue.append(span)
        if len(self._queue) >= self._settings.max_batch_size and not self._batch_waiting.is_set():
            self._batch_waiting.set()

    def _run(self) -> None:
        while not self._stopping:
            self._batch_waiting.wait(self._settings.schedule_delay)
            self._batch_waiting.clear()
            self._export(everything=self._stopping)
        self._export(everything=True)

    def _export(self, everything: bool) -> None:
        """One batch, then more while a full one waits (or, ``everything``, while any span does)."""
        batch_size = self._settings.max_batch_size
        if self._dropped != self._reported:
            logger.warning(
                "%d spans dropped: more ended than OTEL_BSP_MAX_QUEUE_SIZE between exports",
                self._dropped - self._reported,
            )
            self._reported = self._dropped
        while True:
            batch = [self._queue.popleft() for _ in range(min(batch_size, len(self._queue)))]
            if batch:
                for exporter in self._exporters:
                    try:
                        exporter.export(batch)
                    except Exception:
                        logger.exception("spans not exported")
            if not (len(self._queue) >= batch_size or (everything and self._queue)):
                return

    def shutdown(self) -> None:
        """Exports what waits (for at most ``OTEL_BSP_EXPORT_TIMEOUT``), then closes the exporters. Blocking."""
        self._stopping = True
        self._batch_waiting.set()
        self._thread.join(self._settings.export_timeout)
        for exporter in self._exporters:
            exporter.shutdown()
