"""The console script: ``serve`` migrates, serves and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import TASKS_API, new_user, serving, wait_for


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_serve_migrates_serves_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"
    with serving(f"sqlite:///{database}") as server:
        base_url, process = server.base_url, server.process
        user = new_user()
        created = httpx.post(f"{base_url}/api/{user}/tasks", json={"title": "from the CLI"})
        assert created.status_code == 201
        assert httpx.get(f"{base_url}/api/{user}/tasks").json()["count"] == 1
        assert httpx.get(f"{base_url}/api/ui/").status_code == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert {"tasks", "alembic_version"} <= _tables(database)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health/live").status_code == 200
    except httpx.ConnectError:
        return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_everything_serve_writes_to_stderr_is_a_json_line(tmp_path: Path, workers: str) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}", "--workers", workers) as server:
        # With several workers, uvicorn announces the socket before the workers have started.
        wait_for(lambda: _answers(server.base_url), what="a worker to answer")
        assert httpx.get(f"{server.base_url}/api/{new_user()}/tasks").status_code == 200
        assert server.stop() == 0

    lines = [line for line in server.log if line.strip()]
    assert any('"tasks_api.access"' in line for line in lines)
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_serve_with_no_migrate_leaves_the_schema_alone(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"
    with serving(f"sqlite:///{database}", "--no-migrate") as server:
        assert httpx.get(f"{server.base_url}/api/openapi.json").status_code == 200
    assert "alembic_version" not in _tables(database)


def test_migrate_upgrades_and_exits(tmp_path: Path) -> None:
    database = tmp_path / "tasks.db"

    completed = subprocess.run(
        [TASKS_API, "migrate"], env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"}, capture_output=True
    )

    assert completed.returncode == 0, completed.stderr
    assert {"tasks", "alembic_version"} <= _tables(database)
