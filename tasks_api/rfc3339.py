"""RFC 3339 date-times, as the spec's ``date-time`` format accepts them and the service stores them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# The format of RFC 3339, section 5.6, with an upper-case T and Z, as JSON Schema's format checkers read it.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])([01]\d|2[0-3]):([0-5]\d))", re.ASCII
)


def parse(text: str) -> datetime:
    """The moment ``text`` names, in UTC; a ValueError if it names none a datetime can hold (a 31st of April, a
    leap second, a UTC date outside the years 1 to 9999)."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = match.groups()
    # Beyond microseconds, digits are dropped: a datetime holds no more.
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
    zone = timezone(-offset if sign == "-" else offset)
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1 to 9999 in UTC") from None
