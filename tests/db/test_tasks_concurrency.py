"""Concurrent writes through a real uvicorn server: none is lost, on either database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support import new_user, running_app


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    from tasks_api.settings import Settings

    with running_app(Settings(database_url=database_url)) as base_url:
        yield base_url


async def _concurrently(base_url: str, requests: list[tuple[str, str, dict[str, str] | None]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        return await asyncio.gather(*(client.request(method, url, json=body) for method, url, body in requests))


def test_concurrent_toggles_are_never_lost(server: str) -> None:
    user = new_user()
    task = httpx.post(f"{server}/api/{user}/tasks", json={"title": "contended"}).json()
    toggle = ("PATCH", f"/api/{user}/tasks/{task['id']}/complete", None)

    responses = asyncio.run(_concurrently(server, [toggle] * 40))

    assert [response.status_code for response in responses] == [200] * 40
    # Each toggle saw the previous one's result: the states it returned alternate, half and half.
    states = [response.json()["is_completed"] for response in responses]
    assert states.count(True) == states.count(False) == 20
    assert httpx.get(f"{server}/api/{user}/tasks/{task['id']}").json()["is_completed"] is False


def test_concurrent_creates_all_land(server: str) -> None:
    user = new_user()
    create = ("POST", f"/api/{user}/tasks", {"title": "parallel"})

    responses = asyncio.run(_concurrently(server, [create] * 100))

    assert [response.status_code for response in responses] == [201] * 100
    listed = httpx.get(f"{server}/api/{user}/tasks").json()
    assert listed["count"] == 100
    assert {task["id"] for task in listed["items"]} == {response.json()["id"] for response in responses}
