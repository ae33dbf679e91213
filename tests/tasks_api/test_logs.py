"""Log lines are one JSON object each, carrying the request id and the exception."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from tasks_api.logs import JSONFormatter, ThrottledWarning, request_id


def test_json_lines_carry_the_request_id_and_the_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failure = sys.exc_info()
    record = logging.LogRecord("tasks_api.errors", logging.ERROR, __file__, 1, "failed %s", ("here",), failure)
    token = request_id.set("req-1")
    try:
        text = JSONFormatter().format(record)
    finally:
        request_id.reset(token)

    line = json.loads(text)
    assert "\n" not in text
    assert (line["level"], line["message"], line["request_id"]) == ("error", "failed here", "req-1")
    assert "RuntimeError: boom" in line["exception"]


def test_a_throttled_warning_logs_at_most_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    warn = ThrottledWarning(logging.getLogger("tasks_api.test"), "refused %s", interval=10, clock=lambda: now[0])

    with caplog.at_level(logging.WARNING, logger="tasks_api.test"):
        warn("one")
        for _ in range(500):
            now[0] += 0.01
            warn("many")
        now[0] = 110.0
        warn("later")

    assert [record.getMessage() for record in caplog.records] == [
        "refused one (1 since the last such line)",
        "refused later (501 since the last such line)",
    ]
