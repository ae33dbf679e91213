"""Which backend serves a database URL."""

from __future__ import annotations

from db.database import Database, PoolOptions
from db.postgres import PostgresDatabase
from db.sqlite import SQLiteDatabase
from db.urls import is_sqlite


def open_database(url: str, pool: PoolOptions | None = None) -> Database:
    """The database for a URL already normalised by ``db.urls.normalised_database_url``."""
    pool = pool or PoolOptions()
    if is_sqlite(url):
        return SQLiteDatabase(url, pool)
    return PostgresDatabase(url, pool)
