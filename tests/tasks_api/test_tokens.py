"""Token verification: the algorithm fixed by the configuration, the claims, JWKS keys fetched and rotated
without hammering the key server, and verified tokens remembered until they expire."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from tasks_api.jwks import KeySet
from tasks_api.tokens import KeysUnavailable, TokenRejected, TokenSettings, TokenVerifier
from tests.tokens import SECRET, JWKSServer, SigningKey, claims, hs256, jwks_server, jwks_verifier, run

USER = str(uuid.uuid4())


def hs_verifier(**settings: Any) -> TokenVerifier:
    return TokenVerifier(TokenSettings(secret=SECRET, **settings), None)


def rejected(verifier: TokenVerifier, token: str) -> TokenRejected:
    with pytest.raises(TokenRejected) as refusal:
        run(verifier.claims(token))
    assert not token or token not in str(refusal.value)
    return refusal.value


def _unsigned(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


# ---- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{}, {"secret": b"short"}, {"secret": SECRET, "jwks_url": "http://keys.example/jwks"}],
    ids=["neither", "short-secret", "both"],
)
def test_a_configuration_that_cannot_verify_safely_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TokenSettings(**settings)


# ---- HS256 ------------------------------------------------------------------------------------------------


def test_a_valid_hs256_token_gives_its_claims() -> None:
    assert run(hs_verifier().claims(hs256(USER)))["sub"] == USER


def test_an_expired_token_is_told_from_an_invalid_one() -> None:
    verifier = hs_verifier(leeway=0)

    expired = rejected(verifier, hs256(USER, ttl=-5))
    forged = rejected(verifier, hs256(USER, secret=b"another secret of at least thirty-two bytes"))

    assert expired.expired and "expired" in str(expired)
    assert not forged.expired and "expired" not in str(forged)


def test_leeway_allows_a_little_clock_skew() -> None:
    assert run(hs_verifier(leeway=30).claims(hs256(USER, ttl=-5)))["sub"] == USER


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (jwt.encode({"sub": USER}, SECRET, algorithm="HS256"), "'exp'"),
        (jwt.encode({"exp": 2**40}, SECRET, algorithm="HS256"), "'sub'"),
        (hs256(USER, nbf=2**40), "not valid yet"),
        (_unsigned(claims(USER), {"alg": "none", "typ": "JWT"}), "HS256"),
        (SigningKey.new("EdDSA").sign(claims(USER)), "HS256"),
        (SigningKey.new("RS256").sign(claims(USER)), "HS256"),
        (jwt.encode(claims(USER), SECRET * 2, algorithm="HS512"), "HS256"),
        ("not.a.token", "well-formed"),
        ("", "well-formed"),
    ],
    ids=["no-exp", "no-sub", "nbf-in-the-future", "alg-none", "eddsa", "rs256", "hs512", "garbage", "empty"],
)
def test_tokens_the_secret_configuration_does_not_accept(token: str, reason: str) -> None:
    assert reason in str(rejected(hs_verifier(), token))


@pytest.mark.parametrize(
    "dates",
    [
        {"exp": 10**400},
        {"exp": "9999999999"},
        {"exp": True},
        {"exp": float("inf")},
        {"nbf": "0"},
        {"nbf": False},
        {"iat": "0"},
        {"iat": True},
        {"iat": 10**400},
        {"iat": -(10**400)},
    ],
    ids=repr,
)
def test_a_date_claim_must_be_a_json_number_a_float_holds(dates: dict[str, Any]) -> None:
    refusal = rejected(hs_verifier(), hs256(USER, **dates))

    # PyJWT reads `true` as 1, a date long past: the token is malformed, not expired.
    assert not refusal.expired and "expired" not in str(refusal)


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = hs256(USER).split(".")
    other = base64.urlsafe_b64encode(json.dumps(claims(str(uuid.uuid4()))).encode()).rstrip(b"=").decode()

    rejected(hs_verifier(), f"{header}.{other}.{signature}")


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        ({"iss": "https://app.example", "aud": "tasks-api"}, True),
        ({"iss": "https://evil.example", "aud": "tasks-api"}, False),
        ({"iss": "https://app.example", "aud": "another-api"}, False),
        ({"aud": "tasks-api"}, False),
        ({"iss": "https://app.example"}, False),
    ],
)
def test_issuer_and_audience_must_match_when_configured(extra: dict[str, Any], accepted: bool) -> None:
    verifier = hs_verifier(issuer="https://app.example", audience="tasks-api")
    token = hs256(USER, **extra)

    if accepted:
        assert run(verifier.claims(token))["sub"] == USER
    else:
        rejected(verifier, token)


def test_issuer_and_audience_are_not_checked_when_not_configured() -> None:
    assert run(hs_verifier().claims(hs256(USER, iss="https://app.example", aud="whoever")))["sub"] == USER


# ---- the verified-token cache -----------------------------------------------------------------------------


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token that reached signature verification."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def test_a_verified_token_is_not_verified_again(decodes: list[str]) -> None:
    verifier, token = hs_verifier(), hs256(USER)

    for _ in range(3):
        run(verifier.claims(token))

    assert decodes == [token]


def test_the_cache_is_bounded(decodes: list[str]) -> None:
    verifier = TokenVerifier(TokenSettings(secret=SECRET), None, cache_size=2)
    first, second, third = (hs256(str(uuid.uuid4())) for _ in range(3))

    for token in (first, second, third, third, first):
        run(verifier.claims(token))

    assert decodes == [first, second, third, first]


def test_a_cached_token_stops_being_accepted_when_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier, token = hs_verifier(leeway=0), hs256(USER, ttl=60)
    run(verifier.claims(token))
    later = time.time() + 61

    monkeypatch.setattr(time, "time", lambda: later)

    with pytest.raises(TokenRejected) as refusal:
        run(verifier.claims(token))
    assert refusal.value.expired


def test_a_distant_but_finite_expiry_is_accepted_and_remembered(decodes: list[str]) -> None:
    verifier, token = hs_verifier(), hs256(USER, exp=10**300)

    for _ in range(2):
        assert run(verifier.claims(token))["exp"] == 10**300

    assert decodes == [token]


# ---- a JWKS -----------------------------------------------------------------------------------------------


def verify_all(url: str, *tokens_: str, between: Callable[[], None] = lambda: None) -> list[Any]:
    """Each token's claims or the exception it raised, through one verifier; ``between`` runs after each."""

    async def verify() -> list[Any]:
        results: list[Any] = []
        async with jwks_verifier(url) as verifier:
            for token in tokens_:
                try:
                    results.append(await verifier.claims(token))
                except (TokenRejected, KeysUnavailable) as error:
                    results.append(error)
                between()
        return results

    return run(verify())


