"""Configuration read once from the environment."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

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


def _cursor_secret(explicit: str | None, database_url: str) -> bytes:
    # Every instance behind the load balancer must sign cursors alike. Without an explicit secret, the
    # database URL (which carries the password in production) is what they share.
    return hashlib.sha256(f"tasks-api cursor secret:{explicit or database_url}".encode()).digest()


@dataclass(frozen=True)
class Settings:
    database_url: str
    validate_responses: bool = False
    cursor_secret: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.cursor_secret:
            object.__setattr__(self, "cursor_secret", _cursor_secret(None, self.database_url))

    @classmethod
    def from_env(cls) -> Settings:
        database_url = async_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        return cls(
            database_url=database_url,
            validate_responses=_flag("TASKS_API_VALIDATE_RESPONSES", default=False),
            cursor_secret=_cursor_secret(os.environ.get("TASKS_API_CURSOR_SECRET"), database_url),
        )
