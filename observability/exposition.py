"""The listener Prometheus scrapes, apart from the API's: in the serving process itself with one worker, in
the supervising process with several.

With several workers each counts in files of its own (prometheus_client's multiprocess mode, in a directory
made for this run and removed after it) and the supervisor serves their sum: every worker's counts, once,
whichever worker a scrape would have reached. A worker that exits is marked dead, which drops its live gauges
(requests in flight, pool, queue) and keeps its counts. Process metrics (CPU, memory, descriptors) are read at
scrape time from ``/proc`` for the supervisor and each worker, one series per process labelled ``pid``.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from tasks_api.settings import MetricsListener

logger = logging.getLogger("tasks_api.metrics")

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _listening(listener: MetricsListener, registry: CollectorRegistry) -> Iterator[None]:
    server, thread = start_http_server(listener.port, listener.host, registry)
    host = f"[{listener.host}]" if ":" in listener.host else listener.host
    logger.info("metrics on http://%s:%d/metrics", host, listener.port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def metrics_of_this_process(listener: MetricsListener | None) -> Iterator[None]:
    """Serves the metrics of the one worker running in this process, while the block runs."""
    if listener is None:
        yield
        return
    with _listening(listener, REGISTRY):
        yield


class _Processes(Collector):
    """The standard process metrics of several processes, one series each, labelled ``pid``."""

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self._pids = pids

    def collect(self) -> Iterable[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for pid in self._pids():
            for family in ProcessCollector(pid=functools.partial(int, pid), registry=None).collect():
                kind = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
                labelled = families.setdefault(family.name, kind(family.name, family.documentation, labels=["pid"]))
                for sample in family.samples:
                    labelled.add_metric([str(pid)], sample.value)
        return families.values()


class WorkerMetrics:
    """What the supervisor of several workers needs to serve their metrics (see the module's docstring)."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._workers: frozenset[int] = frozenset()
        self.registry = CollectorRegistry()
        MultiProcessCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        PlatformCollector(registry=self.registry)
        self.registry.register(_Processes(lambda: [os.getpid(), *sorted(self._workers)]))

    def workers_are(self, pids: Sequence[int]) -> None:
        """Told the workers' pids whenever the supervisor may have replaced one (every half second)."""
        current = frozenset(pids)
        for gone in self._workers - current:
            mark_process_dead(gone, self._directory)  # type: ignore[no-untyped-call]
        self._workers = current


@contextmanager
def metrics_of_workers(listener: MetricsListener | None) -> Iterator[WorkerMetrics | None]:
    """Serves the metrics of the workers started within the block, which count in a directory named to them
    by the environment they inherit."""
    if listener is None:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="tasks-api-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    try:
        workers = WorkerMetrics(directory)
        with _listening(listener, workers.registry):
            yield workers
    finally:
        del os.environ[MULTIPROCESS_DIRECTORY]
        shutil.rmtree(directory, ignore_errors=True)
