"""The answers kept for writes sent with an ``Idempotency-Key``: recorded with the write, atomically, and read
back for its retries.

A keyed write first runs as one step alone, the write and the record of its answer together: on PostgreSQL one
statement (the write in a data-modifying CTE feeding the INSERT of its answer), on SQLite the two statements in
one job of the writer's thread (``UnitOfWork.write_then_record``). The key's primary key settles a race: of two
requests with one key, the second's record fails on it and takes its whole step back with it. So no write is
ever committed without its answer, nor twice.

On PostgreSQL the step also takes a transaction-scoped advisory lock on the key without waiting: a request
whose key is held by one still running changes nothing and is told so (409) instead of queueing behind it. On
SQLite, whose writes are serialised, the second of two requests runs after the first committed.

Anything but a clean first write (the key exists, is held, or the task did not match) goes the slow way, in a
transaction that holds the key (the advisory lock, SQLite's write lock): the kept answer is replayed or the reuse
refused; or, the key being free, the write runs again. A write that changes nothing (404, 412) records nothing:
its retry is answered the same, since a task's id never comes back and its version only grows.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    LargeBinary,
    SmallInteger,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    select,
)

from db.database import UnitOfWork
from db.models import IdempotencyKey


@dataclass(frozen=True)
class Claim:
    """A write's ``Idempotency-Key``, the request it came with, and the moments that decide its fate."""

    key: str
    # A digest of the request (method, path, body): a retry must be the same request.
    fingerprint: bytes
    now: datetime
    # Answers recorded before this have expired: the key is free again.
    expired_before: datetime

    def params(self, owner: str) -> dict[str, Any]:
        """The values of the statements that record and read the key's answer (with the write's ``owner``)."""
        return {
            "key": self.key,
            "fingerprint": self.fingerprint,
            "key_now": self.now,
            "expired_before": self.expired_before,
            "key_lock": key_lock(owner, self.key),
        }


def key_lock(owner: str, key: str) -> int:
    """The PostgreSQL advisory lock a request holds while its write with this key runs."""
    return int.from_bytes(hashlib.sha256(f"{owner}\0{key}".encode()).digest()[:8], "big", signed=True)


class RecordedAnswer(NamedTuple):
    status: int
    body: bytes | None  # None for a 204
    version: int | None
    task_id: uuid.UUID | None


class Replay(Exception):
    """The write was already done under this key: its recorded answer is the answer."""

    def __init__(self, answer: RecordedAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class KeyReused(Exception):
    """The key was used for another request."""


class KeyInProgress(Exception):
    """A request with this key is still running."""


def answer_record(
    status: int,
    body: Any | None = None,
    version: Any | None = None,
    task_id: Any | None = None,
) -> dict[str, Any]:
    """The columns of a recorded answer: ``body``, ``version`` and ``task_id`` from the write (or None)."""
    return {
        "user_id": bindparam("owner", type_=IdempotencyKey.user_id.type),
        "key": bindparam("key"),
        "fingerprint": bindparam("fingerprint", type_=LargeBinary),
        "created_at": bindparam("key_now", type_=IdempotencyKey.created_at.type),
        "status": literal(status, SmallInteger),
        "body": body if body is not None else null(),
        "version": version if version is not None else null(),
        "task_id": task_id if task_id is not None else null(),
    }


def record_from(values: dict[str, Any], source: Any | None = None, *where: ColumnElement[bool]) -> Insert:
    """The INSERT of an answer: its columns' ``values``, selected from ``source`` (a written task, a write's
    returned rows) where ``where`` holds, if given."""
    chosen = select(*(value.label(name) for name, value in values.items())).where(*where)
    if source is not None:
        chosen = chosen.select_from(source)
    return insert(IdempotencyKey).from_select(list(values), chosen)


# PostgreSQL: the key's lock, taken without waiting (the write's own condition, so a held key writes nothing).
HOLDS_KEY: ColumnElement[bool] = func.pg_try_advisory_xact_lock(bindparam("key_lock", type_=BigInteger))

_HOLD = select(HOLDS_KEY)
_THE_KEY = (IdempotencyKey.user_id == bindparam("owner"), IdempotencyKey.key == bindparam("key"))
_RECORDED = select(
    IdempotencyKey.fingerprint,
    IdempotencyKey.created_at < bindparam("expired_before", type_=IdempotencyKey.created_at.type),
    IdempotencyKey.status,
    IdempotencyKey.body,
    IdempotencyKey.version,
    IdempotencyKey.task_id,
).where(IdempotencyKey.user_id == bindparam("owner"), IdempotencyKey.key == bindparam("key"))
_FORGET = delete(IdempotencyKey).where(
    IdempotencyKey.user_id == bindparam("owner"), IdempotencyKey.key == bindparam("key")
)


async def hold_or_replay(work: UnitOfWork, claim: Claim, params: dict[str, Any]) -> None:
    """In the unit's transaction, holds the key (on PostgreSQL; SQLite's write lock holds every key) and raises
    what its recorded answer says: ``Replay`` or ``KeyReused``; ``KeyInProgress`` if another request holds it.
    Returns when the key is free (an expired answer is forgotten)."""
    if work.dialect == "postgresql":
        held = await work.fetch_one(_HOLD, params)
        if held is None or not held[0]:
            raise KeyInProgress
        recorded = await work.fetch_one(_RECORDED, params)
    else:
        # Begins the transaction on the writer's connection, which holds SQLite's write lock.
        recorded = await work.fetch_one(_RECORDED, params)
    if recorded is None:
        return
    fingerprint, expired, status, body, version, task_id = recorded
    if expired:
        await work.execute(_FORGET, params)
        return
    if bytes(fingerprint) != claim.fingerprint:
        raise KeyReused
    if isinstance(body, str):
        body = body.encode()
    if task_id is not None and not isinstance(task_id, uuid.UUID):
        task_id = uuid.UUID(task_id)  # SQLite's hex digits
    raise Replay(RecordedAnswer(status, body, version, task_id))
