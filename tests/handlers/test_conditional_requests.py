"""ETags on every task response, If-Match on writes (412 changes nothing), If-None-Match on GET (304)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support import new_user, post_task


def created(client: TestClient) -> tuple[str, str, str]:
    """(task URL, ETag, user) of a new task."""
    user = new_user()
    response = post_task(client, user, "versioned")
    return f"/api/{user}/tasks/{response.json()['id']}", response.headers["etag"], user


WRITES = [
    ("PUT", "", {"title": "changed", "is_completed": True}),
    ("PATCH", "/complete", None),
    ("DELETE", "", None),
]


def test_every_task_response_carries_a_strong_etag_that_changes_with_each_write(client: TestClient) -> None:
    url, created_tag, _ = created(client)

    read = client.get(url)
    toggled = client.patch(f"{url}/complete")
    replaced = client.put(url, json={"title": "new", "is_completed": False})

    tags = [created_tag, read.headers["etag"], toggled.headers["etag"], replaced.headers["etag"]]
    assert all(tag.startswith('"') and tag.endswith('"') for tag in tags)
    assert tags[0] == tags[1]
    assert len(set(tags[1:])) == 3
    assert client.get(url).headers["etag"] == replaced.headers["etag"]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_write_with_the_current_etag_succeeds(client: TestClient, method: str, suffix: str, body: Any) -> None:
    url, tag, _ = created(client)

    response = client.request(method, url + suffix, json=body, headers={"If-Match": tag})

    assert response.status_code in (200, 204)


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
@pytest.mark.parametrize("stale", ["current-minus-one", 'W/"{current}"', '"999999"', '"not-ours"', '"", "x"'])
def test_write_with_a_stale_etag_is_412_and_changes_nothing(
    client: TestClient, method: str, suffix: str, body: Any, stale: str
) -> None:
    url, _, _ = created(client)
    current = client.patch(f"{url}/complete").headers["etag"]
    before = client.get(url).json()
    if_match = '"1"' if stale == "current-minus-one" else stale.format(current=current.strip('"'))

    response = client.request(method, url + suffix, json=body, headers={"If-Match": if_match})

    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error_code"] == "PRECONDITION_FAILED"
    after = client.get(url)
    assert after.json() == before
    assert after.headers["etag"] == current


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_if_match_star_or_a_list_holding_the_current_etag_succeeds(
    client: TestClient, method: str, suffix: str, body: Any
) -> None:
    for if_match in ["*", None]:
        url, tag, _ = created(client)
        header = if_match or f'"77", {tag}, W/"1"'
        assert client.request(method, url + suffix, json=body, headers={"If-Match": header}).status_code in (200, 204)


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
@pytest.mark.parametrize("malformed", ["3", "{current}", '"3" OR 1=1', "W/", '"unterminated', "*, *"])
def test_a_malformed_if_match_matches_nothing(
    client: TestClient, method: str, suffix: str, body: Any, malformed: str
) -> None:
    url, tag, _ = created(client)
    before = client.get(url).json()

    response = client.request(
        method, url + suffix, json=body, headers={"If-Match": malformed.format(current=tag.strip('"'))}
    )

    assert response.status_code == 412, response.text
    assert client.get(url).json() == before


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_if_match_on_a_missing_task_is_still_404(client: TestClient, method: str, suffix: str, body: Any) -> None:
    url = f"/api/{new_user()}/tasks/{new_user()}"

    response = client.request(method, url + suffix, json=body, headers={"If-Match": '"1"'})

    assert response.status_code == 404


def test_without_if_match_the_last_write_wins(client: TestClient) -> None:
    url, _, _ = created(client)
    client.put(url, json={"title": "first", "is_completed": False})

    response = client.put(url, json={"title": "second", "is_completed": False})

    assert response.status_code == 200
    assert client.get(url).json()["title"] == "second"


@pytest.mark.parametrize("matching", ["{tag}", "W/{tag}", '"0", {tag}', "*"])
def test_get_with_a_matching_if_none_match_is_304(client: TestClient, matching: str) -> None:
    url, tag, _ = created(client)

    response = client.get(url, headers={"If-None-Match": matching.format(tag=tag)})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag


def test_a_conditional_header_sent_as_several_field_lines_is_one_list(client: TestClient) -> None:
    url, tag, _ = created(client)

    not_modified = client.get(url, headers=[("If-None-Match", '"0"'), ("If-None-Match", tag)])
    replaced = client.put(
        url, json={"title": "t", "is_completed": False}, headers=[("If-Match", '"77"'), ("If-Match", tag)]
    )

    assert not_modified.status_code == 304
    assert replaced.status_code == 200


def test_get_with_a_stale_if_none_match_is_200(client: TestClient) -> None:
    url, tag, _ = created(client)
    client.patch(f"{url}/complete")

    response = client.get(url, headers={"If-None-Match": tag})

    assert response.status_code == 200
    assert response.json()["is_completed"] is True
    assert response.headers["etag"] != tag


def test_updated_at_changes_on_every_write_and_never_on_reads(client: TestClient) -> None:
    url, _, user = created(client)
    stamps = [client.get(url).json()["updated_at"]]

    for _ in range(2):
        client.get(url)
        client.get(f"/api/{user}/tasks")
        client.get(url, headers={"If-None-Match": "*"})
        assert client.get(url).json()["updated_at"] == stamps[-1]
        stamps.append(client.patch(f"{url}/complete").json()["updated_at"])
        stamps.append(client.put(url, json={"title": "t", "is_completed": False}).json()["updated_at"])

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
