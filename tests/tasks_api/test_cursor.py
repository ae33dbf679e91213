from __future__ import annotations

import pytest

from tasks_api.cursor import CursorCodec
from tasks_api.problems import ApiProblem

POSITION = ("2026-11-26T05:49:39.489903Z", "3f10d206-ac50-46fb-b65d-4f699d0c8266")


def test_round_trip() -> None:
    codec = CursorCodec(b"k")

    assert codec.decode(codec.encode(POSITION, "scope"), "scope") == POSITION


def test_unicode_positions_survive() -> None:
    codec = CursorCodec(b"k")
    position = ("École 🙂 \\ % _", POSITION[1])

    assert codec.decode(codec.encode(position, "scope"), "scope") == position


@pytest.mark.parametrize(
    ("issuer", "scope"),
    [(CursorCodec(b"other key"), "scope"), (CursorCodec(b"k"), "another scope")],
)
def test_a_cursor_from_another_key_or_scope_is_refused(issuer: CursorCodec, scope: str) -> None:
    cursor = issuer.encode(POSITION, scope)

    with pytest.raises(ApiProblem) as refused:
        CursorCodec(b"k").decode(cursor, "scope")
    assert refused.value.status == 400
    assert refused.value.field_errors[0]["field"] == "cursor"


@pytest.mark.parametrize("garbage", ["", ".", "a.b.c", "!!.??", "abc", "YQ.YQ"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(ApiProblem):
        CursorCodec(b"k").decode(garbage, "scope")
