"""An OTLP/HTTP trace receiver the tests run themselves, as a collector would: ``POST /v1/traces`` with an
``ExportTraceServiceRequest`` in protobuf, answered with an empty ``ExportTraceServiceResponse``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support import wait_for

PROTOBUF = "application/x-protobuf"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    kind: str  # SPAN_KIND_SERVER, SPAN_KIND_CLIENT, ...
    trace_id: str  # hexadecimal, as in a traceparent header
    span_id: str
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]
    status: str  # STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR
    resource: dict[str, Any]
    start_ns: int
    end_ns: int


class Receiver:
    """What arrived: every span, in order, and the content types of the requests they came in."""

    def __init__(self, keep: bool) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.content_types: list[str] = []
        self.discarded = 0  # spans counted and thrown away, when not kept
        self.url = ""  # for OTEL_EXPORTER_OTLP_ENDPOINT, once serving

    def receive(self, content_type: str, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        if not self._keep:
            count = sum(len(scope.spans) for spans in request.resource_spans for scope in spans.scope_spans)
            with self._lock:
                self.discarded += count
            return
        spans = []
        for resource_spans in request.resource_spans:
            resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        ReceivedSpan(
                            name=span.name,
                            kind=span.SpanKind.Name(span.kind),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={item.key: _value(item.value) for item in span.attributes},
                            status=span.status.StatusCode.Name(span.status.code),
                            resource=resource,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        with self._lock:
            self.content_types.append(content_type)
            self._spans.extend(spans)

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for_spans(self, condition: Callable[[list[ReceivedSpan]], bool], what: str) -> list[ReceivedSpan]:
        wait_for(lambda: condition(self.spans()), what=what)
        return self.spans()


@contextmanager
def otlp_receiver(*, keep: bool = True) -> Iterator[Receiver]:
    """Serves OTLP/HTTP on a free loopback port until the block ends; ``keep=False`` counts spans and discards
    them, as a collector that keeps up would (for benchmarks)."""
    receiver = Receiver(keep)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector serves the SDK's session

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            content_type = self.headers.get("Content-Type", "")
            if self.path != "/v1/traces" or content_type != PROTOBUF:
                self.send_response(415 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            receiver.receive(content_type, body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", PROTOBUF)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a line per export would bury the tests' output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
