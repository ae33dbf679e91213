"""Run the Alembic migrations from code (the CLI and the tests), with the project's own alembic.ini."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from db.urls import sync_url

logger = logging.getLogger("tasks_api.migrations")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """Migrates the database to head, after a look that writes nothing: a database already there is left
    alone. The migration itself holds the write lock (SQLite) or the migration lock (PostgreSQL) for its whole
    run, which an instance with nothing to migrate must not wait for, nor fail on: an SQLite disk that is full
    still serves reads, and ``serve`` then starts and serves them."""
    current = current_revision(database_url)
    if current == schema_head():
        logger.info("the database schema is at %s, nothing to migrate", current)
        return
    command.upgrade(alembic_config(database_url), "head")


def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None before the first migration), read without a lock or a write."""
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def schema_head() -> str:
    """The revision this code's models expect the database to be at."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None, "no migrations"
    return head
