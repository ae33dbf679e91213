from __future__ import annotations

import pytest

from tasks_api.settings import Settings


def test_defaults_to_a_sqlite_file_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TASKS_API_VALIDATE_RESPONSES", raising=False)
    monkeypatch.delenv("TASKS_API_ACCESS_LOG", raising=False)

    settings = Settings.from_env()

    assert settings.database_url == "sqlite+aiosqlite:///tasks.db"
    assert settings.validate_responses is False
    assert settings.access_log is True


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/tasks")
    monkeypatch.setenv("TASKS_API_VALIDATE_RESPONSES", "true")
    monkeypatch.setenv("TASKS_API_ACCESS_LOG", "false")

    settings = Settings.from_env()

    assert settings.database_url == "postgresql+psycopg://u@db/tasks"
    assert settings.validate_responses is True
    assert settings.access_log is False
