"""The spans themselves: made, timed and sampled here, exported in OpenTelemetry's wire format
(``observability.span_export``).

The OpenTelemetry SDK's tracer took about 65 µs of the worker's CPU to make a get-one's two spans, and 105 µs
with its batch processor behind it, against the 250-300 µs of the whole request; a span here is a plain object
with its ids, times and attributes (2-3 µs). Only what the service's spans use is here: a kind, attributes set
at start and end, an error status; no events, links or attribute limits. The SDK's encoder would write the same
message (``tests/observability/test_otlp_encoding.py`` compares them).

What OpenTelemetry's settings ask of a tracer is kept: W3C trace context (``traceparent``, ``tracestate``)
continued as the SDK's propagator reads it, and the sampler ``OTEL_TRACES_SAMPLER`` names
(``observability.trace_settings`` checks it), parent-based always-on by default. A request not sampled still
has a trace id, continued or new, which its access line carries; its spans are dropped when they end.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NamedTuple

from opentelemetry.trace.span import TraceState

from observability.trace_settings import DEFAULT_SAMPLER

# OTLP's Span.SpanKind.
SERVER, CLIENT = 2, 3
Attributes = dict[str, Any]

_TRACEPARENT = re.compile(r"^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]*$")
_SAMPLED = 0x01
_LOWER_64_BITS = (1 << 64) - 1


class RemoteParent(NamedTuple):
    """The caller's span, from its ``traceparent``: the server span's parent."""

    trace_id: int
    span_id: int
    sampled: bool
    trace_state: str  # the tracestate header's members, as the SDK keeps them; "" for none


class Span:
    __slots__ = (
        "attributes",
        "end_ns",
        "error",
        "kind",
        "name",
        "parent_span_id",
        "remote_parent",
        "sampled",
        "span_id",
        "start_ns",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        name: str,
        kind: int,
        attributes: Attributes,
        trace_id: int,
        parent_span_id: int | None,
        *,
        sampled: bool,
        remote_parent: bool = False,
        trace_state: str = "",
    ) -> None:
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.trace_id = trace_id
        self.span_id = random.getrandbits(64) or 1  # never 0, the invalid id
        self.parent_span_id = parent_span_id
        self.sampled = sampled
        self.remote_parent = remote_parent
        self.trace_state = trace_state
        self.error = False
        self.start_ns = time.time_ns()
        self.end_ns = 0

    def failed(self, error_type: str) -> None:
        # A new dict: a statement's span starts with the attributes every run of that statement shares.
        self.attributes = {**self.attributes, "error.type": error_type}
        self.error = True


# The span of the request (or the background task) running: a statement's span is its child.
current_span: ContextVar[Span | None] = ContextVar("current_span", default=None)


def remote_parent(headers: list[tuple[bytes, bytes]]) -> RemoteParent | None:
    """The span a W3C ``traceparent`` names, read as the SDK's propagator reads it (the first such header;
    invalid ones ignored), with its ``tracestate``."""
    traceparent: bytes | None = None
    tracestate: list[str] = []
    for name, value in headers:
        if name == b"traceparent":
            if traceparent is None:
                traceparent = value
        elif name == b"tracestate":
            tracestate.append(value.decode("latin-1"))
    if traceparent is None:
        return None
    match = _TRACEPARENT.search(traceparent.decode("latin-1"))
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or not int(trace_id, 16) or not int(span_id, 16):
        return None
    trace_state = TraceState.from_header(tracestate).to_header() if tracestate else ""
    return RemoteParent(int(trace_id, 16), int(span_id, 16), bool(int(flags, 16) & _SAMPLED), trace_state)


RootSampler = Callable[[int], bool]


def _ratio(rate: float) -> RootSampler:
    # As OpenTelemetry's TraceIdRatioBased: the lower 64 bits of the trace id against the rate's share of them.
    bound = round(rate * (1 << 64))
    return lambda trace_id: trace_id & _LOWER_64_BITS < bound


def root_sampler(name: str, argument: float) -> tuple[RootSampler, bool]:
    """What decides a trace that starts here, and whether a caller's sampled flag decides one it continues
    (the ``parentbased_`` samplers), for a sampler ``observability.trace_settings`` accepted."""
    parent_based = name.startswith("parentbased_")
    kind = name.removeprefix("parentbased_")
    if kind == "always_on":
        return (lambda _: True), parent_based
    if kind == "always_off":
        return (lambda _: False), parent_based
    return _ratio(argument), parent_based


class Tracer:
    """Starts spans, and hands each sampled one, ended, to ``export``."""

    def __init__(self, export: Callable[[Span], None], sampler: str = DEFAULT_SAMPLER, ratio: float = 1.0):
        self._export = export
        self._sample, self._parent_based = root_sampler(sampler, ratio)

    def start_server(self, name: str, attributes: Attributes, parent: RemoteParent | None) -> Span:
        if parent is None:
            trace_id = random.getrandbits(128) or 1
            return Span(name, SERVER, attributes, trace_id, None, sampled=self._sample(trace_id))
        sampled = parent.sampled if self._parent_based else self._sample(parent.trace_id)
        return Span(
            name,
            SERVER,
            attributes,
            parent.trace_id,
            parent.span_id,
            sampled=sampled,
            remote_parent=True,
            trace_state=parent.trace_state,
        )

    def start_client(self, name: str, attributes: Attributes) -> Span:
        """A span in the current one (a root span outside any: a background task's statement)."""
        parent = current_span.get()
        if parent is None:
            trace_id = random.getrandbits(128) or 1
            return Span(name, CLIENT, attributes, trace_id, None, sampled=self._sample(trace_id))
        return Span(
            name,
            CLIENT,
            attributes,
            parent.trace_id,
            parent.span_id,
            sampled=parent.sampled,
            trace_state=parent.trace_state,
        )

    def end(self, span: Span) -> None:
        span.end_ns = time.time_ns()
        if span.sampled:
            self._export(span)


def current_trace_id() -> str | None:
    """The trace id of the span now current (the request's), as 32 hexadecimal digits; None outside one."""
    span = current_span.get()
    return None if span is None else format(span.trace_id, "032x")
