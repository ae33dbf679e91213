"""Database URLs: normalised to the async drivers for the service, back to blocking ones for Alembic."""

from __future__ import annotations

import pytest

from db.urls import is_sqlite, normalised_database_url, sync_url


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
        ("sqlite:///tasks.db", "sqlite:///tasks.db"),
        ("sqlite+aiosqlite:////var/lib/tasks.db", "sqlite:////var/lib/tasks.db"),
    ],
)
def test_database_urls_are_normalised_to_the_service_drivers(given: str, expected: str) -> None:
    assert normalised_database_url(given) == expected


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        normalised_database_url("mysql://u@host/db")


@pytest.mark.parametrize(
    ("service_url", "expected"),
    [
        ("sqlite+aiosqlite:////var/lib/tasks.db", "sqlite:////var/lib/tasks.db"),
        (
            "postgresql+psycopg://u:p@host/db?sslmode=require",
            "postgresql+psycopg://u:p@host/db?sslmode=require",
        ),
    ],
)
def test_alembic_reaches_the_same_database_through_a_blocking_driver(service_url: str, expected: str) -> None:
    assert sync_url(service_url) == expected


def test_tells_sqlite_urls_from_postgresql_ones() -> None:
    assert is_sqlite(normalised_database_url("sqlite:///tasks.db"))
    assert not is_sqlite(normalised_database_url("postgres://u@host/db"))
