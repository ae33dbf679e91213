"""Schemathesis hooks: generated requests also carry hostile headers (``tests.hostile_headers``).

Imported by the in-process contract test and named by ``SCHEMATHESIS_HOOKS`` for ``st run`` in ``.ci/fuzz-live``.
Half the generated cases keep their headers as generated; the other half get one header replaced: the body's media
type spelled another way (a case whose body fits the schema must still be accepted), an Authorization header of
any shape (401 where tokens are checked, ignored where not), a conditional header, or another header of the corpus.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

from tests.hostile_headers import AUTHORIZATION, CONDITIONAL, JSON_SPELLINGS, OTHERS

_REPLACEMENTS = [
    *(("Authorization", value) for value in AUTHORIZATION),
    *((name, value) for name, values in {**CONDITIONAL, **OTHERS}.items() for value in values),
]


@schemathesis.hook
def flatmap_headers(context: Any, headers: dict[str, str] | None) -> st.SearchStrategy[dict[str, str] | None]:
    operation = context.operation
    replacements = list(_REPLACEMENTS)
    if operation is not None and operation.body:
        replacements += [("Content-Type", spelling) for spelling in JSON_SPELLINGS]
    hostile = st.sampled_from(replacements).map(lambda header: {**(headers or {}), header[0]: header[1]})
    return st.one_of(st.just(headers), hostile)
