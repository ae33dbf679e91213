"""The migration step leaves a database already at head alone, without taking the lock a migration holds."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url

from db.migration_lock import MIGRATION_LOCK_KEY
from db.urls import is_sqlite
from tasks_api.migrations import current_revision, schema_head, upgrade_to_head
from tests.support import sync_conninfo


@contextmanager
def _migration_lock_held(database_url: str) -> Iterator[None]:
    """Holds what a running migration holds: SQLite's write lock, or PostgreSQL's migration lock."""
    if is_sqlite(database_url):
        other = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
        finally:
            other.close()
        return
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as session:
        session.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        yield


def test_a_database_at_head_is_left_alone_without_waiting_for_the_migration_lock(database_url: str) -> None:
    finished = threading.Event()

    def migrate() -> None:
        upgrade_to_head(database_url)
        finished.set()

    with _migration_lock_held(database_url):
        migration = threading.Thread(target=migrate, daemon=True)
        migration.start()
        # Waiting for the lock would take minutes (SQLite's busy timeout for migrations, PostgreSQL's forever).
        assert finished.wait(timeout=20), "the migration step waited for the lock with nothing to migrate"
    migration.join()
    assert current_revision(database_url) == schema_head()


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_an_empty_database_has_no_revision_until_migrated(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None

    upgrade_to_head(empty_database_url)

    assert current_revision(empty_database_url) == schema_head()
