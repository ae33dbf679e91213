"""The migrations build the schema on both databases, reverse cleanly, and match the models."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from db import tasks
from db.backends import open_database
from db.migration_lock import MIGRATION_LOCK_KEY
from db.urls import sync_url
from tasks_api.migrations import alembic_config, upgrade_to_head


def _engine(url: str) -> Engine:
    return create_engine(sync_url(url))


def _head(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def _version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


HEAD_INDEXES = {
    "idx_task_user_id": ["user_id"],
    "idx_task_user_created": ["user_id", "created_at", "id"],
    "idx_task_user_updated": ["user_id", "updated_at", "id"],
    "idx_task_user_title": ["user_id", "title", "id"],
    "idx_task_user_completed_created": ["user_id", "is_completed", "created_at", "id"],
}


def _indexes(engine: Engine) -> dict[str, list[str | None]]:
    return {str(index["name"]): index["column_names"] for index in inspect(engine).get_indexes("tasks")}


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    engine = _engine(empty_database_url)
    config = alembic_config(empty_database_url)
    try:
        command.upgrade(config, "0001")
        assert _indexes(engine) == {"idx_task_user_id": ["user_id"], "idx_task_user_created": ["user_id", "created_at"]}
        command.upgrade(config, "head")
        assert {"tasks", "task_counts", "alembic_version"} <= set(inspect(engine).get_table_names())
        assert _indexes(engine) == HEAD_INDEXES

        command.downgrade(config, "0001")
        assert _indexes(engine) == {"idx_task_user_id": ["user_id"], "idx_task_user_created": ["user_id", "created_at"]}
        assert "task_counts" not in inspect(engine).get_table_names()
        command.downgrade(config, "base")
        assert "tasks" not in inspect(engine).get_table_names()

        command.upgrade(config, "head")
        assert _version(engine) == _head(empty_database_url)
        assert _indexes(engine) == HEAD_INDEXES
    finally:
        engine.dispose()


def test_counters_are_backfilled_for_existing_tasks(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0001")
    engine = _engine(empty_database_url)
    user = uuid.uuid4().hex
    insert = text(
        "INSERT INTO tasks (id, user_id, title, is_completed, created_at, updated_at)"
        " VALUES (:id, :user_id, 'existing', :done, :now, :now)"
    )
    try:
        with engine.begin() as connection:
            for done in (True, False, False):
                connection.execute(
                    insert, {"id": uuid.uuid4().hex, "user_id": user, "done": done, "now": datetime.now(UTC)}
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            counts = connection.execute(text("SELECT total, completed FROM task_counts")).one()
        assert tuple(counts) == (3, 1)
    finally:
        engine.dispose()


def test_tasks_created_before_sqlite_kept_documents_read_back_as_created(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0002")
    owner = uuid.uuid4()

    async def create() -> list[bytes]:
        database = open_database(empty_database_url)
        await database.open()
        try:
            created: list[bytes] = []
            for title, description in (("first", None), ('École 🙂 \\ "', "a\tb")):
                async with database.unit_of_work() as work:
                    created.append((await tasks.create_task(work, owner, title, description))[1].json)
            return created
        finally:
            await database.dispose()

    async def read() -> tasks.Page:
        database = open_database(empty_database_url)
        await database.open()
        try:
            async with database.unit_of_work() as work:
                return await tasks.list_tasks(work, owner, tasks.ListQuery(sort="title"))
        finally:
            await database.dispose()

    created = asyncio.run(create())
    command.upgrade(config, "head")

    by_title: list[bytes] = sorted(created, key=lambda task: json.loads(task)["title"])
    assert asyncio.run(read()).items_json == b"[" + b",".join(by_title) + b"]"


def test_models_and_migrations_are_in_sync(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)

    command.check(alembic_config(empty_database_url))  # raises when autogenerate finds a difference


@pytest.mark.parametrize("title", ["", "   ", "\t\n\r"])
def test_the_database_refuses_blank_titles(empty_database_url: str, title: str) -> None:
    upgrade_to_head(empty_database_url)
    engine = _engine(empty_database_url)
    now = datetime.now(UTC)
    # Both engines accept 32 hex digits for a UUID column.
    row = {"id": uuid.uuid4().hex, "user_id": uuid.uuid4().hex, "title": title, "now": now}
    statement = text(
        "INSERT INTO tasks (id, user_id, title, created_at, updated_at) VALUES (:id, :user_id, :title, :now, :now)"
    )
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(statement, row)
    finally:
        engine.dispose()


def _migrate_in_a_new_process(database_url: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.Popen([sys.executable, "-m", "tasks_api.cli", "migrate"], env=environment, stderr=subprocess.PIPE)


def test_instances_migrating_at_once_all_succeed(empty_database_url: str) -> None:
    # Separate processes, as separate instances would be (Alembic itself is not thread-safe).
    instances = [_migrate_in_a_new_process(empty_database_url) for _ in range(4)]
    for instance in instances:
        _, errors = instance.communicate(timeout=120)
        assert instance.returncode == 0, errors.decode()

    engine = _engine(empty_database_url)
    try:
        assert _version(engine) == _head(empty_database_url)
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_postgresql_migration_waits_for_the_instance_holding_the_lock(empty_database_url: str) -> None:
    engine = _engine(empty_database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            instance = _migrate_in_a_new_process(empty_database_url)
            waiting = text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            deadline = time.monotonic() + 60
            while holder.execute(waiting).scalar() == 0:
                assert instance.poll() is None, "migrated without waiting for the lock"
                assert time.monotonic() < deadline
                time.sleep(0.05)  # polling an observable condition, not waiting for a guess
            assert _version_or_none(engine) is None
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            holder.commit()

        _, errors = instance.communicate(timeout=120)
        assert instance.returncode == 0, errors.decode()
        assert _version(engine) == _head(empty_database_url)
    finally:
        engine.dispose()


def _version_or_none(engine: Engine) -> str | None:
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    return _version(engine)
