"""The key set of a JWKS URL: refreshed in the background (a withdrawn or changed key stops verifying), one fetch
at a time within one deadline and size, parsed off the event loop, and whatever the key server answers, at worst
"keys unavailable" (a 503), never an error of the service."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tasks_api import jwks
from tasks_api.jwks import KeySet, max_age, thumbprint
from tasks_api.tokens import KeysUnavailable, TokenRejected
from tests.support import wait_for_async
from tests.tokens import JWKSServer, SigningKey, claims, jwks_server, jwks_verifier, outcome, run

USER = str(uuid.uuid4())
KID = "current"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.new("EdDSA", kid=KID)


@pytest.fixture
def server(key: SigningKey) -> Iterator[JWKSServer]:
    with jwks_server(key) as served:
        yield served


def test_a_thumbprint_is_rfc_7638s() -> None:
    # The example of RFC 7638, section 3.1.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
            "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
            "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
            "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }

    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("public, max-age=600", 600),
        ("MAX-AGE=60", 60),
        ('max-age="30", must-revalidate', 30),
        ("no-cache", None),
        ("s-maxage=5", None),
        (None, None),
    ],
)
def test_max_age_is_read_from_cache_control(cache_control: str | None, seconds: float | None) -> None:
    assert max_age(cache_control) == seconds


# ---- refreshed in the background --------------------------------------------------------------------------


def test_a_withdrawn_key_stops_verifying_within_one_refresh(server: JWKSServer, key: SigningKey) -> None:
    successor = SigningKey.new("EdDSA", kid="next")
    token = key.sign(claims(USER))

    async def scenario() -> tuple[Any, Any]:
        async with jwks_verifier(server.url, jwks_refresh=0.2) as verifier:
            first = await verifier.claims(token)
            server.publish(successor)
            seen = server.fetches
            # A fetch that began after the withdrawal, and the one after it: a whole refresh went by.
            await wait_for_async(lambda: server.fetches >= seen + 2, timeout=10, what="a refresh")
            return first, await outcome(verifier.claims(token))

    first, later = run(scenario())

    assert first["sub"] == USER
    assert isinstance(later, TokenRejected)


def test_a_key_whose_material_changes_under_the_same_kid_no_longer_verifies_what_it_verified(
    server: JWKSServer, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.0)
    replacement = SigningKey.new("EdDSA", kid=KID)
    token = key.sign(claims(USER))

    async def scenario() -> tuple[Any, Any, Any]:
        async with jwks_verifier(server.url) as verifier:
            assert await verifier.unready_reason() is None  # the keys fetched, the token is verified and remembered
            first = await verifier.claims(token)
            server.publish(replacement)
            # A kid nobody publishes makes the verifier refetch; the set's kids are the same as before.
            await outcome(verifier.claims(SigningKey.new("EdDSA", kid="forged").sign(claims(USER))))
            return first, await outcome(verifier.claims(token)), await verifier.claims(replacement.sign(claims(USER)))

    first, again, replaced = run(scenario())

    assert first["sub"] == replaced["sub"] == USER
    assert isinstance(again, TokenRejected)


def test_max_age_brings_the_refresh_forward_but_never_below_the_refetch_interval(
    server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.5)
    server.headers["Cache-Control"] = "public, max-age=0"

    async def scenario() -> float:
        async with jwks_verifier(server.url):  # refreshing every 300 s, unless the answers say otherwise
            started = time.monotonic()
            await wait_for_async(lambda: server.fetches >= 3, timeout=10, what="two refreshes")
            return time.monotonic() - started

    assert run(scenario()) >= 2 * 0.5


def test_a_failed_refresh_keeps_the_keys_and_is_logged_as_a_warning(
    server: JWKSServer, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> Any:
        async with jwks_verifier(server.url, jwks_refresh=0.2) as verifier:
            await verifier.claims(key.sign(claims(USER)))
            server.available = False
            seen = server.fetches
            await wait_for_async(lambda: server.fetches >= seen + 2, timeout=10, what="a failed refresh")
            return await verifier.claims(key.sign(claims(str(uuid.uuid4()))))

    with caplog.at_level(logging.WARNING, logger="tasks_api.jwks"):
        verified = run(scenario())

    assert "sub" in verified
    warnings = [record.getMessage() for record in caplog.records if record.name == "tasks_api.jwks"]
    assert warnings
    assert all(server.url in warning and "503" in warning for warning in warnings)


# ---- one fetch at a time, within a deadline and a size ----------------------------------------------------


def test_requests_waiting_for_a_fetch_take_its_result_instead_of_fetching_again(
    server: JWKSServer, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shorter than a fetch: every request queued behind one used to fetch again when its turn came.
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.5)
    successor = SigningKey.new("EdDSA", kid="next")

    async def scenario() -> tuple[list[Any], float]:
        async with jwks_verifier(server.url) as verifier:
            await verifier.claims(key.sign(claims(USER)))
            server.publish(key, successor)
            server.delay = 1.0
            started = time.monotonic()
            results = await asyncio.gather(
                *(outcome(verifier.claims(successor.sign(claims(str(uuid.uuid4()))))) for _ in range(20))
            )
            return results, time.monotonic() - started

    results, elapsed = run(scenario())

    assert all("sub" in result for result in results), results
    assert server.fetches == 2  # at start-up, and once for the new kid
    assert elapsed < 1.0 + 3


def test_a_trickling_key_server_is_given_one_deadline_for_the_whole_answer(
    server: JWKSServer, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "FETCH_DEADLINE", 1.0)
    server.trickle = 0.2  # each byte well within any per-read timeout; the whole JWKS in about a minute

    async def scenario() -> tuple[Any, float]:
        async with jwks_verifier(server.url) as verifier:
            started = time.monotonic()
            result = await outcome(verifier.claims(key.sign(claims(USER))))
            return result, time.monotonic() - started

    result, elapsed = run(scenario())

    assert isinstance(result, KeysUnavailable)
    assert elapsed < 1.0 + 3
    assert server.fetches == 1  # the request waited for the fetch under way


def _padded(key: SigningKey, size: int) -> bytes:
    jwks = json.dumps({"keys": [key.jwk()]}).encode()
    return jwks[:-1] + b" " * (size - len(jwks)) + b"}"


@pytest.mark.parametrize(
    ("declare_length", "repeat"),
    [(True, 1), (False, 64)],
    ids=["content-length", "read-until-close"],
)
def test_an_answer_over_the_size_limit_is_not_read_to_its_end(
    server: JWKSServer, key: SigningKey, declare_length: bool, repeat: int
) -> None:
    # A valid JWKS padded to 1 MiB and a bit; the one without a length goes on to 64 MiB.
    server.body = _padded(key, KeySet.MAX_BYTES + 16 * 1024)
    server.declare_length, server.repeat = declare_length, repeat

    async def scenario() -> tuple[Any, str | None]:
        async with jwks_verifier(server.url) as verifier:
            return await outcome(verifier.claims(key.sign(claims(USER)))), await verifier.unready_reason()

    result, unready = run(scenario())

    assert isinstance(result, KeysUnavailable)
    assert unready is not None
    assert server.sent < 16 * KeySet.MAX_BYTES


def _key_set_of(size: int) -> bytes:
    """A JWKS of ES256 keys, the slowest to parse, of nearly ``size`` bytes."""
    jwks = [SigningKey.new("ES256").jwk() for _ in range(8)]
    members: list[str] = []
    length = len(b'{"keys": []}')
    while True:
        member = json.dumps({**jwks[len(members) % len(jwks)], "kid": f"key-{len(members)}"})
        length += len(member) + 2
        if length > size:
            return ('{"keys": [' + ", ".join(members) + "]}").encode()
        members.append(member)


def test_a_large_key_set_is_parsed_while_the_event_loop_goes_on(
    server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.body = _key_set_of(KeySet.MAX_BYTES)  # about 110 ms of work
    parsing, loop_ran = threading.Event(), threading.Event()
    parse = jwks.parse_key_set

    def parse_once_the_loop_ran(body: bytes) -> Any:
        parsing.set()
        # Run on the event loop, this would hold it for the whole wait, and find the event never set.
        assert loop_ran.wait(timeout=5), "the event loop stood still while the key set was parsed"
        return parse(body)

    monkeypatch.setattr(jwks, "parse_key_set", parse_once_the_loop_ran)

    async def scenario() -> str | None:
        async with jwks_verifier(server.url) as verifier:
            loading = asyncio.ensure_future(outcome(verifier.unready_reason()))
            await wait_for_async(parsing.is_set, timeout=10, what="the parse")
            loop_ran.set()
            unready = await loading
            assert not isinstance(unready, Exception)
            return unready

    assert run(scenario()) is None


# ---- whatever the key server answers ----------------------------------------------------------------------

RSA_KEY = SigningKey.new("RS256", kid=KID)
RSA_PRIVATE_JWK = {**json.loads(jwt.get_algorithm_by_name("RS256").to_jwk(RSA_KEY.private)), "kid": KID}


def _with(**members: Any) -> bytes:
    return json.dumps({"keys": [{**RSA_KEY.jwk(), **members}]}).encode()


MALFORMED = {
    "not-json": b"<html>Sign in</html>",
    "invalid-utf-8": b'{"keys": ["\xff"]}',
    "an-array": b"[]",
    "a-string": b'"keys"',
    "a-number": b"42",
    "null": b"null",
    "no-keys": b'{"kid": "current"}',
    "keys-not-a-list": b'{"keys": {"current": {}}}',
    "keys-not-objects": b'{"keys": [1, "current", null, []]}',
    "a-number-as-kid": _with(kid=7),
    "a-list-as-kid": _with(kid=[KID]),
    "a-list-as-alg": _with(alg=["RS256"]),
    "an-unsupported-alg": _with(alg="RS512"),
    "a-secret-key": json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": KID}]}).encode(),
    "an-x25519-key": json.dumps({"keys": [{"kty": "OKP", "crv": "X25519", "x": "AAAA", "kid": KID}]}).encode(),
    "a-private-key": json.dumps({"keys": [RSA_PRIVATE_JWK]}).encode(),
    "a-broken-modulus": _with(n="!!"),
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
    "deeply-nested-keys": b'{"keys": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "a-huge-integer": b'{"keys": [], "n": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_any_answer_that_is_not_a_usable_jwks_makes_keys_unavailable(server: JWKSServer, body: bytes) -> None:
    server.body = body

    async def scenario() -> tuple[Any, str | None]:
        async with jwks_verifier(server.url) as verifier:
            return await outcome(verifier.claims(RSA_KEY.sign(claims(USER)))), await verifier.unready_reason()

    result, unready = run(scenario())

    assert isinstance(result, KeysUnavailable), result
    assert unready is not None
    assert server.url not in unready and "127.0.0.1" not in unready


def test_members_that_are_not_usable_keys_are_skipped(server: JWKSServer) -> None:
    usable = SigningKey.new("EdDSA", kid="usable")
    server.body = json.dumps(
        {"keys": [1, {"kty": "oct", "k": "c2VjcmV0", "kid": "secret"}, RSA_PRIVATE_JWK, usable.jwk()]}
    ).encode()

    async def scenario() -> list[Any]:
        async with jwks_verifier(server.url) as verifier:
            return [await outcome(verifier.claims(key.sign(claims(USER)))) for key in (usable, RSA_KEY)]

    verified, refused = run(scenario())

    assert verified["sub"] == USER
    assert isinstance(refused, TokenRejected)


@pytest.mark.parametrize(
    "published_for",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}],
    ids=["use", "key-ops", "bad-ops"],
)
def test_a_key_not_published_for_verifying_signatures_verifies_nothing(
    server: JWKSServer, published_for: dict[str, Any]
) -> None:
    usable = SigningKey.new("EdDSA", kid="usable")
    encrypting = SigningKey.new("EdDSA", kid="encrypting")
    verifying = SigningKey.new("EdDSA", kid="verifying")
    server.body = json.dumps(
        {
            "keys": [
                usable.jwk(),
                {**encrypting.jwk(), **published_for},
                {**verifying.jwk(), "use": "sig", "key_ops": ["verify"]},
            ]
        }
    ).encode()

    async def scenario() -> list[Any]:
        async with jwks_verifier(server.url) as verifier:
            return [await outcome(verifier.claims(key.sign(claims(USER)))) for key in (usable, encrypting, verifying)]

    verified, refused, also_verified = run(scenario())

    assert verified["sub"] == USER == also_verified["sub"]
    assert isinstance(refused, TokenRejected)


def test_an_unforeseen_error_reading_the_answer_only_makes_keys_unavailable(
    server: JWKSServer, key: SigningKey, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_body: bytes) -> Any:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(jwks, "parse_key_set", broken)

    async def scenario() -> tuple[Any, str | None]:
        async with jwks_verifier(server.url, jwks_refresh=0.2) as verifier:
            result = await outcome(verifier.claims(key.sign(claims(USER))))
            # The background refresh goes on.
            seen = server.fetches
            await wait_for_async(lambda: server.fetches > seen, timeout=10, what="another refresh")
            return result, await verifier.unready_reason()

    with caplog.at_level(logging.ERROR, logger="tasks_api.jwks"):
        result, unready = run(scenario())

    assert isinstance(result, KeysUnavailable)
    assert unready is not None
    assert any(record.exc_info and "a parser bug" in str(record.exc_info[1]) for record in caplog.records)
