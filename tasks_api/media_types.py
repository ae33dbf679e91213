"""Request media types in their canonical spelling, for everything after this step.

Media types and parameter names are case-insensitive (RFC 9110, 8.3.1), and whitespace may surround the ``;``
between parameters; Connexion looks both the type and the charset up by exact string, so ``Application/Json``
would skip body parsing and reach the handler as raw bytes. Rewritten once here, every reader downstream (request
validation, the handler call) sees ``application/json; charset=...`` as the spec spells it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_CONTENT_TYPE = b"content-type"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def canonical_media_type(value: bytes) -> bytes:
    media_type, *parameters = value.split(b";")
    canonical = [media_type.strip().lower()]
    for parameter in parameters:
        name, equals, argument = parameter.partition(b"=")
        if name.strip():
            canonical.append(name.strip().lower() + equals + argument.strip())
    return b"; ".join(canonical)


class CanonicalContentType:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WITH_BODY:
            headers = scope["headers"]
            for index, (name, value) in enumerate(headers):
                if name == _CONTENT_TYPE:
                    canonical = canonical_media_type(value)
                    if canonical != value:
                        scope = {**scope, "headers": [*headers[:index], (name, canonical), *headers[index + 1 :]]}
                    break
        await self.app(scope, receive, send)
