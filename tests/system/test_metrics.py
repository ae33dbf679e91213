"""Metrics of a real ``tasks-api serve``: on a listener of their own, on loopback, off by default, and every
worker's counts once with ``--workers``."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasks_api.migrations import upgrade_to_head
from tests import processes
from tests.support import TASKS_API, answers, closed_port, fresh_database, new_user, serving, wait_for

WORKER_START = 120.0
LIST_TASKS = {"operation": "list_tasks", "method": "GET", "status_class": "2xx"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path) as url:
        upgrade_to_head(url)
        yield url


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the metrics listener shows: (name, sorted labels) -> value."""
    exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def per_process(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> dict[int, float]:
    return {int(dict(labels)["pid"]): value for (found, labels), value in samples.items() if found == name}


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP addresses (IPv4, as dotted quads) the process listens on, read from /proc."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(descriptor)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and inode in inodes:  # 0A: LISTEN
            host, port = local.split(":")
            quad = ".".join(str(int(host[i : i + 2], 16)) for i in range(6, -1, -2))
            addresses.add((quad, int(port, 16)))
    return addresses


def get_many(base_url: str, user: str, count: int) -> None:
    """``count`` GETs, each on a connection of its own from one of several threads, so that whichever worker
    is free accepts it."""

    def get(_: int) -> int:
        return httpx.get(f"{base_url}/api/{user}/tasks", timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(get, range(count))) == {200}


def test_one_worker_counts_each_request_once_on_a_loopback_listener(sqlite_url: str) -> None:
    metrics_port = closed_port()
    with serving(sqlite_url, "--no-migrate", TASKS_API_METRICS_PORT=str(metrics_port)) as server:
        get_many(server.base_url, new_user(), 25)
        samples = scrape(metrics_port)
        addresses = listening(server.process.pid)

    assert sample(samples, "http_server_request_duration_seconds_count", **LIST_TASKS) == 25
    assert sample(samples, "process_cpu_seconds_total") > 0
    assert ("127.0.0.1", metrics_port) in addresses


def test_metrics_are_off_by_default(sqlite_url: str) -> None:
    with serving(sqlite_url, "--no-migrate") as server:
        api_port = int(server.base_url.rsplit(":", 1)[1])
        assert listening(server.process.pid) == {("127.0.0.1", api_port)}


def test_two_workers_count_every_request_once_and_keep_the_counts_of_a_worker_that_died(sqlite_url: str) -> None:
    metrics_port = closed_port()
    user = new_user()
    with serving(sqlite_url, "--no-migrate", "--workers", "2", TASKS_API_METRICS_PORT=str(metrics_port)) as server:
        supervisor = server.process.pid

        def workers() -> set[int]:
            return set(per_process(scrape(metrics_port), "process_cpu_seconds_total")) - {supervisor}

        # The parent announces the socket before its workers have started; spawned, each imports the service
        # afresh, which takes seconds on a loaded machine.
        wait_for(lambda: answers(f"{server.base_url}/api/health/live"), timeout=WORKER_START, what="a worker")
        wait_for(lambda: len(workers()) == 2, timeout=WORKER_START, what="two workers")
        probes = sample(scrape(metrics_port), "http_server_health_probes_total", operation="live", status_class="2xx")
        cpu_before = per_process(scrape(metrics_port), "process_cpu_seconds_total")

        get_many(server.base_url, user, 300)
        counted = scrape(metrics_port)
        cpu_after = per_process(counted, "process_cpu_seconds_total")

        first, second = sorted(workers())
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: first not in workers() and len(workers()) == 2, timeout=WORKER_START, what="a new worker")
        after_the_death = scrape(metrics_port)

    # Both workers served some of the requests: each spent CPU on them.
    assert all(cpu_after[worker] > cpu_before[worker] for worker in (first, second)), (cpu_before, cpu_after)
    assert sample(counted, "http_server_request_duration_seconds_count", **LIST_TASKS) == 300
    assert probes >= 1
    assert sample(after_the_death, "http_server_request_duration_seconds_count", **LIST_TASKS) == 300
    assert sample(after_the_death, "http_server_active_requests") == 0


def test_the_metrics_port_may_not_be_the_api_port(tmp_path: Path) -> None:
    port = closed_port()
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tasks.db'}",
        "TASKS_API_METRICS_PORT": str(port),
    }

    ran = processes.run(
        [TASKS_API, "serve", "--port", str(port)], env=environment, capture_output=True, text=True, timeout=60
    )

    assert ran.returncode == 2
    assert "TASKS_API_METRICS_PORT" in ran.stderr
    assert not (tmp_path / "tasks.db").exists()  # refused before migrating
