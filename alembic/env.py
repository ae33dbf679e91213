"""Alembic environment: runs migrations on a blocking connection, one instance at a time."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, event, pool, text

from db.migration_lock import MIGRATION_LOCK_KEY
from db.models import Base
from db.urls import sync_url
from tasks_api.settings import Settings

# How long a second instance waits for the first one's SQLite migration before giving up.
SQLITE_MIGRATION_WAIT_MS = 120_000

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    return sync_url(url)


def _serialise_sqlite(engine: Engine) -> None:
    """One SQLite transaction holding the write lock for the whole run: a concurrent instance waits,
    then finds the schema at head, and a failed batch migration leaves no half-copied table behind."""

    @event.listens_for(engine, "connect")
    def _take_over_transactions(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_MIGRATION_WAIT_MS}")  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _in_models(schema_object: object, name: str | None, type_: str, reflected: bool, compare_to: object | None) -> bool:
    """What autogenerate compares: the models mirror what both databases have; SQLite's stored documents
    (migration 0003) and its change counter (0006) are SQLite's alone."""
    sqlite_only = (type_ == "column" and name == "document") or (type_ == "table" and name == "change_clock")
    return not (sqlite_only and reflected and compare_to is None)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=_in_models,
        render_as_batch=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Instances starting together queue here; the later ones then find the schema at head. The lock is
            # transaction-scoped, released when the migration transaction ends: a session lock would not hold
            # through a transaction-mode pooler, which may hand the session's next transaction another server.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=Base.metadata,
        include_object=_in_models,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _database_url()
    # Through a transaction-mode pooler a prepared statement may land on another server connection; a migration
    # gains nothing from preparing one anyway.
    options = {"prepare_threshold": None} if url.startswith("postgresql") else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=options)
    if engine.dialect.name == "sqlite":
        _serialise_sqlite(engine)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
