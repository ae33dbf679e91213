"""A write's ``Idempotency-Key`` header, as the claim its answer is recorded under.

The spec has validated the header (1-255 visible ASCII characters, or those in double quotes: the draft's
quoted form, the same key). A retry must be the same request: its method, its path as sent, and its body, the
JSON as Connexion parsed it with its keys sorted (a client that re-serialises the same body in another order or
spacing sends the same request).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.types import Scope

from db.idempotency import Claim

HEADER = b"idempotency-key"


def _key(value: str) -> str:
    if len(value) > 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


def fingerprint(method: str, path: str, body: Any) -> bytes:
    content = b"" if body is None else orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(b"\0".join([method.encode(), path.encode("utf-8", "surrogateescape"), content])).digest()


@dataclass(frozen=True)
class Claims:
    """Makes claims of requests: what an answer's lifetime (``TASKS_API_IDEMPOTENCY_TTL``) makes of them."""

    ttl: timedelta

    def of(self, scope: Scope, body: Any = None) -> Claim | None:
        """The claim of the request in ``scope`` (with its parsed ``body``), or None if it sent no key."""
        value = next((value for name, value in scope["headers"] if name == HEADER), None)
        if value is None:
            return None
        now = datetime.now(UTC)
        return Claim(
            key=_key(value.decode("ascii")),
            fingerprint=fingerprint(scope["method"], scope["path"], body),
            now=now,
            expired_before=now - self.ttl,
        )
