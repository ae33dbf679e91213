"""Three instances behind HAProxy (deploy/haproxy.cfg), through PgBouncer in transaction mode
(deploy/pgbouncer.ini), all on loopback ports: mixed load against the model, an instance killed mid-run, a
rolling restart under load, and the statement timeout through the whole stack."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tasks_api.migrations import upgrade_to_head
from tests.load import ChurnLoad, Tally, assert_matches_model, mixed_load, served_since, under_load
from tests.stack import Stack, scale_out
from tests.support import fresh_database, new_user, row_lock, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("scale")) as database_url:
        upgrade_to_head(database_url)
        environment = {"TASKS_API_DB_STATEMENT_TIMEOUT_MS": "1000", "TASKS_API_ACCESS_LOG": "false"}
        with scale_out(database_url, **environment) as running:
            yield running


def test_mixed_load_through_the_load_balancer_loses_nothing(stack: Stack, measured: Callable[[str, str], None]) -> None:
    tally = Tally()

    started = time.monotonic()
    model = asyncio.run(mixed_load(stack.balancer.url, tally, clients=24))
    elapsed = time.monotonic() - started

    assert not [status for status in tally.statuses if status >= 500], tally.statuses
    assert_matches_model(stack.balancer.url, model)
    measured(
        "mixed load through HAProxy, 3 instances, PgBouncer",
        f"{tally.operations} operations in {elapsed:.1f} s; statuses {dict(sorted(tally.statuses.items()))}",
    )


def test_an_instance_killed_mid_run_loses_no_acknowledged_write(
    stack: Stack, measured: Callable[[str, str], None]
) -> None:
    load = ChurnLoad(stack.balancer.url)
    victim = stack.instances[1]
    killed_at = 0.0

    def kill_mid_run() -> None:
        nonlocal killed_at
        wait_for(served_since(load, 0, 300), what="load to run")
        killed_at = time.monotonic()
        victim.stop(signal.SIGKILL)
        # Enough traffic after the 2 s window to show there are no more errors.
        wait_for(lambda: time.monotonic() > killed_at + 2, what="2 s after the kill")
        wait_for(served_since(load, killed_at + 2, 400), what="load after the window")

    try:
        under_load(load, kill_mid_run)
    finally:
        # Whatever happens here, the next test finds every instance serving.
        if victim.process is None or victim.process.poll() is not None:
            victim.start()
        stack.balancer.wait_all_up()

    errors = load.errors()
    late = [error for error in errors if error.started > killed_at + 2]
    assert not late, late
    assert all(error.status in {0, 502, 503} for error in errors), errors
    load.assert_consistent()
    measured(
        "kill -9 of one of 3 instances under load",
        f"{len(load.outcomes)} requests, {len(errors)} failed, sent from "
        f"{min((error.started - killed_at for error in errors), default=0) * 1000:.0f} to "
        f"{max((error.started - killed_at for error in errors), default=0) * 1000:.0f} ms after the kill",
    )


def test_a_rolling_restart_under_load_has_no_errors(stack: Stack) -> None:
    load = ChurnLoad(stack.balancer.url)

    def restart_each() -> None:
        wait_for(served_since(load, 0, 200), what="load to run")
        for number, instance in enumerate(stack.instances, 1):
            stack.balancer.drain(number)
            instance.stop(signal.SIGTERM)
            instance.start()
            stack.balancer.ready(number)
            stack.balancer.wait_all_up()
            wait_for(served_since(load, time.monotonic(), 100), what="load on the restarted set")

    under_load(load, restart_each)

    assert not load.errors(), load.errors()
    load.assert_consistent()


def test_the_statement_timeout_cancels_a_blocked_statement_through_the_stack(stack: Stack) -> None:
    user = new_user()
    task = httpx.post(f"{stack.balancer.url}/api/{user}/tasks", json={"title": "locked"}).json()

    with row_lock(stack.database_url, task["id"]):
        started = time.monotonic()
        response = httpx.patch(f"{stack.balancer.url}/api/{user}/tasks/{task['id']}/complete", timeout=30)
        waited = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert 0.9 < waited < 5
