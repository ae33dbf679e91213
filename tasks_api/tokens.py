"""Verifies the front end's JWTs: the signature, with an algorithm fixed by the configuration, and ``exp``,
``nbf``, ``iss`` and ``aud``. Keys come from a shared secret (HS256) or a JWKS (EdDSA, ES256, RS256: see
``tasks_api.jwks``). Verified tokens are remembered until they expire, so a client's repeat requests cost a hash
and a dictionary look-up."""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from tasks_api.jwks import JWKS_ALGORITHMS, KeySet

SECRET_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
_LARGEST_FLOAT = int(sys.float_info.max)


@dataclass(frozen=True)
class TokenSettings:
    """How tokens are verified: with exactly one of ``jwks_url`` and ``secret``."""

    jwks_url: str | None = None
    secret: bytes | None = field(default=None, repr=False)
    issuer: str | None = None
    audience: str | None = None
    leeway: float = 30.0
    # Seconds between background refreshes of the JWKS (fewer when its Cache-Control: max-age says so).
    jwks_refresh: float = 300.0

    def __post_init__(self) -> None:
        if (self.jwks_url is None) == (self.secret is None):
            raise ValueError("set exactly one of a JWKS URL and a shared secret")
        if self.secret is not None and len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the shared secret is shorter than {MIN_SECRET_BYTES} bytes")


class TokenRejected(Exception):
    """The token is missing something, forged, expired or not for this service; ``str`` says which, never
    quoting the token."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


class KeysUnavailable(Exception):
    """No key that fits the token is known, and the key server cannot be used: the token may be fine."""


class TokenVerifier:
    def __init__(self, settings: TokenSettings, keys: KeySet | None, cache_size: int = 10_000) -> None:
        self._settings = settings
        self._keys = keys
        self._cache_size = cache_size
        # Hash of a verified token -> (its claims, when it stops being acceptable, the key set's generation).
        self._verified: dict[bytes, tuple[dict[str, Any], float, int]] = {}
        # Counted for metrics: tokens answered from the cache, and tokens whose signature was checked.
        self.cache_hits = 0
        self.cache_misses = 0
        self._options: jwt.types.Options = {
            "require": ["exp", "sub"],
            "verify_iss": settings.issuer is not None,
            "verify_aud": settings.audience is not None,
        }

    async def unready_reason(self) -> str | None:
        """Why no token can be verified right now, if so: no key fetched from the key server (a fetch is tried
        first). With keys at hand the service serves the tokens they verify, even while a refetch fails."""
        if self._keys is None or self._keys.loaded:
            return None
        await self._keys.refetch()
        if self._keys.loaded:
            return None
        return "no usable key could be fetched from the key server (the server log says why)"

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once it is verified; raises TokenRejected or KeysUnavailable."""
        digest = hashlib.sha256(token.encode()).digest()
        generation = self._keys.generation if self._keys is not None else 0
        cached = self._verified.get(digest)
        if cached is not None:
            claims, good_until, verified_in = cached
            if time.time() > good_until:
                del self._verified[digest]
                raise TokenRejected("The token has expired", expired=True)
            if verified_in == generation:
                self.cache_hits += 1
                return claims
            del self._verified[digest]  # the key set changed since: verify it again
        self.cache_misses += 1
        claims = self._decode(token, await self._key_for(token))
        expires = _expiry(claims)
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[digest] = (claims, expires + self._settings.leeway, generation)
        return claims

    @property
    def key_set(self) -> KeySet | None:
        """The JWKS the verifier takes keys from; None with a shared secret."""
        return self._keys

    def cache_size(self) -> int:
        return len(self._verified)

    async def _key_for(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("The token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if self._keys is None:
            if algorithm != SECRET_ALGORITHM:
                raise TokenRejected(f"The token must be signed with {SECRET_ALGORITHM}")
            return self._settings.secret, SECRET_ALGORITHM
        if algorithm not in JWKS_ALGORITHMS:
            raise TokenRejected("The token must be signed with " + ", ".join(sorted(JWKS_ALGORITHMS)))
        kid = header.get("kid")
        key = await self._keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            if isinstance(kid, str) and not self._keys.usable:
                raise KeysUnavailable
            raise TokenRejected("The token is signed with a key this service does not know")
        if key.algorithm_name != algorithm:
            raise TokenRejected("The token's algorithm does not match its key")
        return key.key, algorithm

    def _decode(self, token: str, key_and_algorithm: tuple[Any, str]) -> dict[str, Any]:
        key, algorithm = key_and_algorithm
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options=self._options,
                issuer=self._settings.issuer,
                audience=self._settings.audience,
                leeway=self._settings.leeway,
            )
        except jwt.ExpiredSignatureError:
            raise self._expired(token, key, algorithm) from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("The token is not valid yet") from None
        except jwt.MissingRequiredClaimError as missing:
            raise TokenRejected(f"The token has no '{missing.claim}' claim") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("The token was issued by another issuer") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("The token is meant for another audience") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("The token is invalid") from None
        return claims

    def _expired(self, token: str, key: Any, algorithm: str) -> TokenRejected:
        """Why PyJWT found a validly signed token expired: it takes an ``exp`` of ``true`` for 1, long past, and
        such a token is not expired but malformed."""
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], options={**self._options, "verify_exp": False})
            _expiry(claims)
        except TokenRejected as malformed:
            return malformed
        except jwt.InvalidTokenError:
            pass
        return TokenRejected("The token has expired", expired=True)


def _expiry(claims: dict[str, Any]) -> float:
    """The token's ``exp``, once ``exp`` and, if present, ``nbf`` and ``iat`` are found to be NumericDates."""
    for name in ("nbf", "iat"):
        if name in claims:
            _seconds(claims, name)
    return _seconds(claims, "exp")


def _seconds(claims: dict[str, Any], name: str) -> float:
    """A NumericDate claim; raises TokenRejected unless it is a JSON number (RFC 7519, section 2: not "123", not
    true, both of which PyJWT takes; a bool is an int to Python) that a float holds (10**400 is not)."""
    value = claims[name]
    if (type(value) is int and abs(value) <= _LARGEST_FLOAT) or (type(value) is float and math.isfinite(value)):
        return float(value)
    raise TokenRejected(f"The token's '{name}' is not a number of seconds")


def issue_token(secret: bytes, subject: str, ttl_seconds: float, *, issuer: str | None, audience: str | None) -> str:
    """An HS256 token for ``tasks-api token``: for curl and Swagger UI's Authorize button."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + int(ttl_seconds)}
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=SECRET_ALGORITHM)


class TokenVerification:
    """The verifier and, with a JWKS, its HTTP client and key set kept fresh, for the life of the app."""

    def __init__(self, settings: TokenSettings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self.keys: KeySet | None = None

    async def __aenter__(self) -> TokenVerifier:
        if self._settings.jwks_url is not None:
            self._client = httpx.AsyncClient(timeout=KeySet.FETCH_DEADLINE)
            self.keys = KeySet(self._settings.jwks_url, self._client, self._settings.jwks_refresh)
            # In the background: the service starts (and reports not-ready) while the key server is away.
            self.keys.start()
        return TokenVerifier(self._settings, self.keys)

    async def __aexit__(self, *_exc_info: object) -> None:
        if self.keys is not None:
            await self.keys.stop()
        if self._client is not None:
            await self._client.aclose()
