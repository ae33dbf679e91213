from __future__ import annotations

import pytest

from tasks_api.etags import etag, if_match_versions, if_none_match_hits


def test_etag_is_a_strong_quoted_version() -> None:
    assert etag(7) == '"7"'


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        (None, None),
        ("*", None),
        (" * ", None),
        ('"3"', {3}),
        ('"3", "5"', {3, 5}),
        ('W/"3"', set()),
        ('W/"3", "4"', {4}),
        ('"abc"', set()),
        ('"²"', set()),
        ('"99999999999999999999"', set()),
        ("3", set()),
        ("", set()),
    ],
)
def test_if_match_uses_the_strong_comparison(header: str | None, versions: set[int] | None) -> None:
    assert if_match_versions(header) == (None if versions is None else frozenset(versions))


@pytest.mark.parametrize(
    ("header", "hits"),
    [(None, False), ("*", True), ('"2"', True), ('W/"2"', True), ('"1", "2"', True), ('"1"', False), ("2", False)],
)
def test_if_none_match_uses_the_weak_comparison(header: str | None, hits: bool) -> None:
    assert if_none_match_hits(header, "2") is hits
