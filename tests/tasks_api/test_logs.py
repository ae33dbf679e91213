"""Log lines are one JSON object each, carrying the request id and the exception."""

from __future__ import annotations

import json
import logging
import sys

from tasks_api.logs import JSONFormatter, request_id


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
