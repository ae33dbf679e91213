"""Database URLs: every accepted spelling normalised to the driver the service runs on (psycopg 3, or the
standard library's sqlite3), and to a blocking driver for Alembic."""

from __future__ import annotations

from sqlalchemy.engine import make_url

# Every PostgreSQL spelling goes to psycopg 3, so Neon/Heroku-style URLs work unchanged.
_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
DATABASE_URL_FORMS = "postgresql://user:password@host:5432/dbname or sqlite:///path/to/tasks.db"


class UnsupportedDatabase(ValueError):
    def __init__(self, scheme: str) -> None:
        super().__init__(f"unsupported database URL scheme {scheme!r}: use {DATABASE_URL_FORMS}")
        self.scheme = scheme


def normalised_database_url(raw: str) -> str:
    """Normalise a database URL to the driver this service runs on, keeping its query string. Raises
    SQLAlchemy's ArgumentError for text that is not a URL, UnsupportedDatabase for another database's."""
    url = make_url(raw)
    if url.drivername in _POSTGRES_DRIVERS:
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername in _SQLITE_DRIVERS:
        url = url.set(drivername="sqlite")
    else:
        raise UnsupportedDatabase(url.drivername)
    return url.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database through a blocking driver, for Alembic."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_neon_pooled(url: str) -> bool:
    """Whether a URL names a Neon pooled endpoint (``ep-…-pooler.region.aws.neon.tech``): PgBouncer in transaction
    mode in front of the database."""
    host = make_url(url).host or ""
    return "-pooler." in host
