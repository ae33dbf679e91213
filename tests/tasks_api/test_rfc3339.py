"""RFC 3339 date-times: what is read, to which moment, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks_api import rfc3339


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-24T18:00:00Z", datetime(2026, 12, 24, 18, tzinfo=UTC)),
        ("2026-12-24T18:00:00+01:00", datetime(2026, 12, 24, 17, tzinfo=UTC)),
        ("2026-12-24T18:00:00-05:30", datetime(2026, 12, 24, 23, 30, tzinfo=UTC)),
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
        ("2026-02-28T00:00:00.5Z", datetime(2026, 2, 28, 0, 0, 0, 500000, tzinfo=UTC)),
        # Beyond microseconds the digits are dropped, as a datetime holds no more.
        ("2026-02-28T00:00:00.123456789Z", datetime(2026, 2, 28, 0, 0, 0, 123456, tzinfo=UTC)),
        ("1000-01-01T00:00:00+01:00", datetime(999, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_a_date_time_is_read_as_its_moment_in_utc(text: str, moment: datetime) -> None:
    parsed = rfc3339.parse(text)

    assert parsed == moment
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-24",
        "2026-12-24T18:00:00",  # no offset: which moment is it?
        "2026-12-24 18:00:00Z",
        "2026-12-24t18:00:00z",
        "2026-12-24T18:00Z",
        "2026-02-30T00:00:00Z",
        "2026-12-24T24:00:00Z",
        "2016-12-31T23:59:60Z",  # a leap second: no datetime holds it
        "2026-12-24T18:00:00+24:00",
        "2026-12-24T18:00:00+01:60",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # the year 0 in UTC
        "9999-12-31T23:00:00-01:00",  # the year 10000 in UTC
        "2026-12-24T18:00:00Z\n",
        "\uff12\uff10\uff12\uff16-12-24T18:00:00Z",  # digits, but not ASCII ones
    ],
)
def test_what_names_no_moment_a_datetime_holds_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        rfc3339.parse(text)
