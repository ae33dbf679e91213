"""Structured logs: one JSON object per line on stderr, each carrying the id of the request it belongs to."""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import orjson

# Set by tasks_api.request_context for the duration of a request.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


@functools.lru_cache(maxsize=2)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _utc_timestamp(created: float) -> str:
    """ISO 8601 in UTC to the millisecond; the part up to the second is built once per second, because
    every request writes a line and datetime's formatting was a third of the formatter's time."""
    seconds = int(created)
    return f"{_utc_second(seconds)}.{int((created - seconds) * 1000):03d}+00:00"


def entry(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
    """What every log line starts with, access lines included."""
    return {"ts": _utc_timestamp(created), "level": level, "logger": logger, "message": message}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = entry(record.created, record.levelname.lower(), record.name, record.getMessage())
        current_request = request_id.get()
        if current_request is not None:
            line["request_id"] = current_request
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the service and uvicorn: JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSONFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Replaced by tasks_api.access, which knows the request id and the route.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


class ThrottledWarning:
    """A warning about something a client can make happen at will (a flood of connections, say): logged at
    most once per ``interval`` seconds, each line with how many times it happened since the last one, so that
    the flood is seen without flooding the log."""

    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._message = message
        self._interval = interval
        self._clock = clock
        self._count = 0
        self._quiet_until = -math.inf

    def __call__(self, *args: object) -> None:
        self._count += 1
        now = self._clock()
        if now < self._quiet_until:
            return
        self._logger.warning(f"{self._message} (%d since the last such line)", *args, self._count)
        self._count = 0
        self._quiet_until = now + self._interval
