"""Signing keys, tokens and a JWKS server of the tests' own, for the authentication tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

SECRET = b"a shared secret of at least thirty-two bytes"


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
    """Serves ``keys`` as a JWKS on a loopback port; ``fetches`` counts the requests it answered."""

    url: str
    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    available: bool = True

    def publish(self, *keys: SigningKey) -> None:
        self.keys = list(keys)


@contextmanager
def jwks_server(*keys: SigningKey) -> Iterator[JWKSServer]:
    served = JWKSServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.fetches += 1
            if not served.available:
                self.send_error(503)
                return
            body = json.dumps({"keys": [key.jwk() for key in served.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/api/auth/jwks"
    served.publish(*keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
