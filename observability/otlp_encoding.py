"""Spans to an OTLP ``ExportTraceServiceRequest`` in protobuf, written byte by byte, and the OTLP/HTTP exporter
that sends it.

The SDK's encoder (``opentelemetry.exporter.otlp.proto.common``) builds a protobuf message object per span,
attribute and value: 66 us a span on this machine, as much as making the span, all of it on the worker's one
core. Written here, with the encoding of span names and attributes kept (a statement's span carries the same
few every time), the message is the same (``tests/observability/test_otlp_encoding.py`` decodes both and
compares them) in a third to a seventh of the time (the same test measures it: 3.0-3.4x on batches of 200
spans, 7.3x on 800). The exporter is the SDK's own, with
its settings from the environment (endpoint, headers, timeout, compression, TLS files) and its retries; only
``export`` is replaced, sending through the SDK exporter's ``_client``, not a public part: the tests that export
to a receiver pin it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import StatusCode

_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
# Span.flags (opentelemetry.proto.trace.v1.SpanFlags): whether the parent's remoteness is known, and is remote.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
# Names and attributes whose encoding is kept, at most: a client can choose some values (an unknown method's).
_KEPT_ATTRIBUTES = 4096


_ONE_BYTE = [bytes([number]) for number in range(0x80)]


def _varint(number: int) -> bytes:
    if 0 <= number < 0x80:
        return _ONE_BYTE[number]
    number &= 0xFFFFFFFFFFFFFFFF  # int64: a negative number is its two's complement
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: a string, bytes or a message."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message's content."""
    if isinstance(value, bool):
        return b"\x10" + _varint(int(value))
    if isinstance(value, str):
        return _field(1, value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(7, value)
    if isinstance(value, Sequence):
        return _field(5, b"".join(_field(1, _any_value(item)) for item in value))
    raise TypeError(f"an attribute cannot be a {type(value).__name__}")


def _attributes(number: int, attributes: Mapping[str, Any] | None) -> bytes:
    """Attributes as the repeated ``KeyValue`` field ``number`` of a message."""
    return b"".join(
        _field(number, _field(1, key.encode()) + _field(2, _any_value(value)))
        for key, value in (attributes or {}).items()
    )


def _scope_spans(scope: InstrumentationScope | None, spans: list[bytes]) -> bytes:
    described = b""
    if scope is not None:
        described = _field(1, scope.name.encode()) + _attributes(3, scope.attributes)
        if scope.version:
            described += _field(2, scope.version.encode())
    content = _field(1, described) + b"".join(spans)
    if scope is not None and scope.schema_url:
        content += _field(3, scope.schema_url.encode())
    return content


class SpanEncoder:
    """``ExportTraceServiceRequest`` bytes for a batch of finished spans, as the SDK's encoder would write."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, Any], bytes] = {}  # span names and attributes, encoded

    def _kept_field(self, number: int, text: str) -> bytes:
        encoded = self._kept.get((number, text))
        if encoded is None:
            encoded = _field(number, text.encode())
            if len(self._kept) < _KEPT_ATTRIBUTES:
                self._kept[(number, text)] = encoded
        return encoded

    def _attribute(self, key: str, value: Any) -> bytes:
        try:
            encoded = self._kept.get((key, value))
        except TypeError:  # a sequence: not kept
            return _field(9, _field(1, key.encode()) + _field(2, _any_value(value)))
        if encoded is None:
            encoded = _field(9, _field(1, key.encode()) + _field(2, _any_value(value)))
            if len(self._kept) < _KEPT_ATTRIBUTES:
                self._kept[(key, value)] = encoded
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        if span.events or span.links:
            # None of this service's spans has any; the SDK's encoder writes them if a span ever does.
            message = encode_spans([span]).resource_spans[0].scope_spans[0].spans[0]
            return _field(2, message.SerializeToString())
        context, parent = span.context, span.parent
        assert context is not None and span.start_time is not None and span.end_time is not None
        parts = [b"\x0a\x10", context.trace_id.to_bytes(16, "big"), b"\x12\x08", context.span_id.to_bytes(8, "big")]
        if context.trace_state:
            parts.append(_field(3, ",".join(f"{key}={value}" for key, value in context.trace_state.items()).encode()))
        if parent is not None:
            parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
        parts += (self._kept_field(5, span.name), b"\x30", _varint(span.kind.value + 1))
        parts += (b"\x39", _FIXED64.pack(span.start_time), b"\x41", _FIXED64.pack(span.end_time))
        parts += [self._attribute(key, value) for key, value in (span.attributes or {}).items()]
        if span.dropped_attributes:
            parts += (b"\x50", _varint(span.dropped_attributes))
        status = b""
        if span.status.description:
            status += _field(2, span.status.description.encode())
        if span.status.status_code is not StatusCode.UNSET:
            status += b"\x18" + _varint(span.status.status_code.value)
        flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
        parts += (_field(15, status), b"\x85\x01", flags.to_bytes(4, "little"))
        return _field(2, b"".join(parts))

    def __call__(self, spans: Sequence[ReadableSpan]) -> bytes:
        # By identity: a resource's hash is a JSON rendering of its attributes, a third of the time otherwise.
        resources: dict[int, Resource] = {}
        grouped: dict[int, dict[InstrumentationScope | None, list[bytes]]] = {}
        for span in spans:
            resources.setdefault(id(span.resource), span.resource)
            scopes = grouped.setdefault(id(span.resource), {})
            scopes.setdefault(span.instrumentation_scope, []).append(self._span(span))
        request = b""
        for key, scopes in grouped.items():
            resource = resources[key]
            content = _field(1, _attributes(1, resource.attributes))
            content += b"".join(_field(2, _scope_spans(scope, encoded)) for scope, encoded in scopes.items())
            if resource.schema_url:
                content += _field(3, resource.schema_url.encode())
            request += _field(1, content)
        return request


class OTLPExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter, writing its requests with ``SpanEncoder``."""

    def __init__(self) -> None:
        super().__init__()
        self._encode = SpanEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        sent = self._client.export(self._encode(spans))
        return SpanExportResult.SUCCESS if sent.success else SpanExportResult.FAILURE