@pytest.fixture
def keys() -> dict[str, SigningKey]:
    return {algorithm: SigningKey.new(algorithm) for algorithm in ("EdDSA", "ES256", "RS256")}


@pytest.fixture
def server(keys: dict[str, SigningKey]) -> Iterator[JWKSServer]:
    with jwks_server(*keys.values()) as served:
        yield served


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_tokens_signed_by_a_published_key_are_accepted(
    server: JWKSServer, keys: dict[str, SigningKey], algorithm: str
) -> None:
    (verified,) = verify_all(server.url, keys[algorithm].sign(claims(USER)))

    assert verified["sub"] == USER


def test_tokens_the_jwks_configuration_does_not_accept(server: JWKSServer, keys: dict[str, SigningKey]) -> None:
    eddsa = keys["EdDSA"]
    # The Ed25519 key's kid, claimed by a token signed another way.
    hs = jwt.encode(claims(USER), SECRET, algorithm="HS256", headers={"kid": eddsa.kid})
    none = _unsigned(claims(USER), {"alg": "none", "kid": eddsa.kid})
    mislabelled = keys["ES256"].sign(claims(USER), kid=eddsa.kid)
    forged = SigningKey.new("EdDSA", kid=eddsa.kid).sign(claims(USER))
    no_kid = jwt.encode(claims(USER), eddsa.private, algorithm="EdDSA")

    results = verify_all(server.url, hs, none, mislabelled, forged, no_kid)

    assert all(isinstance(result, TokenRejected) for result in results), results


