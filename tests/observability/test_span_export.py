"""The batch export: spans exported in batches, the oldest dropped when the queue is full, and what waits
exported at shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from observability.span_export import BatchExport, Exporter
from observability.spans import Span, Tracer
from observability.trace_settings import SpanSettings


class _Kept(Exporter):
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.shut_down = False

    def export(self, spans: Sequence[Span]) -> None:
        self.batches.append([span.name for span in spans])

    def shutdown(self) -> None:
        self.shut_down = True


def _ended(export: BatchExport, names: range) -> None:
    tracer = Tracer(export.add)
    for name in names:
        tracer.end(tracer.start_server(str(name), {}, None))


def test_what_waits_at_shutdown_is_exported_in_batches_then_the_exporter_closes() -> None:
    kept = _Kept()
    # No export before shutdown: the delay is an hour and no batch fills.
    export = BatchExport([kept], SpanSettings(schedule_delay=3600, max_queue_size=10, max_batch_size=4))
    _ended(export, range(7))

    export.shutdown()

    assert kept.batches == [["0", "1", "2", "3"], ["4", "5", "6"]]
    assert kept.shut_down


class _HeldOnce(_Kept):
    """Holds its first export until released, so that the queue fills behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.exporting = threading.Event()
        self.released = threading.Event()

    def export(self, spans: Sequence[Span]) -> None:
        if not self.batches:
            self.exporting.set()
            self.released.wait(timeout=30)
        super().export(spans)


def test_past_the_queue_size_the_oldest_spans_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    held = _HeldOnce()
    export = BatchExport([held], SpanSettings(schedule_delay=3600, max_queue_size=3, max_batch_size=3))
    with caplog.at_level(logging.WARNING, logger="observability.span_export"):
        _ended(export, range(3))  # a full batch: the thread takes it, and is held
        assert held.exporting.wait(timeout=30)
        _ended(export, range(3, 8))
        held.released.set()
        export.shutdown()

    assert held.batches == [["0", "1", "2"], ["5", "6", "7"]]
    assert "2 spans dropped" in caplog.text
