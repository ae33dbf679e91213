"""The signing keys a JWKS URL publishes, kept current: fetched at start-up, refreshed in the background and
refetched when a token names a ``kid`` not known yet. A key server that is slow, huge or answers nonsense makes
the keys unavailable, never an error of the service; the server log says what went wrong, and where."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import httpx
import jwt

logger = logging.getLogger("tasks_api.jwks")

# What a JWKS may sign with: Better Auth's default (Ed25519) and the two other common choices.
JWKS_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
# RFC 7638, section 3.2: the members a thumbprint is made of, for each key type the algorithms above use.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
# A published private key (or shared secret) would let anyone sign tokens: such a key is not used.
_SECRET_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


class UnusableKeySet(Exception):
    """The key server's answer gives no key to verify with; ``str`` says why."""


class PublishedKey(NamedTuple):
    key: jwt.PyJWK
    # Its algorithm and RFC 7638 thumbprint: when either changes under the same kid, the key is another one.
    identity: tuple[str, str]


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The key's RFC 7638 thumbprint (SHA-256, base64url): what identifies its material, whatever its ``kid``."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _usable(jwk: object) -> PublishedKey | None:
    """The key, if this JWKS member is a public key a token can name and be verified with."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
        return None
    # PyJWT looks a non-string "alg" up in a dict (a TypeError), and would use a private key as it is.
    if not isinstance(jwk.get("alg", ""), str) or not _SECRET_MEMBERS.isdisjoint(jwk):
        return None
    # A key published for encryption only (RFC 7517, 4.2 and 4.3) must not verify signatures.
    key_ops = jwk.get("key_ops")
    if jwk.get("use", "sig") != "sig" or (
        key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops)
    ):
        return None
    try:
        key = jwt.PyJWK(jwk)
    except jwt.PyJWTError:
        return None
    if key.algorithm_name not in JWKS_ALGORITHMS:
        return None
    return PublishedKey(key, (key.algorithm_name, thumbprint(jwk)))


def parse_key_set(body: bytes) -> dict[str, PublishedKey]:
    """``kid`` -> key for the usable keys of a JWKS; raises UnusableKeySet if there are none.

    Members that are not usable keys are skipped, as RFC 7517 (section 5) asks, so that a key server may also
    publish keys of other types or uses."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise UnusableKeySet("the answer is not JSON") from None
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise UnusableKeySet('the answer is not a JSON object with a "keys" list')
    keys = {}
    for member in listed:
        published = _usable(member)
        if published is not None:
            keys[member["kid"]] = published
    if not keys:
        raise UnusableKeySet("the key set has no usable signing key (" + ", ".join(sorted(JWKS_ALGORITHMS)) + ")")
    return keys


def max_age(cache_control: str | None) -> float | None:
    """The seconds a ``Cache-Control`` header lets its answer be kept, if it says."""
    found = _MAX_AGE.search(cache_control or "")
    return float(found.group(1)) if found else None


