"""Typed SQLAlchemy models; the Alembic migrations are the source of the schema, these mirror them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, MetaData, String, Uuid, false, text
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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("idx_task_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX_LENGTH))
    is_completed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Bumped by every write; the ETag of the task.
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


# One index per list sort, each ending in id so the order is total (see migration 0002).
Index("idx_task_user_created", Task.user_id, Task.created_at.desc(), Task.id.desc())
Index("idx_task_user_updated", Task.user_id, Task.updated_at.desc(), Task.id.desc())
Index("idx_task_user_title", Task.user_id, Task.title, Task.id)
Index("idx_task_user_completed_created", Task.user_id, Task.is_completed, Task.created_at.desc(), Task.id.desc())


class TaskCount(Base):
    """How many tasks, and completed tasks, a user has; kept current by triggers on ``tasks``."""

    __tablename__ = "task_counts"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    completed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
