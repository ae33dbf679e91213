"""User ids in each mode: the id a user's tasks are stored under, a token's subject against the path, and the
spec each mode serves."""

from __future__ import annotations

import uuid

import pytest
import yaml

from tasks_api.specification import SPEC_PATH
from tasks_api.user_ids import canonical_user_id, same_user, with_user_ids

A_UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
BETTER_AUTH = "Xk2PqL9mZr4TnB7wYc1VdE5sHa8JuF3g"  # 32 of [A-Za-z0-9], case-sensitive


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (A_UUID, A_UUID),
        (A_UUID.upper(), A_UUID),
        ("7C9E6679-7425-40de-944B-e07fc1f90ae7", A_UUID),
        (BETTER_AUTH, BETTER_AUTH),
        ("auth0|5f7c8ec7c33c6c004bbafe82", "auth0|5f7c8ec7c33c6c004bbafe82"),
        ("user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"),
        # Not UUID-shaped, so kept as it is: another provider's id is compared exactly.
        (A_UUID.replace("-", "").upper(), A_UUID.replace("-", "").upper()),
    ],
)
def test_a_uuid_is_stored_in_lower_case_and_any_other_id_as_given(given: str, stored: str) -> None:
    assert canonical_user_id(given) == stored


def test_a_token_names_the_path_user_whatever_the_case_of_a_uuid() -> None:
    assert same_user(A_UUID, A_UUID.upper())
    assert same_user(A_UUID.upper(), A_UUID)
    assert same_user("7C9E6679-7425-40de-944B-e07fc1f90ae7", A_UUID)
    assert not same_user(str(uuid.uuid4()), A_UUID)
    assert not same_user(None, A_UUID)
    assert not same_user(7, A_UUID)


@pytest.mark.parametrize(
    "subject",
    [
        f"urn:uuid:{A_UUID}",
        f"{{{A_UUID}}}",
        A_UUID.replace("-", ""),
        A_UUID.replace("-", "").upper(),
        "7c9e-6679-7425-40de-944b-e07f-c1f9-0ae7",
        "7c9e66797425-40de-944b-e07fc1f90ae7",
        f" {A_UUID}",
        f"{A_UUID}\n",
    ],
)
def test_only_the_canonical_spelling_of_a_uuid_names_its_user(subject: str) -> None:
    # Distinct subjects at the identity provider, which must not share one user's tasks.
    assert not same_user(subject, A_UUID)


def test_opaque_ids_are_case_sensitive() -> None:
    assert same_user(BETTER_AUTH, BETTER_AUTH)
    assert not same_user(BETTER_AUTH.lower(), BETTER_AUTH)
    assert not same_user(BETTER_AUTH, BETTER_AUTH + "x")


def test_each_mode_serves_its_own_rules_for_user_ids() -> None:
    specification = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    modes = specification["components"]["schemas"]["UserId"]["x-user-id-modes"]

    served = {mode: with_user_ids(specification, mode)["components"]["schemas"]["UserId"] for mode in modes}

    assert set(served) == {"uuid", "opaque"}
    assert served["uuid"]["format"] == "uuid"
    assert "format" not in served["opaque"]
    assert served["opaque"]["maxLength"] == 128
    assert all("x-user-id-modes" not in schema for schema in served.values())
    # The file itself, which the clients are generated from, says only "a string".
    assert "x-user-id-modes" in specification["components"]["schemas"]["UserId"]
    assert {"format", "pattern"}.isdisjoint(specification["components"]["schemas"]["UserId"])