class KeySet:
    """A JWKS's keys by ``kid``.

    Fetched at start-up, then refreshed in the background every ``refresh_interval`` seconds (sooner when the
    answer's ``Cache-Control: max-age`` is shorter, though not sooner than ``REFETCH_INTERVAL``), so that a
    withdrawn key stops verifying, and a key whose material changed under the same ``kid`` is noticed. A token
    naming an unknown ``kid`` makes it refetch, at most once per ``REFETCH_INTERVAL`` whatever the tokens say, so
    forged ``kid``s cannot make the service hammer the key server. There is one fetch at a time: whoever needs
    one while it runs waits for it and takes its result.

    A fetch has one deadline, ``FETCH_DEADLINE``, for connecting, the headers and the whole body, and reads at
    most ``MAX_BYTES``. A failed fetch keeps the keys fetched before (the service keeps serving the tokens they
    verify) and is retried after ``REFETCH_INTERVAL``.
    """

    REFETCH_INTERVAL = 10.0
    FETCH_DEADLINE = 5.0
    MAX_BYTES = 1024 * 1024
    # Parsing a JWKS this size takes at most 0.83 ms (measured with ES256 keys, the slowest to parse: 113 ms for
    # 1 MiB); larger answers are parsed in a thread, off the event loop.
    INLINE_PARSE_BYTES = 8 * 1024

    def __init__(self, url: str, client: httpx.AsyncClient, refresh_interval: float) -> None:
        self._url = url
        self._client = client
        self._refresh_interval = refresh_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._identities: dict[str, tuple[str, str]] = {}
        self._fetching: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._next_refresh = 0.0
        self._next_refetch = 0.0
        # Whether the last fetch gave a usable key set.
        self.usable = False
        # Bumped whenever a key is added, withdrawn or changes material, so that tokens verified before can be
        # verified again.
        self.generation = 0
        # Counted for metrics: fetches of the key set begun, and those that gave no usable set.
        self.fetches = 0
        self.fetch_failures = 0

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    def start(self) -> None:
        """Fetches the keys in the background now, then keeps them fresh until ``stop``."""
        self._fetching = asyncio.create_task(self._fetch_once())
        self._refresher = asyncio.create_task(self._keep_fresh())

    async def stop(self) -> None:
        tasks = [task for task in (self._refresher, self._fetching) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key ``kid`` names, refetching the set first if it is not known (see ``usable`` when None)."""
        key = self._keys.get(kid)
        if key is None:
            await self.refetch()
            key = self._keys.get(kid)
        return key

    async def refetch(self) -> None:
        """Fetches the set for a key not known: waits for the fetch under way, if any, else fetches unless a
        refetch started within the refetch interval."""
        if self._fetching is None:
            now = time.monotonic()
            if now < self._next_refetch:
                return
            self._next_refetch = now + self.REFETCH_INTERVAL
        await self._shared_fetch()

    async def _keep_fresh(self) -> None:
        while True:
            delay = self._next_refresh - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await self._shared_fetch()

    async def _shared_fetch(self) -> None:
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._fetch_once())
        # Shielded: a request that stops waiting (its client went away) leaves the fetch to the others.
        await asyncio.shield(self._fetching)

    async def _fetch_once(self) -> None:
        self.fetches += 1
        try:
            body, fresh_for = await self._download()
            if len(body) <= self.INLINE_PARSE_BYTES:
                keys = parse_key_set(body)
            else:
                keys = await asyncio.to_thread(parse_key_set, body)
        except (UnusableKeySet, httpx.HTTPError, httpx.InvalidURL) as error:
            self._failed(str(error) or type(error).__name__)
        except Exception:
            # Unforeseen, so logged with its traceback; still only the keys that are unavailable, not the service.
            logger.exception("the key server's answer at %s could not be read", self._url)
            self._failed("an unexpected error")
        else:
            self._replace(keys, fresh_for)
        finally:
            self._fetching = None

    async def _download(self) -> tuple[bytes, float | None]:
        """The body and how long it may be kept; within one deadline, and at most ``MAX_BYTES`` of it."""
        too_large = UnusableKeySet(f"the answer is larger than {self.MAX_BYTES} bytes")
        try:
            async with asyncio.timeout(self.FETCH_DEADLINE), self._client.stream("GET", self._url) as response:
                if not response.is_success:
                    raise UnusableKeySet(f"the key server answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.MAX_BYTES:
                    raise too_large
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.MAX_BYTES:
                        raise too_large
        except TimeoutError:
            raise UnusableKeySet(f"no complete answer within {self.FETCH_DEADLINE:g} s") from None
        return bytes(body), max_age(response.headers.get("cache-control"))

    def _replace(self, keys: dict[str, PublishedKey], fresh_for: float | None) -> None:
        identities = {kid: published.identity for kid, published in keys.items()}
        if identities != self._identities:
            self.generation += 1
        self._keys = {kid: published.key for kid, published in keys.items()}
        self._identities = identities
        self.usable = True
        interval = self._refresh_interval
        if fresh_for is not None:
            interval = min(interval, max(fresh_for, self.REFETCH_INTERVAL))
        self._next_refresh = time.monotonic() + interval

    def _failed(self, reason: str) -> None:
        self.fetch_failures += 1
        self.usable = False
        retry_in = min(self._refresh_interval, self.REFETCH_INTERVAL)
        kept = (
            f"keeping the {len(self._keys)} keys fetched before"
            if self._keys
            else "no keys yet, so every token is answered 503"
        )
        logger.warning(
            "the key server at %s cannot be used (%s); %s; retrying in %g s", self._url, reason, kept, retry_in
        )
        self._next_refresh = time.monotonic() + retry_in
