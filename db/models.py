"""Typed SQLAlchemy models; the Alembic migrations are the source of the schema, these mirror them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 2000
# The longest id an identity provider may give a user (the spec's opaque user ids).
USER_ID_MAX_LENGTH = 128
# Priorities are stored as their rank, so that a sort by priority is a sort by a number.
PRIORITY_RANKS = {"Low": 1, "Medium": 2, "High": 3}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that is always UTC, also on SQLite (which stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A task's tags: a text array on PostgreSQL, a JSON array on SQLite; either way trimmed, lower-cased, unique and
# sorted (db.tasks), so the stored value is the one every answer carries.
TAGS_TYPE = ARRAY(Text).with_variant(JSON(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX_LENGTH))
    is_completed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The identity provider's id, as the API canonicalises it (a UUID in lower case).
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX_LENGTH))
    # Bumped by every write; the ETag of the task.
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text(str(PRIORITY_RANKS["Medium"])))
    tags: Mapped[list[str]] = mapped_column(TAGS_TYPE)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the task's last write stands in its user's changes feed (db.changes; migration 0006 says how each
    # database sets it).
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


# One index per list sort, each ending in id so the order is total (see migrations 0002, 0004 and 0005), each
# serving its sort in both directions.
Index("idx_task_user_created", Task.user_id, Task.created_at.desc(), Task.id.desc())
Index("idx_task_user_updated", Task.user_id, Task.updated_at.desc(), Task.id.desc())
Index("idx_task_user_title", Task.user_id, Task.title, Task.id)
Index("idx_task_user_completed_created", Task.user_id, Task.is_completed, Task.created_at.desc(), Task.id.desc())
Index("idx_task_user_priority", Task.user_id, Task.priority, Task.created_at, Task.id)
# The changes feed, in its order.
Index("idx_task_user_change", Task.user_id, Task.change_seq, Task.id)
# Only the tasks with a due date: those without one follow them in the order of idx_task_user_created (db.tasks),
# and a task created without one, as most are, writes no entry here (an index on every task for each direction
# cost 6-10% of a create). It also holds what the count of overdue tasks reads: the metrics read no task.
_DATED = Task.due_at.is_not(None)
Index(
    "idx_task_user_due",
    Task.user_id,
    Task.due_at,
    Task.created_at,
    Task.id,
    Task.is_completed,
    postgresql_where=_DATED,
    sqlite_where=_DATED,
)


class TaskTag(Base):
    """Which of a user's tasks carry a tag: the index of the tag filter, kept by triggers from ``tasks.tags``.

    Each row also holds its task's ``created_at`` (which never changes), so that a user's tasks with a tag are
    in the default list's order here, and a tag filter's page is read without passing a task it does not show.
    """

    __tablename__ = "task_tags"
    __table_args__ = (PrimaryKeyConstraint("user_id", "tag", "created_at", "task_id"),)

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX_LENGTH))
    tag: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class TaskCount(Base):
    """How many tasks a user has, completed ones and ones of each priority; kept current by triggers on
    ``tasks``."""

    __tablename__ = "task_counts"

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX_LENGTH), primary_key=True)
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    completed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    high: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    medium: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    low: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class TaskTombstone(Base):
    """A deleted task, in its user's changes feed until it is purged (``TASKS_API_TOMBSTONE_DAYS``); written by a
    trigger on ``tasks``."""

    __tablename__ = "task_tombstones"
    __table_args__ = (PrimaryKeyConstraint("user_id", "change_seq", "task_id"),)

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX_LENGTH))
    change_seq: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)


# What the purge reads (db.housekeeping).
Index("idx_task_tombstones_deleted_at", TaskTombstone.deleted_at)

# The longest Idempotency-Key a client may send (the spec's).
IDEMPOTENCY_KEY_MAX_LENGTH = 255


class IdempotencyKey(Base):
    """The answer to a write sent with an ``Idempotency-Key``, kept for its retries (db.idempotency).

    What the answer's headers are made of is kept rather than the headers: the ETag is the version, the
    ``Location`` of a created task the request's path and ``task_id``; a problem's body is rendered again from
    its status, as it was the first time.
    """

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH), primary_key=True)
    # A digest of the request's method, path and body: a retry must be the same request.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


Index("idx_idempotency_keys_created_at", IdempotencyKey.created_at)
