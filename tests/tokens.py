"""Signing keys, tokens and a JWKS server of the tests' own, for the authentication tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tasks_api.tokens import TokenSettings, TokenVerification, TokenVerifier

SECRET = b"a shared secret of at least thirty-two bytes"
T = TypeVar("T")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def new(cls, algorithm: str, kid: str | None = None) -> SigningKey:
        private: Any
        if algorithm == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        elif algorithm == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or f"{algorithm.lower()}-{id(private)}", algorithm, private)

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **header})


def claims(user: str, *, ttl: float = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user, "iat": now, "exp": now + int(ttl), **extra}


def hs256(user: str, *, secret: bytes = SECRET, ttl: float = 600, **extra: Any) -> str:
    return jwt.encode(claims(user, ttl=ttl, **extra), secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class JWKSServer:
    """Serves ``keys`` as a JWKS on a loopback port; ``fetches`` counts the requests it answered.

    A test may make it misbehave: answer 503 (``available``), send another ``body`` (``repeat`` times over, with
    or without a Content-Length), extra ``headers``, ``delay`` its answer or ``trickle`` its body (seconds before
    each byte). ``sent`` counts the body's bytes the client took.
    """

    url: str
    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    available: bool = True
    body: bytes | None = None
    repeat: int = 1
    declare_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    sent: int = 0
    # Set when the server stops: a delayed or trickling answer ends then.
    stopping: threading.Event = field(default_factory=threading.Event)

    def publish(self, *keys: SigningKey) -> None:
        self.keys = list(keys)

    def answer(self) -> bytes:
        return json.dumps({"keys": [key.jwk() for key in self.keys]}).encode() if self.body is None else self.body


@contextmanager
def jwks_server(*keys: SigningKey) -> Iterator[JWKSServer]:
    served = JWKSServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.fetches += 1
            if served.stopping.wait(served.delay):
                return
            if not served.available:
                self.send_error(503)
                return
            body = served.answer()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if served.declare_length:
                self.send_header("Content-Length", str(len(body) * served.repeat))
            for name, value in served.headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                for _ in range(served.repeat):
                    self._write(body)
            except OSError:  # the client stopped reading
                pass

        def _write(self, body: bytes) -> None:
            if not served.trickle:
                for start in range(0, len(body), 64 * 1024):
                    chunk = body[start : start + 64 * 1024]
                    self.wfile.write(chunk)
                    served.sent += len(chunk)
                return
            for byte in range(len(body)):
                if served.stopping.wait(served.trickle):
                    return
                self.wfile.write(body[byte : byte + 1])
                served.sent += 1

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/api/auth/jwks"
    served.publish(*keys)
    # Polled often, so that the server stops as soon as a test ends.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.stopping.set()
        server.shutdown()
        server.server_close()


def run(coroutine: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await coroutine

    return asyncio.run(wrapped())


@asynccontextmanager
async def jwks_verifier(url: str, **settings: Any) -> AsyncIterator[TokenVerifier]:
    async with TokenVerification(TokenSettings(jwks_url=url, **settings)) as verifier:
        yield verifier


async def outcome(awaitable: Awaitable[T]) -> T | Exception:
    """What ``awaitable`` gives, or the exception it raised."""
    try:
        return await awaitable
    except Exception as error:
        return error