def test_an_unknown_kid_refetches_once_and_forged_kids_cannot_hammer_the_key_server(
    server: JWKSServer, keys: dict[str, SigningKey]
) -> None:
    forged = [SigningKey.new("EdDSA", kid=f"forged-{n}").sign(claims(USER)) for n in range(20)]

    results = verify_all(server.url, keys["EdDSA"].sign(claims(USER)), *forged)

    assert not isinstance(results[0], Exception)
    assert all(isinstance(result, TokenRejected) for result in results[1:])
    # The first fetch, and one refetch for the first unknown kid; the other 19 fall within the refetch interval.
    assert server.fetches == 2


def test_rotation_a_new_key_is_accepted_once_published_and_a_withdrawn_one_refused_after_the_refetch(
    server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.0)
    old, new = SigningKey.new("EdDSA", kid="2026-11"), SigningKey.new("EdDSA", kid="2026-12")
    server.publish(old)
    signed_by_old = old.sign(claims(USER))
    publications: Iterator[tuple[SigningKey, ...]] = iter([(old, new), (new,), (new,), (new,)])

    results = verify_all(
        server.url,
        signed_by_old,
        new.sign(claims(USER)),  # unknown until the refetch it triggers, which finds it published
        signed_by_old,  # withdrawn from the server, but the verifier has not refetched yet
        SigningKey.new("EdDSA", kid="someone-else").sign(claims(USER)),  # a refetch: the old key is gone now
        between=lambda: server.publish(*next(publications)),
    )

    assert [isinstance(result, Exception) for result in results] == [False, False, False, True]
    (after_withdrawal,) = verify_all(server.url, signed_by_old)
    assert isinstance(after_withdrawal, TokenRejected)


def test_a_withdrawn_key_no_longer_verifies_tokens_remembered_with_it(
    server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.0)

    async def scenario() -> tuple[Any, Any]:
        old, new = SigningKey.new("EdDSA", kid="old"), SigningKey.new("EdDSA", kid="new")
        server.publish(old)
        signed_by_old = old.sign(claims(USER))
        async with jwks_verifier(server.url) as verifier:
            first = await verifier.claims(signed_by_old)
            server.publish(new)
            await verifier.claims(new.sign(claims(USER)))
            try:
                again: Any = await verifier.claims(signed_by_old)
            except TokenRejected as refusal:
                again = refusal
        return first, again

    first, again = run(scenario())

    assert first["sub"] == USER
    assert isinstance(again, TokenRejected)


def test_an_unreachable_key_server_is_unavailable_not_a_bad_token(keys: dict[str, SigningKey]) -> None:
    with jwks_server(*keys.values()) as server:
        server.available = False
        (result,) = verify_all(server.url, keys["EdDSA"].sign(claims(USER)))

    assert isinstance(result, KeysUnavailable)


def test_cached_keys_keep_working_while_the_key_server_is_away(server: JWKSServer, keys: dict[str, SigningKey]) -> None:
    subjects = [str(uuid.uuid4()) for _ in range(2)]
    tokens_ = [keys["EdDSA"].sign(claims(subject)) for subject in subjects]

    results = verify_all(server.url, *tokens_, between=lambda: setattr(server, "available", False))

    assert [result["sub"] for result in results] == [
        jwt.decode(token, options={"verify_signature": False})["sub"] for token in tokens_
    ]


def test_readiness_says_why_no_token_can_be_verified(
    keys: dict[str, SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeySet, "REFETCH_INTERVAL", 0.0)

    async def reasons(server: JWKSServer) -> tuple[str | None, str | None]:
        async with jwks_verifier(server.url) as verifier:
            unready = await verifier.unready_reason()
            server.available = True
            return unready, await verifier.unready_reason()

    with jwks_server(*keys.values()) as server:
        server.available = False
        unready, ready = run(reasons(server))

    assert unready is not None and "key server" in unready
    assert ready is None
