"""The metrics listener: in this process, and over workers that count in files of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from prometheus_client import generate_latest

from observability.exposition import MULTIPROCESS_DIRECTORY, WorkerMetrics, metrics_of_this_process, metrics_of_workers
from tasks_api.settings import MetricsListener
from tests.support import closed_port

# A worker as prometheus_client's multiprocess mode sees one: it counts into the directory, then exits.
WORKER = textwrap.dedent(
    """
    import os
    from prometheus_client import Counter, Gauge
    Counter("served", "requests").inc(3)
    Gauge("in_flight", "requests", multiprocess_mode="livesum").set(2)
    print(os.getpid())
    """
)


def worker_counting_in(directory: str) -> int:
    ran = subprocess.run(
        [sys.executable, "-c", WORKER],
        env={**os.environ, MULTIPROCESS_DIRECTORY: directory},
        check=True,
        capture_output=True,
        text=True,
    )
    return int(ran.stdout)


def test_the_listener_serves_this_process_metrics_while_the_block_runs() -> None:
    port = closed_port()

    with metrics_of_this_process(MetricsListener(port)):
        exposition = httpx.get(f"http://127.0.0.1:{port}/metrics").text

    assert "# TYPE http_server_request_duration_seconds histogram" in exposition
    assert "process_cpu_seconds_total" in exposition


def test_no_listener_means_nothing_is_served() -> None:
    with metrics_of_this_process(None), metrics_of_workers(None) as workers:
        assert workers is None
        assert MULTIPROCESS_DIRECTORY not in os.environ


def test_workers_counts_are_summed_and_a_gone_worker_keeps_its_counts_but_not_its_gauges() -> None:
    port = closed_port()
    with metrics_of_workers(MetricsListener(port)) as workers:
        assert workers is not None
        directory = os.environ[MULTIPROCESS_DIRECTORY]
        first, second = worker_counting_in(directory), worker_counting_in(directory)
        workers.workers_are([first, second])
        both = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        workers.workers_are([second])
        one_gone = generate_latest(workers.registry).decode()

    assert "served_total 6.0" in both
    assert "in_flight 4.0" in both
    assert "served_total 6.0" in one_gone
    assert "in_flight 2.0" in one_gone
    assert not os.path.exists(directory)
    assert MULTIPROCESS_DIRECTORY not in os.environ


def test_process_metrics_have_a_series_per_process(tmp_path: Path) -> None:
    workers = WorkerMetrics(str(tmp_path))
    workers.workers_are([os.getppid()])

    exposition = generate_latest(workers.registry).decode()

    assert f'process_resident_memory_bytes{{pid="{os.getpid()}"}}' in exposition
    assert f'process_resident_memory_bytes{{pid="{os.getppid()}"}}' in exposition
