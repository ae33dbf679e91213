"""Schemathesis hooks: generated requests also carry hostile headers (``tests.hostile_headers``).

Imported by the in-process contract test and named by ``SCHEMATHESIS_HOOKS`` for ``st run`` in ``.ci/fuzz-live``.
Half the generated cases keep their headers as generated; the other half get one header replaced: the body's media
type spelled another way (a case whose body fits the schema must still be accepted), an Authorization header of
any shape (401 where tokens are checked, ignored where not), a conditional header, or another header of the corpus.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

import schemathesis
from hypothesis import strategies as st

from tests.hostile_headers import AUTHORIZATION, CONDITIONAL, JSON_SPELLINGS, OTHERS

_REPLACEMENTS = [
    *(("Authorization", value) for value in AUTHORIZATION),
    *((name, value) for name, values in {**CONDITIONAL, **OTHERS}.items() for value in values),
]


# The spec's pattern of an Idempotency-Key.
_VALID_KEY = re.compile(r'(?!""$)(?:[!-~]{1,255}|"[!-~]{1,255}")')
_KEYS = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """A valid Idempotency-Key made unique, in every phase: generated keys repeat ("0", one-character ones)
    across requests that differ, and a key reused for another request is a 422 by design. The suite's own tests
    reuse keys on purpose (tests/handlers/test_idempotency.py)."""
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None and _VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"fuzz-{os.getpid()}-{next(_KEYS)}"


@schemathesis.hook
def flatmap_headers(context: Any, headers: dict[str, str] | None) -> st.SearchStrategy[dict[str, str] | None]:
    operation = context.operation
    replacements = list(_REPLACEMENTS)
    if operation is not None and operation.body:
        replacements += [("Content-Type", spelling) for spelling in JSON_SPELLINGS]
    hostile = st.sampled_from(replacements).map(lambda header: {**(headers or {}), header[0]: header[1]})
    return st.one_of(st.just(headers), hostile)
