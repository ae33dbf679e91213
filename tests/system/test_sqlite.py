"""The embedded SQLite default under a real ``tasks-api serve``: several workers on one file, and a kill -9."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tasks_api.migrations import upgrade_to_head
from tests.load import ChurnLoad, Tally, assert_matches_model, mixed_load, served_since, under_load
from tests.support import answers, fresh_database, serving, wait_for


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path) as url:
        upgrade_to_head(url)
        yield url


def test_two_workers_on_one_file_lose_nothing(sqlite_url: str, measured: Callable[[str, str], None]) -> None:
    tally = Tally()
    with serving(sqlite_url, "--no-migrate", "--workers", "2") as server:
        # The parent announces the socket before its workers have started.
        wait_for(lambda: answers(f"{server.base_url}/api/health/ready"), what="the workers to answer")
        started = time.monotonic()
        model = asyncio.run(mixed_load(server.base_url, tally, clients=32))
        elapsed = time.monotonic() - started
        assert_matches_model(server.base_url, model)
        log = "".join(server.log)

    assert tally.operations >= 2000
    assert not [status for status in tally.statuses if status >= 500], tally.statuses
    assert "database is locked" not in log
    measured(
        "mixed load (sqlite, 2 workers on one file)",
        f"{tally.operations} operations in {elapsed:.1f} s; statuses {dict(sorted(tally.statuses.items()))}",
    )


def test_a_server_killed_during_writes_loses_no_acknowledged_write(
    sqlite_url: str, measured: Callable[[str, str], None]
) -> None:
    with serving(sqlite_url, "--no-migrate", "--workers", "1") as server:
        load = ChurnLoad(server.base_url)
        killed_at = 0.0

        def kill_mid_run() -> None:
            nonlocal killed_at
            wait_for(served_since(load, 0, 500), what="writes to run")
            killed_at = time.monotonic()
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()

        under_load(load, kill_mid_run)

    acknowledged = sum(len(tasks) for tasks in load.model.values())
    errors = load.errors()
    assert acknowledged > 0
    # No answer was an error: the only failures are the requests the kill left without an answer.
    assert all(error.status == 0 for error in errors), errors
    with serving(sqlite_url, "--no-migrate") as restarted:
        load.base_url = restarted.base_url
        load.assert_consistent()
    measured(
        "kill -9 of the server on SQLite under load",
        f"{len(load.outcomes)} requests, {acknowledged} tasks acknowledged and found after the restart;"
        f" {len(errors)} unanswered, the first sent {min(e.started for e in errors) - killed_at:+.3f} s from the kill",
    )
