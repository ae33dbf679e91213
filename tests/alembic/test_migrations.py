"""The migrations build the schema on both databases, reverse cleanly, and match the models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime

import orjson
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from db.migration_lock import MIGRATION_LOCK_KEY
from db.urls import sync_url
from tasks_api.app import create_app
from tasks_api.migrations import alembic_config, upgrade_to_head
from tasks_api.settings import Settings
from tests import processes


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
    "idx_task_user_created": ["user_id", "created_at", "id"],
    "idx_task_user_updated": ["user_id", "updated_at", "id"],
    "idx_task_user_title": ["user_id", "title", "id"],
    "idx_task_user_completed_created": ["user_id", "is_completed", "created_at", "id"],
    "idx_task_user_priority": ["user_id", "priority", "created_at", "id"],
    "idx_task_user_due": ["user_id", "due_at", "created_at", "id", "is_completed"],
    "idx_task_user_change": ["user_id", "change_seq", "id"],
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
        assert {"tasks", "task_counts", "task_tags", "alembic_version"} <= set(inspect(engine).get_table_names())
        assert _indexes(engine) == HEAD_INDEXES

        command.downgrade(config, "0001")
        assert _indexes(engine) == {"idx_task_user_id": ["user_id"], "idx_task_user_created": ["user_id", "created_at"]}
        assert {"task_counts", "task_tombstones", "idempotency_keys"}.isdisjoint(inspect(engine).get_table_names())
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


# Tasks as the releases before 0004 wrote them, each column as that release stored it: UUIDs (32 hex digits on
# SQLite), timestamps (UTC text on SQLite), text that JSON must escape.
_EARLIER_TASKS = [
    ("first", None, False, 1),
    ('École 🙂 \\ " \t', "a\tb", True, 3),
    ("l'apostrophe", "", False, 7),
]


def _write_as_before(engine: Engine, owner: uuid.UUID) -> list[tuple[bytes, int]]:
    """Writes ``_EARLIER_TASKS`` for ``owner``; what the release of that revision answered for each: its JSON
    and its version (the ETag)."""
    sqlite = engine.dialect.name == "sqlite"
    written = []
    with engine.begin() as connection:
        for n, (title, description, done, version) in enumerate(_EARLIER_TASKS):
            task_id = uuid.uuid4()
            created = datetime(2026, 11, 20, 8, 30, n, 123456 * n, tzinfo=UTC)
            updated = created.replace(day=21)
            row = {
                "id": task_id.hex if sqlite else task_id,
                "user_id": owner.hex if sqlite else owner,
                "title": title,
                "description": description,
                "done": done,
                "created": created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created,
                "updated": updated.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else updated,
                "version": version,
            }
            connection.execute(
                text(
                    "INSERT INTO tasks (id, user_id, title, description, is_completed, created_at, updated_at, version)"
                    " VALUES (:id, :user_id, :title, :description, :done, :created, :updated, :version)"
                ),
                row,
            )
            document = {
                "id": str(task_id),
                "title": title,
                "description": description,
                "is_completed": done,
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "user_id": str(owner),
            }
            written.append((orjson.dumps(document), version))
    return written


@pytest.mark.parametrize("revision", ["0002", "0003"])
def test_tasks_written_before_0004_read_back_as_they_did(empty_database_url: str, revision: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, revision)
    engine = _engine(empty_database_url)
    owner = uuid.uuid4()
    try:
        written = _write_as_before(engine, owner)
        if revision == "0003" and engine.dialect.name == "sqlite":
            # Revision 0003's own rendering, kept in the rows, is what that release answered.
            with engine.connect() as connection:
                stored = set(connection.execute(text("SELECT document FROM tasks")).scalars())
            assert stored == {answer.decode() for answer, _ in written}
    finally:
        engine.dispose()

    command.upgrade(config, "head")

    new_fields = b',"priority":"Medium","tags":[],"due_at":null}'
    with create_app(Settings(database_url=empty_database_url, validate_responses=True)).test_client() as client:
        for answer, version in written:
            task_id = orjson.loads(answer)["id"]
            response = client.get(f"/api/{owner}/tasks/{task_id}")
            assert response.content == answer[:-1] + new_fields
            assert response.headers["ETag"] == f'"{version}"'
        listed = client.get(f"/api/{owner}/tasks", params={"sort": "created_at"}).json()
        assert [orjson.dumps(task) for task in listed["items"]] == [answer[:-1] + new_fields for answer, _ in written]
        assert listed["count"] == 3
        metrics = client.get(f"/api/{owner}/tasks/metrics").json()
        assert metrics == {
            "total": 3,
            "completed": 1,
            "pending": 2,
            "overdue": 0,
            "high_priority": 0,
            "medium_priority": 3,
            "low_priority": 0,
        }
        # The counters go on from there.
        toggled = client.patch(f"/api/{owner}/tasks/{orjson.loads(written[0][0])['id']}/complete")
        assert toggled.headers["ETag"] == f'"{written[0][1] + 1}"'
        assert client.get(f"/api/{owner}/tasks", params={"completed": "true"}).json()["count"] == 2


def test_tags_written_at_0004_are_found_in_order_after_0005(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0004")
    engine = _engine(empty_database_url)
    sqlite = engine.dialect.name == "sqlite"
    owner, ids = str(uuid.uuid4()), [uuid.uuid4() for _ in range(3)]
    try:
        with engine.begin() as connection:
            for n, (task_id, tags) in enumerate(zip(ids, (["work"], ["home", "work"], ["home"]), strict=True)):
                created = datetime(2026, 12, 1, 9, n, tzinfo=UTC)
                row = {
                    "id": task_id.hex if sqlite else task_id,
                    "owner": owner,
                    "created": created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created,
                    "tags": orjson.dumps(tags).decode() if sqlite else tags,
                }
                connection.execute(
                    text(
                        "INSERT INTO tasks (id, user_id, title, created_at, updated_at, tags)"
                        " VALUES (:id, :owner, 'tagged', :created, :created, :tags)"
                    ),
                    row,
                )
    finally:
        engine.dispose()

    command.upgrade(config, "head")

    with create_app(Settings(database_url=empty_database_url, validate_responses=True)).test_client() as client:

        def tagged(tag: str, **params: str) -> list[uuid.UUID]:
            listed = client.get(f"/api/{owner}/tasks", params={"tags": tag, **params}).json()
            return [uuid.UUID(task["id"]) for task in listed["items"]]

        assert tagged("work") == [ids[1], ids[0]]
        assert tagged("work", sort="created_at", limit="1") == [ids[0]]
        assert tagged("home") == [ids[2], ids[1]]
        # The triggers go on from there.
        client.put(f"/api/{owner}/tasks/{ids[2]}", json={"title": "tagged", "is_completed": False, "tags": ["work"]})
        client.delete(f"/api/{owner}/tasks/{ids[1]}")
        assert tagged("work") == [ids[2], ids[0]]
        assert tagged("home") == []


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


def _migrating_in_a_new_process(database_url: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
    environment = {**os.environ, "DATABASE_URL": database_url}
    return processes.started(
        [sys.executable, "-m", "tasks_api.cli", "migrate"], env=environment, stderr=subprocess.PIPE
    )


def test_instances_migrating_at_once_all_succeed(empty_database_url: str) -> None:
    # Separate processes, as separate instances would be (Alembic itself is not thread-safe).
    with ExitStack() as stack:
        instances = [stack.enter_context(_migrating_in_a_new_process(empty_database_url)) for _ in range(4)]
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
            with _migrating_in_a_new_process(empty_database_url) as instance:
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
