"""User ids: the two modes the service runs in (``TASKS_API_USER_IDS``), the id a user's tasks are stored
under, and whether a token's subject is the path's user.

``uuid`` (the default) takes UUIDs only, as the contract always did; ``opaque`` takes the identity provider's
own ids (Better Auth's, Clerk's, Auth0's ...). The rules of each are in the spec (``x-user-id-modes`` on the
``UserId`` schema); the served spec carries the mode's.
"""

from __future__ import annotations

import copy
import re
from typing import Any

MODES = ("uuid", "opaque")
_MODES_KEY = "x-user-id-modes"
_UUID_SHAPED = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical_user_id(user_id: str) -> str:
    """The id a user's tasks are stored under: a UUID in lower case, whatever case a client sends it in (so a
    UUID user keeps their tasks in both modes), any other id exactly as given."""
    lowered = user_id.lower()
    # Nearly every id on the request path is already as stored: no pattern to match then.
    if lowered == user_id or not _UUID_SHAPED.fullmatch(user_id):
        return user_id
    return lowered


def same_user(subject: object, user_id: str) -> bool:
    """Whether a token's ``sub`` names the path's user: the same id once canonical, in either mode. A UUID
    matches only in its canonical 8-4-4-4-12 form (in any case): the identity provider's ``urn:uuid:...``,
    ``{...}`` or hyphen-less subjects are other subjects, which must not share a tenant."""
    return isinstance(subject, str) and canonical_user_id(subject) == canonical_user_id(user_id)


def with_user_ids(specification: dict[str, Any], mode: str) -> dict[str, Any]:
    """The spec as served in ``mode``: the ``UserId`` schema with that mode's rules."""
    served = copy.deepcopy(specification)
    schema = served["components"]["schemas"]["UserId"]
    schema.update(schema.pop(_MODES_KEY)[mode])
    return served
