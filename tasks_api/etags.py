"""Strong entity tags from task versions, and the If-Match / If-None-Match rules of RFC 9110."""

from __future__ import annotations

import re

_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
_MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer; a larger number is no version of ours


def etag(version: int | str) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque value) for each entity tag in a list header; malformed members are skipped."""
    return [(bool(match.group(1)), match.group(2)) for match in _TAG.finditer(header)]


def if_match_versions(header: str | None) -> frozenset[int] | None:
    """The versions a write may apply to; None means unconditional (no header, or ``*``).

    If-Match uses the strong comparison: a weak tag, or one this service never issued, matches no version,
    so the write fails with 412 if the task exists.
    """
    if header is None or header.strip() == "*":
        return None
    versions = (int(value) for weak, value in _tags(header) if not weak and value.isascii() and value.isdigit())
    return frozenset(version for version in versions if version <= _MAX_VERSION)


def if_none_match_hits(header: str | None, opaque: str) -> bool:
    """Whether a GET whose answer's entity tag is ``"<opaque>"`` should answer 304 (the weak comparison
    applies)."""
    if header is None:
        return False
    # What a client polling with the tag it was given sends: settled without parsing a list (a fifth of the time).
    if header == f'"{opaque}"':
        return True
    if header.strip() == "*":
        return True
    return any(value == opaque for _weak, value in _tags(header))
