"""Sync tokens: where a client's copy stands in its changes feed, opaque and signed like list cursors.

A token carries the position the next read starts from, the floor below which deletions are not shown (those
before the copy began), and since when the copy has been complete but for what follows the position: when the
token was issued, or, for one handed out while more changes follow, when the token it continues was (the
deletions still ahead of the client may be that old). One older than the deletions are kept
(``TASKS_API_TOMBSTONE_DAYS``) may have missed a deletion since purged, and is refused (410) so that the client
copies everything again. Deletions are purged an hour after that (``sync.retention``), so that a token still
accepted never needs a purged one, whatever the clocks of the instances say.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from typing import Any

from db.changes import Position
from tasks_api.cursor import CursorCodec
from tasks_api.problems import ApiProblem

SECONDS_PER_DAY = 86400


class SyncExpired(Exception):
    """A sync token older than the deletions are kept."""


def _invalid(message: str) -> ApiProblem:
    return ApiProblem(400, "Invalid sync token", field_errors=[{"field": "since", "message": message}])


class SyncTokens:
    def __init__(self, secret: bytes, keep_days: float) -> None:
        # A key of their own: no list cursor is ever a sync token.
        self._codec = CursorCodec(hashlib.sha256(b"tasks-api sync tokens:" + secret).digest())
        self._keep_seconds = keep_days * SECONDS_PER_DAY

    def encode(self, owner: str, floor: int, position: Position, complete_since: int | None = None) -> str:
        """A token for ``owner``'s copy, complete since ``complete_since`` (a Unix time; None: now)."""
        complete_since = int(time.time()) if complete_since is None else complete_since
        payload = [floor, position.seq, position.task_id.hex, int(position.inclusive), complete_since]
        return self._codec.encode(payload, owner)  # type: ignore[arg-type]

    def decode(self, token: str, owner: str) -> tuple[int, Position, int]:
        """The floor, position and the time the copy is complete since of a token this service issued to
        ``owner``; else a 400 problem, or ``SyncExpired``."""
        floor, position, complete_since = self._verified(token, owner)
        if complete_since < time.time() - self._keep_seconds:
            raise SyncExpired
        return floor, position, complete_since

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one instance per app, living as long as it)
    def _verified(self, token: str, owner: str) -> tuple[int, Position, int]:
        """A client polling a quiet feed sends the same token every time: its MAC is checked once. Only
        tokens that verify are remembered, so no client can fill the cache with refusals."""
        try:
            payload: Any = self._codec.decode(token, owner)
        except ApiProblem:
            raise _invalid("is not a sync token this service issued to this user") from None
        match payload:
            case (int(floor), int(seq), str(task_id), int(inclusive), int(complete_since)):
                return floor, Position(seq, uuid.UUID(task_id), bool(inclusive)), complete_since
            case _:
                raise _invalid("is not a sync token this service issued to this user")


def _position(position: Position) -> str:
    return f"{position.seq}|{position.task_id.hex}|{int(position.inclusive)}"


def changes_etag(owner: str, start: Position | None, floor: int, following: Position, has_more: bool, size: int) -> str:
    """The entity tag of a feed's answer, without quotes: what it holds is decided by where it starts (the token's
    position and floor, not when the token was issued), where it ends and how many changes it holds; and the day,
    so that a client that polls a quiet feed with ``If-None-Match`` still gets a fresh token once a day, long
    before its own expires.

    Any change a later read can show stands past every one an earlier read showed, and moves where the answer
    ends, unless it only takes a change out of it: on a first read, which shows no deletions, the deletion of a
    task, which only the count tells. A first read's floor (its horizon, which every write anywhere moves) is
    left out: the token of the answer a 304 stands for has an older one, as good for a copy holding the same
    tasks."""
    begun = "start" if start is None else f"{_position(start)}|{floor}"
    day = int(time.time()) // SECONDS_PER_DAY
    described = f"{owner}|{begun}|{_position(following)}|{has_more}|{size}|{day}"
    return hashlib.sha256(described.encode()).hexdigest()[:32]
