"""Configuration read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///tasks.db"

# Every PostgreSQL spelling goes to psycopg 3, so Neon/Heroku-style URLs work unchanged.
_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


def async_database_url(raw: str) -> str:
    """Normalise a database URL to the async driver this service runs on, keeping its query string."""
    url = make_url(raw)
    if url.drivername in _POSTGRES_DRIVERS:
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername in _SQLITE_DRIVERS:
        url = url.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}: use postgresql:// or sqlite://")
    return url.render_as_string(hide_password=False)


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    validate_responses: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=async_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            validate_responses=_flag("TASKS_API_VALIDATE_RESPONSES", default=False),
        )
