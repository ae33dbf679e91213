"""Forgetting what is kept for a while only: deletions in the changes feed, answers recorded under an
Idempotency-Key. In batches, each its own statement, so that a purge never holds many locks for long."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, tuple_

from db.database import UnitOfWork
from db.models import IdempotencyKey, TaskTombstone

PURGE_BATCH = 1000

_EXPIRED_ANSWERS = select(IdempotencyKey.user_id, IdempotencyKey.key).where(
    IdempotencyKey.created_at < bindparam("before", type_=IdempotencyKey.created_at.type)
)
_PURGE_ANSWERS = delete(IdempotencyKey).where(
    tuple_(IdempotencyKey.user_id, IdempotencyKey.key).in_(_EXPIRED_ANSWERS.limit(bindparam("batch")))
)
_EXPIRED_DELETIONS = select(TaskTombstone.user_id, TaskTombstone.change_seq, TaskTombstone.task_id).where(
    TaskTombstone.deleted_at < bindparam("before", type_=TaskTombstone.deleted_at.type)
)
_PURGE_DELETIONS = delete(TaskTombstone).where(
    tuple_(TaskTombstone.user_id, TaskTombstone.change_seq, TaskTombstone.task_id).in_(
        _EXPIRED_DELETIONS.limit(bindparam("batch"))
    )
)


async def purge_answers(work: UnitOfWork, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Forgets up to ``batch`` answers recorded before ``before``; how many it forgot."""
    return await work.execute(_PURGE_ANSWERS, {"before": before, "batch": batch}, alone=True)


async def purge_deletions(work: UnitOfWork, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Forgets up to ``batch`` deletions made before ``before``; how many it forgot."""
    return await work.execute(_PURGE_DELETIONS, {"before": before, "batch": batch}, alone=True)
