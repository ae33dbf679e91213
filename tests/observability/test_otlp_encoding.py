"""The spans' OTLP encoding: the message the SDK's encoder writes, byte for byte once decoded, at a fraction of
its time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from observability.otlp_encoding import SpanEncoder


class _Kept(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _spans() -> list[ReadableSpan]:
    """Spans of every shape this service makes, and a few it does not."""
    kept = _Kept()
    provider = TracerProvider(resource=Resource.create({"service.name": "tasks-api", "deployment.count": 3}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("tasks_api")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=TraceState([("k", "v")]))
    server = tracer.start_span(
        "GET /api/{user_id}/tasks", context=set_span_in_context(NonRecordingSpan(remote)), kind=SpanKind.SERVER
    )
    server.set_attributes({"http.request.method": "GET", "http.response.status_code": 503, "error.type": "503"})
    server.set_status(Status(StatusCode.ERROR))
    child = tracer.start_span(
        "SELECT tasks",
        context=set_span_in_context(server),
        kind=SpanKind.CLIENT,
        attributes={"db.query.text": "SELECT 1 — é", "db.operation.batch.size": 2, "ratio": -1.5, "flag": True},
    )
    child.set_attribute("list", ["a", "b"])
    child.set_status(Status(StatusCode.ERROR, "described"))
    child.end()
    server.end()
    root = provider.get_tracer("other", "1.0").start_span("root")
    root.add_event("an event", {"n": -7})
    root.end()
    return kept.spans


def test_the_encoding_is_the_sdks() -> None:
    spans = _spans()

    assert ExportTraceServiceRequest.FromString(SpanEncoder()(spans)) == encode_spans(spans)


def _fastest(encode: Callable[[], Any], repeat: int = 25) -> float:
    """The fastest of many runs: the one least disturbed by whatever else the machine runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        encode()
        times.append(time.perf_counter() - started)
    return min(times)


def test_the_encoding_takes_a_fraction_of_the_sdks_time(measured: Callable[[str, str], None]) -> None:
    spans = [span for span in _spans() if not span.events] * 50
    encoder = SpanEncoder()

    ours = _fastest(lambda: encoder(spans))
    theirs = _fastest(lambda: encode_spans(spans).SerializePartialToString())

    measured("OTLP encoding, SDK's time over ours", f"{theirs / ours:.1f}x")
    assert ours < theirs / 2
