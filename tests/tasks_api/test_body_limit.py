"""Bodies over the limit are refused before they are read; others reach the app untouched."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from tasks_api.body_limit import BodySizeLimit
from tasks_api.problems import ApiProblem


class Recorder:
    """An app that reads the whole body, as a request validator would."""

    def __init__(self) -> None:
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                return


def _run(headers: list[tuple[bytes, bytes]], chunks: list[bytes], limit: int = 10) -> Recorder:
    app = Recorder()
    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    received = iter(messages)

    async def receive() -> Message:
        return next(received)

    async def send(_message: Message) -> None:
        raise AssertionError("the limit never answers by itself")

    scope = {"type": "http", "method": "POST", "headers": headers}
    asyncio.run(BodySizeLimit(app, max_bytes=limit)(scope, receive, send))
    return app


def test_a_body_within_the_limit_reaches_the_app() -> None:
    assert _run([(b"content-length", b"10")], [b"0123456789"]).body == b"0123456789"


def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read() -> None:
    with pytest.raises(ApiProblem) as refused:
        _run([(b"content-length", b"11")], [])  # no message to read: reading would fail the test
    assert refused.value.status == 413


def test_a_chunked_body_is_counted_as_it_streams_in() -> None:
    assert _run([(b"transfer-encoding", b"chunked")], [b"01234", b"56789"]).body == b"0123456789"
    with pytest.raises(ApiProblem) as refused:
        _run([(b"transfer-encoding", b"chunked")], [b"01234", b"56789", b"!"])
    assert refused.value.status == 413


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def unused(*_args: Any) -> Any:
        raise AssertionError

    asyncio.run(BodySizeLimit(app)({"type": "lifespan"}, unused, unused))

    assert seen == ["lifespan"]
