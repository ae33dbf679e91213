"""The embedded SQLite default under a real ``tasks-api serve``: several workers on one file, and a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from db.urls import normalised_database_url
from tasks_api.migrations import upgrade_to_head
from tests.load import ChurnLoad, Tally, assert_matches_model, mixed_load, served_since, under_load
from tests.support import answers, assert_problem, fresh_database, new_user, serving, wait_for


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


@contextmanager
def _small_disk(directory: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills (ENOSPC, SQLite's SQLITE_FULL). Mounting takes root, which CI has;
    elsewhere the test skips. Nothing else fills a disk for one process only: a file size limit fails writes
    with another error, and SQLite's max_page_count is a setting of the service's own connections."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs takes root")
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(directory)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def _fill(disk: Path, leaving: int) -> Path:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (free - leaving))
    return filler


def test_a_restart_on_a_full_disk_serves_reads_and_answers_writes_503_until_space_returns(tmp_path: Path) -> None:
    with _small_disk(tmp_path / "disk") as disk:
        url = normalised_database_url(f"sqlite:///{disk / 'tasks.db'}")
        upgrade_to_head(url)
        user = new_user()
        with serving(url, "--no-migrate") as server:
            httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": "before"}).raise_for_status()
            # Stopped cleanly, the last connection folds the WAL into the file and removes it and its index.
            assert server.stop() == 0
        # Room for the WAL index a reader maps (32 KiB), not for a write.
        filler = _fill(disk, leaving=36 * 1024)

        titles = ["before"]
        for options in ([], ["--no-migrate"]):
            with serving(url, *options) as server:
                listed = httpx.get(f"{server.base_url}/api/{user}/tasks")
                ready = httpx.get(f"{server.base_url}/api/health/ready")
                refused = httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": "full"})

                assert sorted(task["title"] for task in listed.json()["items"]) == sorted(titles)
                assert ready.status_code == 200
                assert_problem(refused, 503, "SERVICE_UNAVAILABLE")
                filler.unlink()
                created = httpx.post(f"{server.base_url}/api/{user}/tasks", json={"title": f"after {len(titles)}"})
                assert created.status_code == 201
                titles.append(created.json()["title"])
                assert server.stop() == 0
                log = "".join(server.log)
            assert "Traceback" not in log
            assert "Running upgrade" not in log
            filler = _fill(disk, leaving=36 * 1024)
