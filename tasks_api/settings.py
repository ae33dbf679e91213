"""Configuration read once from the environment."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from db.database import PoolOptions
from db.urls import async_database_url

DEFAULT_DATABASE_URL = "sqlite:///tasks.db"


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else float(value)


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
    pool: PoolOptions = field(default_factory=PoolOptions)
    # Seconds in-flight requests get to finish after SIGTERM before they are cut off.
    shutdown_grace: float = 30.0
    access_log: bool = True

    def __post_init__(self) -> None:
        if not self.cursor_secret:
            object.__setattr__(self, "cursor_secret", _cursor_secret(None, self.database_url))

    @classmethod
    def from_env(cls) -> Settings:
        defaults = PoolOptions()
        database_url = async_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        return cls(
            database_url=database_url,
            validate_responses=_flag("TASKS_API_VALIDATE_RESPONSES", default=False),
            cursor_secret=_cursor_secret(os.environ.get("TASKS_API_CURSOR_SECRET"), database_url),
            pool=PoolOptions(
                size=int(_number("TASKS_API_DB_POOL_SIZE", defaults.size)),
                max_overflow=int(_number("TASKS_API_DB_MAX_OVERFLOW", defaults.max_overflow)),
                checkout_timeout=_number("TASKS_API_DB_POOL_TIMEOUT", defaults.checkout_timeout),
                connect_timeout=int(_number("TASKS_API_DB_CONNECT_TIMEOUT", defaults.connect_timeout)),
                statement_timeout_ms=int(_number("TASKS_API_DB_STATEMENT_TIMEOUT_MS", defaults.statement_timeout_ms)),
            ),
            shutdown_grace=_number("TASKS_API_SHUTDOWN_GRACE", 30.0),
            access_log=_flag("TASKS_API_ACCESS_LOG", default=True),
        )
