from __future__ import annotations

import pytest

from tasks_api.settings import Settings, async_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql://u:p@host:5433/db", "postgresql+psycopg://u:p@host:5433/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        (
            "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
            "postgresql+psycopg://u:p@ep-cool-1.eu-central-1.aws.neon.tech/neondb?channel_binding=require&sslmode=require",
        ),
        ("sqlite:///tasks.db", "sqlite+aiosqlite:///tasks.db"),
        ("sqlite:////var/lib/tasks.db", "sqlite+aiosqlite:////var/lib/tasks.db"),
    ],
)
def test_database_urls_are_normalised_to_the_async_drivers(given: str, expected: str) -> None:
    assert async_database_url(given) == expected


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        async_database_url("mysql://u@host/db")


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
