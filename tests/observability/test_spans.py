"""Spans made by the service: a caller's trace context read as OpenTelemetry's propagator reads it, sampled as
its samplers decide."""

from __future__ import annotations

import random

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from observability.spans import RemoteParent, Span, Tracer, current_span, remote_parent

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "traceparent",
    [
        f"00-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-00",
        f" \t00-{TRACE}-{SPAN}-03 ",
        f"01-{TRACE}-{SPAN}-01-and-more",
        f"00-{TRACE}-{SPAN}-01-and-more",
        f"ff-{TRACE}-{SPAN}-01",
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}",
        "",
    ],
)
@pytest.mark.parametrize("tracestate", [None, "vendor=value,other=1", "not a member"])
def test_a_traceparent_is_read_as_opentelemetrys_propagator_reads_it(traceparent: str, tracestate: str | None) -> None:
    headers = [(b"host", b"tasks"), (b"traceparent", traceparent.encode())]
    carrier = {"traceparent": traceparent}
    if tracestate is not None:
        headers.append((b"tracestate", tracestate.encode()))
        carrier["tracestate"] = tracestate

    theirs = trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
    ours = remote_parent(headers)

    if not theirs.is_valid:
        assert ours is None
    else:
        assert ours == RemoteParent(
            theirs.trace_id, theirs.span_id, theirs.trace_flags.sampled, theirs.trace_state.to_header()
        )


def test_without_a_traceparent_there_is_no_parent() -> None:
    assert remote_parent([(b"tracestate", b"k=v")]) is None


def _sdk_decides(sampler: Sampler, trace_id: int, parent: RemoteParent | None) -> bool:
    context = None
    if parent is not None:
        flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if parent.sampled else trace.TraceFlags.DEFAULT)
        remote = trace.SpanContext(parent.trace_id, parent.span_id, is_remote=True, trace_flags=flags)
        context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    decided = sampler.should_sample(context, trace_id, "GET").decision
    return decided is Decision.RECORD_AND_SAMPLE


@pytest.mark.parametrize(
    ("name", "ratio", "sdk_sampler"),
    [
        ("always_on", 1.0, ALWAYS_ON),
        ("always_off", 1.0, ALWAYS_OFF),
        ("traceidratio", 0.25, TraceIdRatioBased(0.25)),
        ("parentbased_always_on", 1.0, ParentBased(ALWAYS_ON)),
        ("parentbased_always_off", 1.0, ParentBased(ALWAYS_OFF)),
        ("parentbased_traceidratio", 0.5, ParentBased(TraceIdRatioBased(0.5))),
    ],
)
def test_server_spans_are_sampled_as_opentelemetrys_samplers_decide(
    name: str, ratio: float, sdk_sampler: Sampler
) -> None:
    tracer = Tracer(lambda span: None, name, ratio)
    generator = random.Random(24)
    decisions = set()
    for _ in range(400):
        trace_id = generator.getrandbits(128)
        for parent in (None, RemoteParent(trace_id, 7, True, ""), RemoteParent(trace_id, 7, False, "")):
            span = tracer.start_server("GET", {}, parent)
            decisions.add(span.sampled)
            assert span.sampled == _sdk_decides(sdk_sampler, span.trace_id, parent), (name, parent)
    if "ratio" in name:
        assert decisions == {True, False}


def test_only_sampled_spans_are_exported_and_a_statement_follows_its_request() -> None:
    ended: list[Span] = []
    tracer = Tracer(ended.append, "parentbased_always_on")
    for sampled in (True, False):
        server = tracer.start_server("GET", {}, RemoteParent(5, 6, sampled, "k=v"))
        token = current_span.set(server)
        statement = tracer.start_client("SELECT tasks", {})
        current_span.reset(token)
        tracer.end(statement)
        tracer.end(server)

    statement, server = ended
    assert (statement.trace_id, statement.parent_span_id, statement.trace_state) == (5, server.span_id, "k=v")
    assert (server.parent_span_id, server.remote_parent, statement.remote_parent) == (6, True, False)
    assert statement.end_ns >= statement.start_ns > 0
