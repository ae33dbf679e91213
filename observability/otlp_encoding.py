"""Spans to an OTLP ``ExportTraceServiceRequest`` in protobuf, written byte by byte.

The SDK's encoder (``opentelemetry.exporter.otlp.proto.common``) builds a protobuf message object per span,
attribute and value: 66 us a span on this machine, all of it on the worker's one core. Written here, with the
encoding of span names and attributes kept (a statement's span carries the same few every time), the message is
the one the SDK's encoder writes for the SDK's span objects (``tests/observability/test_otlp_encoding.py``
decodes both and compares them) in a fraction of the time (the same test measures it).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from observability.spans import Span

_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
# Span.flags (opentelemetry.proto.trace.v1.SpanFlags): whether the parent's remoteness is known, and is remote.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
_STATUS_ERROR = 2  # Status.StatusCode
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


class SpanEncoder:
    """``ExportTraceServiceRequest`` bytes for a batch of ended spans, all of one resource and scope."""

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self._kept: dict[tuple[Any, Any], bytes] = {}  # span names and attributes, encoded
        described = _field(1, scope.name.encode()) + _attributes(3, scope.attributes)
        if scope.version:
            described += _field(2, scope.version.encode())
        self._scope = _field(1, described)
        self._scope_schema = _field(3, scope.schema_url.encode()) if scope.schema_url else b""
        self._resource = _field(1, _attributes(1, resource.attributes))
        self._resource_schema = _field(3, resource.schema_url.encode()) if resource.schema_url else b""

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

    def _span(self, span: Span) -> bytes:
        parts = [b"\x0a\x10", span.trace_id.to_bytes(16, "big"), b"\x12\x08", span.span_id.to_bytes(8, "big")]
        if span.trace_state:
            parts.append(self._kept_field(3, span.trace_state))
        if span.parent_span_id is not None:
            parts += (b"\x22\x08", span.parent_span_id.to_bytes(8, "big"))
        parts += (self._kept_field(5, span.name), b"\x30", _ONE_BYTE[span.kind])
        parts += (b"\x39", _FIXED64.pack(span.start_ns), b"\x41", _FIXED64.pack(span.end_ns))
        parts += [self._attribute(key, value) for key, value in span.attributes.items()]
        status = b"\x18" + _ONE_BYTE[_STATUS_ERROR] if span.error else b""
        flags = _HAS_IS_REMOTE | (_IS_REMOTE if span.remote_parent else 0)
        parts += (_field(15, status), b"\x85\x01", flags.to_bytes(4, "little"))
        return _field(2, b"".join(parts))

    def __call__(self, spans: Sequence[Span]) -> bytes:
        scope_spans = _field(2, self._scope + b"".join(self._span(span) for span in spans) + self._scope_schema)
        return _field(1, self._resource + scope_spans + self._resource_schema)
