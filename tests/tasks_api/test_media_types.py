from __future__ import annotations

import pytest

from tasks_api.media_types import canonical_media_type


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (b"application/json", b"application/json"),
        (b"Application/JSON", b"application/json"),
        (b" application/json ; Charset=UTF-8", b"application/json; charset=UTF-8"),
        (b'application/json;charset="utf-8"', b'application/json; charset="utf-8"'),
        (b"application/json;;", b"application/json"),
        (b"TEXT/Plain; Boundary = X", b"text/plain; boundary=X"),
    ],
)
def test_the_type_and_parameter_names_are_lower_case_and_values_kept(sent: bytes, read: bytes) -> None:
    assert canonical_media_type(sent) == read
