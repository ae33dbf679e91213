"""The console script: ``serve`` migrates, serves and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.support import TASKS_API, new_user, serving


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
